#!/usr/bin/env bash
# scale.sh measures how throughput and CPU per job grow with worker
# processes and servers (issue 15): 1, 2 and 4 worker processes against
# one server process, then 1 to 3 against a three-node cluster on loopback
# with R3 streams; each time jetjobs beside raw nats.go doing the same
# (`jetjobs bench drain concurrent --raw --procs P`). The client's CPU per
# job is summed over the producer and the worker processes; the server's
# is read from its processes (--server-pid).
#
# Usage, from the repository root:
#
#	internal/bench/scale.sh [OUT.jsonl]
#
# Environment: N jobs per run (100000), RUNS alternating runs per side
# (3), PROCS (1 2 4) and CLUSTER_PROCS (1 2 3; empty skips that part),
# PORT the first of the loopback ports it listens on (14400; it uses PORT
# to PORT+10). It prints a table and appends each scenario's JSON line,
# with "servers" added, to OUT.jsonl (default scale.jsonl).
set -euo pipefail

N=${N:-100000}
RUNS=${RUNS:-3}
PROCS=${PROCS-1 2 4}
CLUSTER_PROCS=${CLUSTER_PROCS-1 2 3}
PORT=${PORT:-14400}
OUT=${1:-scale.jsonl}

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/jetjobs" ./cmd/jetjobs
go build -o "$dir/nats-server" github.com/nats-io/nats-server/v2

# healthy waits up to 60s until the server with monitoring port $1 reports
# JetStream healthy (a cluster: its meta leader elected).
healthy() {
	for _ in $(seq 600); do
		if curl -fs "http://127.0.0.1:$1/healthz" >/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "server with monitoring port $1 did not become healthy" >&2
	return 1
}

# measure SERVERS URL PIDS PROCS [bench flags...]
measure() {
	local servers=$1 url=$2 spids=$3 procs=$4
	shift 4
	"$dir/jetjobs" bench drain concurrent --raw --json --runs "$RUNS" -n "$N" --procs "$procs" \
		-s "$url" --server-pid "$spids" "$@" |
		jq -c --arg s "$servers" '. + {servers: $s}' | tee -a "$OUT" |
		jq -r '[.servers, .procs, .scenario, (.jobs_per_sec|round), (.raw_jobs_per_sec|round), .ratio,
			.cpu_us_per_job, .raw_cpu_us_per_job, .server_cpu_us_per_job, .raw_server_cpu_us_per_job] | @tsv'
}

# nats-server configuration of cluster node $1 (1..3).
node_conf() {
	local i=$1 base=$((PORT + 1 + 3 * ($1 - 1)))
	cat <<CONF
server_name: n$i
listen: 127.0.0.1:$base
http: 127.0.0.1:$((base + 1))
jetstream { store_dir: "$dir/n$i" }
cluster {
  name: jetjobs-scale
  listen: 127.0.0.1:$((base + 2))
  routes: [nats-route://127.0.0.1:$((PORT + 3)), nats-route://127.0.0.1:$((PORT + 6)), nats-route://127.0.0.1:$((PORT + 9))]
}
CONF
}

printf 'servers\tprocs\tscenario\tjobs/s\traw jobs/s\tratio\tcpu µs/job\traw\tserver µs/job\traw\n'

# One server process, file storage, R1.
echo "listen: 127.0.0.1:$PORT
http: 127.0.0.1:$((PORT + 10))
jetstream { store_dir: \"$dir/single\" }" >"$dir/single.conf"
"$dir/nats-server" -c "$dir/single.conf" >"$dir/single.log" 2>&1 &
single=$!
pids+=("$single")
healthy $((PORT + 10))
for p in $PROCS; do
	measure 1 "nats://127.0.0.1:$PORT" "$single" "$p"
done
kill "$single"
wait "$single" || true

# Three servers in one cluster, R3 streams.
urls=()
spids=()
for i in 1 2 3; do
	node_conf "$i" >"$dir/n$i.conf"
	"$dir/nats-server" -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 &
	pids+=("$!")
	spids+=("$!")
	urls+=("nats://127.0.0.1:$((PORT + 1 + 3 * (i - 1)))")
done
for i in 1 2 3; do healthy $((PORT + 2 + 3 * (i - 1))); done
url=$(IFS=,; echo "${urls[*]}")
spid=$(IFS=,; echo "${spids[*]}")
for p in $CLUSTER_PROCS; do
	measure 3 "$url" "$spid" "$p" --replicas 3
done
