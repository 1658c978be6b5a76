#!/usr/bin/env bash
# Enqueue jetjobs jobs from a shell, two ways:
#
#   1. with the jetjobs CLI (validation, an ID, the server's acknowledgement);
#   2. with a raw publish: a job is just a JetStream message on
#      jobs.<queue>.<kind> with JSON arguments (wire protocol v1). With the
#      nats CLI that is `nats pub jobs.default.email.send '{"to":"a@b.c"}'`;
#      to need no tool at all, this script speaks the NATS text protocol
#      over bash's /dev/tcp.
#
#   NATS_URL=nats://127.0.0.1:4222 ./enqueue.sh
#
# Run, it enqueues two sample jobs; sourced, it defines enqueue_cli and
# enqueue_raw for your own scripts. JETJOBS names the jetjobs binary
# (default: jetjobs on PATH).

NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
JETJOBS=${JETJOBS:-jetjobs}

# enqueue_cli KIND JSON ID: enqueue with the jetjobs CLI; prints the ID.
enqueue_cli() {
  "$JETJOBS" enqueue -s "$NATS_URL" --id "$3" --max-attempts 3 "$1" "$2"
}

# enqueue_raw QUEUE KIND JSON ID: publish the job with the NATS protocol and
# wait for JetStream's acknowledgement; prints the ID. Headers: Jetjobs-Id
# (what workers see) and Nats-Msg-Id (deduplication), both the job ID.
enqueue_raw() {
  local LC_ALL=C # ${#var} counts bytes, as the protocol does
  local subject="jobs.$1.$2" payload=$3 id=$4
  local hostport=${NATS_URL#nats://}
  hostport=${hostport%%,*}
  exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
  local hdr=$'NATS/1.0\r\nJetjobs-Id: '"$id"$'\r\nNats-Msg-Id: '"$id"$'\r\n\r\n'
  local inbox="_INBOX.enqueue_sh.$$"
  printf 'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"name":"enqueue.sh"}\r\n' >&3
  printf 'SUB %s 1\r\nHPUB %s %s %d %d\r\n%s%s\r\n' "$inbox" "$subject" "$inbox" "${#hdr}" $((${#hdr} + ${#payload})) "$hdr" "$payload" >&3
  local line ack=""
  while IFS= read -r -t 10 line <&3; do
    line=${line%$'\r'}
    case $line in
      PING) printf 'PONG\r\n' >&3 ;;
      -ERR*) echo "enqueue.sh: server refused the publish: $line" >&2; break ;;
      HMSG*) echo "enqueue.sh: no stream takes $subject: start \`jetjobs server\` or a worker first" >&2; break ;;
      MSG*) IFS= read -r -t 10 ack <&3; break ;;
    esac
  done
  exec 3<&-
  case $ack in
    *'"error"'*) echo "enqueue.sh: JetStream refused the job: $ack" >&2; return 1 ;;
    *'"seq"'*) echo "$id" ;;
    *) [ -n "$ack" ] || echo "enqueue.sh: no acknowledgement for $subject" >&2; return 1 ;;
  esac
}

main() {
  set -euo pipefail
  local id
  id=$(enqueue_cli email.send '{"to":"ada@example.com"}' shell-cli-1)
  echo "jetjobs enqueue: $id"
  id=$(enqueue_raw default email.send '{"to":"alan@example.com"}' shell-raw-1)
  echo "raw publish:     $id"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
