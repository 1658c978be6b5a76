package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/job"
)

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	natstest.Eventually(t, 30*time.Second, cond, msg, args...)
}

func deadLetters(t *testing.T, url string) []deadLetterJSON {
	t.Helper()
	var dls []deadLetterJSON
	if err := json.Unmarshal([]byte(ok(t, "dlq", "ls", "-s", url, "--json")), &dls); err != nil {
		t.Fatal(err)
	}
	return dls
}

func queueFigures(t *testing.T, url string) map[string]queueJSON {
	t.Helper()
	var qs []queueJSON
	if err := json.Unmarshal([]byte(ok(t, "queues", "-s", url, "--json")), &qs); err != nil {
		t.Fatal(err)
	}
	out := map[string]queueJSON{}
	for _, q := range qs {
		out[q.Queue] = q
	}
	return out
}

// The main flow, all through the binary: server, exec worker, enqueue; a
// job runs with its payload and environment, a failing one is retried and
// dead-lettered with its stderr as the error, and replay runs it again.
func TestServerWorkerEnqueueRetryDeadLetterReplay(t *testing.T) {
	url, _ := startServerProc(t, "--sync-always")
	out := t.TempDir()
	w := startWorker(t, url, []string{"OUT=" + out},
		"--retry-initial", "100ms", "--max-attempts", "2",
		"--exec", `greet=cat > "$OUT/$JETJOBS_ID.json"; echo "$JETJOBS_KIND $JETJOBS_QUEUE $JETJOBS_ATTEMPT" > "$OUT/$JETJOBS_ID.env"`,
		"--exec", `flaky=echo "$JETJOBS_ATTEMPT" >> "$OUT/flaky.log"; [ -e "$OUT/fixed" ] || { echo "noise"; echo "flaky: the fix is missing" >&2; exit 3; }`,
	)

	if id := strings.TrimSpace(ok(t, "enqueue", "-s", url, "--id", "greet-1", "greet", `{"name":"Ada"}`)); id != "greet-1" {
		t.Fatalf("enqueue printed %q, want the job ID greet-1", id)
	}
	ok(t, "enqueue", "-s", url, "--id", "flaky-1", "flaky")

	eventually(t, func() bool { return readFile(filepath.Join(out, "greet-1.env")) != "" }, "greet-1 to run")
	if got := readFile(filepath.Join(out, "greet-1.json")); got != `{"name":"Ada"}` {
		t.Errorf("the command's stdin = %q, want the payload", got)
	}
	if got := strings.TrimSpace(readFile(filepath.Join(out, "greet-1.env"))); got != "greet default 1" {
		t.Errorf("JETJOBS_KIND QUEUE ATTEMPT = %q, want %q", got, "greet default 1")
	}

	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, url); return len(dls) == 1 }, "flaky-1 to be dead-lettered")
	dl := dls[0]
	if dl.ID != "flaky-1" || dl.Reason != "failed" || dl.Attempts != 2 || dl.Kind != "flaky" || dl.Queue != "default" {
		t.Errorf("dead letter = %+v, want flaky-1 failed after 2 attempts", dl)
	}
	if !strings.Contains(dl.Error, "exit status 3") || !strings.Contains(dl.Error, "flaky: the fix is missing") || strings.Contains(dl.Error, "noise") {
		t.Errorf("dead letter error = %q, want the exit status and the stderr tail (not stdout)", dl.Error)
	}
	if got := readFile(filepath.Join(out, "flaky.log")); got != "1\n2\n" {
		t.Errorf("flaky attempts = %q, want 1 and 2", got)
	}
	q := queueFigures(t, url)["default"]
	if !q.Bound || q.Pending != 0 || q.Running != 0 || q.DeadLetters != 1 {
		t.Errorf("queue default = %+v, want bound, nothing pending or running, 1 dead letter", q)
	}
	if !strings.Contains(w.Stdout.String(), "noise") {
		t.Errorf("the command's stdout did not reach the worker's stdout: %q", w.Stdout)
	}

	// Fix the cause and replay: the job runs again and succeeds.
	if err := os.WriteFile(filepath.Join(out, "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(ok(t, "dlq", "replay", "-s", url, "flaky-1")); got != "flaky-1" {
		t.Errorf("dlq replay printed %q, want flaky-1", got)
	}
	eventually(t, func() bool { return readFile(filepath.Join(out, "flaky.log")) == "1\n2\n1\n" }, "the replayed job to run")
	eventually(t, func() bool { return len(deadLetters(t, url)) == 0 }, "the dead letter to be gone")
	eventually(t, func() bool { q := queueFigures(t, url)["default"]; return q.Running == 0 && q.Pending == 0 }, "the replay to be acknowledged")

	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code after SIGTERM = %d, want 0", code)
	}
}

// SIGTERM while a command runs: the worker stops taking jobs, lets the
// command finish, acknowledges the job and exits 0.
func TestWorkerSIGTERMLetsRunningCommandFinish(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	w := startWorker(t, srv.URL(), []string{"OUT=" + out}, "--shutdown-timeout", "20s",
		"--exec", `slow=touch "$OUT/started"; sleep 1; touch "$OUT/finished"`)
	ok(t, "enqueue", "-s", srv.URL(), "slow")
	eventually(t, func() bool { _, err := os.Stat(filepath.Join(out, "started")); return err == nil }, "the command to start")
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("worker exit code = %d, want 0", code)
	}
	if _, err := os.Stat(filepath.Join(out, "finished")); err != nil {
		t.Fatalf("the running command did not finish before the worker exited: %v", err)
	}
	q := queueFigures(t, srv.URL())["default"]
	if q.Pending != 0 || q.Running != 0 || q.DeadLetters != 0 {
		t.Errorf("queue default = %+v, want the job acknowledged", q)
	}
}

// A command past its timeout is killed with its whole process group, and
// the attempt fails.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	startWorker(t, srv.URL(), []string{"OUT=" + out}, "--timeout", "500ms", "--max-attempts", "1",
		"--exec", `hang=sleep 60 & echo $! > "$OUT/child"; wait`)
	ok(t, "enqueue", "-s", srv.URL(), "--id", "hang-1", "hang")
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 1 }, "the hung job to be dead-lettered")
	if !strings.Contains(dls[0].Error, "killed") || !strings.Contains(dls[0].Error, "time limit") {
		t.Errorf("error = %q, want it to say the command was killed at its time limit", dls[0].Error)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(out, "child"))))
	if err != nil {
		t.Fatalf("child pid: %v", err)
	}
	eventually(t, func() bool { return !alive(pid) }, "the command's background child %d to be killed", pid)
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat := readFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if i := strings.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 {
		return stat[i+2] != 'Z'
	}
	return true
}

func TestBadInputIsOneLineAndNonZeroExit(t *testing.T) {
	unreachable := unusedURL(t)
	notCreds := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(notCreds, []byte("user = ada\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"unknown subcommand", []string{"dlq", "frobnicate"}, exitUsage, `unknown command "frobnicate" for "jetjobs dlq"`},
		{"typo of a command", []string{"queus"}, exitUsage, `unknown command "queus" for "jetjobs" (did you mean "queues"?)`},
		{"typo of a subcommand", []string{"dlq", "lss"}, exitUsage, `(did you mean "ls"?)`},
		// Values the connection, namespace and command flags cannot take
		// are usage errors that name the flag, before connecting.
		{"negative --connect-timeout", []string{"queues", "-s", unreachable, "--connect-timeout", "-1s"}, exitUsage, "--connect-timeout -1s: use a positive duration"},
		{"--creds not a creds file", []string{"queues", "-s", unreachable, "--creds", notCreds}, exitUsage, "--creds " + notCreds + ": not a NATS credentials file"},
		{"--inbox-prefix with a space", []string{"queues", "-s", unreachable, "--inbox-prefix", "a b"}, exitUsage, `--inbox-prefix "a b"`},
		{"empty -s", []string{"queues", "-s", ""}, exitUsage, "-s/--server is empty"},
		{"unknown URL scheme", []string{"queues", "-s", "bogus://x"}, exitUsage, `the URL scheme "bogus" is not supported; use nats://, tls://, ws:// or wss://`},
		{"--stream with a space", []string{"queues", "-s", unreachable, "--stream", "A B"}, exitUsage, `--stream "A B"`},
		{"--prefix with a space", []string{"queues", "-s", unreachable, "--prefix", "a b"}, exitUsage, `--prefix "a b"`},
		{"--metrics-listen port out of range", []string{"worker", "-s", unreachable, "--exec", "a=true", "--metrics-listen", "127.0.0.1:99999"}, exitUsage, `--metrics-listen "127.0.0.1:99999": the port must be a number from 0 to 65535`},
		{"worker --max-attempts 0", []string{"worker", "-s", unreachable, "--exec", "a=true", "--max-attempts", "0"}, exitUsage, "--max-attempts 0: use at least 1"},
		{"worker --max-attempts -2", []string{"worker", "-s", unreachable, "--exec", "a=true", "--max-attempts", "-2"}, exitUsage, "--max-attempts -2: use at least 1"},
		{"worker --ack-wait 0", []string{"worker", "-s", unreachable, "--exec", "a=true", "--ack-wait", "0"}, exitUsage, "--ack-wait 0s: use at least 1s"},
		{"worker --retry-initial over --retry-max", []string{"worker", "-s", unreachable, "--exec", "a=true", "--retry-initial", "2h", "--retry-max", "1h"}, exitUsage, "--retry-initial 2h0m0s exceeds --retry-max 1h0m0s"},
		{"worker --retry-initial negative", []string{"worker", "-s", unreachable, "--exec", "a=true", "--retry-initial", "-1s"}, exitUsage, "--retry-initial -1s"},
		{"worker --timeout negative", []string{"worker", "-s", unreachable, "--exec", "a=true", "--timeout", "-1s"}, exitUsage, "--timeout -1s"},
		{"worker --shutdown-timeout negative", []string{"worker", "-s", unreachable, "--exec", "a=true", "--shutdown-timeout", "-1s"}, exitUsage, "--shutdown-timeout -1s"},
		{"worker -q ''", []string{"worker", "-s", unreachable, "--exec", "a=true", "-q", ""}, exitUsage, "--queue is empty"},
		{"worker -q with an empty name", []string{"worker", "-s", unreachable, "--exec", "a=true", "-q", "a,,b"}, exitUsage, `--queue "": invalid name`},
		{"enqueue --replicas 0", []string{"enqueue", "-s", unreachable, "--replicas", "0", "k"}, exitUsage, "--replicas 0: use 1 to 5"},
		{"server --replicas 0", []string{"server", "--replicas", "0", "--listen", "127.0.0.1:0", "--store", t.TempDir()}, exitUsage, "--replicas 0: use 1 to 5"},
		{"server --replicas 6", []string{"server", "--replicas", "6", "--listen", "127.0.0.1:0", "--store", t.TempDir()}, exitUsage, "--replicas 6: use 1 to 5"},
		{"enqueue --max-attempts -1", []string{"enqueue", "-s", unreachable, "--max-attempts", "-1", "k"}, exitUsage, "--max-attempts -1: use at least 1"},
		{"enqueue --timeout -1s", []string{"enqueue", "-s", unreachable, "--timeout", "-1s", "k"}, exitUsage, "--timeout -1s: use a positive duration"},
		{"enqueue --in -1s", []string{"enqueue", "-s", unreachable, "--in", "-1s", "k"}, exitUsage, "--in -1s: use a duration of 0 or more"},
		{"enqueue --count 0", []string{"enqueue", "-s", unreachable, "--count", "0", "k"}, exitUsage, "--count 0: use at least 1"},
		{"cron add --max-attempts 0", []string{"cron", "add", "-s", unreachable, "--max-attempts", "0", "x", "@daily", "k"}, exitUsage, "--max-attempts 0: use at least 1"},
		{"dlq ls --limit -1", []string{"dlq", "ls", "-s", unreachable, "--limit", "-1"}, exitUsage, "--limit -1: use 0 (all) or more"},
		{"cron rm of an invalid name", []string{"cron", "rm", "-s", unreachable, "ok", "a b"}, exitUsage, `cron rm "a b": not a schedule name`},
		{"bench -n -1", []string{"bench", "-n", "-1"}, exitUsage, "-n/--jobs -1: use at least 1"},
		{"bench -n 0", []string{"bench", "-n", "0"}, exitUsage, "-n/--jobs 0: use at least 1"},
		{"bench --payload-bytes -5", []string{"bench", "--payload-bytes", "-5"}, exitUsage, "--payload-bytes -5: use at least"},
		{"bench --rate -1", []string{"bench", "--rate", "-1"}, exitUsage, "--rate -1: use at least 1"},
		{"bench --concurrency 0", []string{"bench", "--concurrency", "0"}, exitUsage, "-c/--concurrency 0: use at least 1"},
		{"bench --queues 0", []string{"bench", "--queues", "0"}, exitUsage, "--queues 0: use at least 1"},
		{"unknown flag", []string{"queues", "--frobnicate"}, exitUsage, "unknown flag: --frobnicate"},
		{"malformed JSON", []string{"enqueue", "-s", unreachable, "email.send", `{"to":`}, exitUsage, "not valid JSON"},
		{"invalid kind", []string{"enqueue", "-s", unreachable, "email..send", "{}"}, exitUsage, "invalid name"},
		{"invalid queue", []string{"enqueue", "-s", unreachable, "--queue", "_sys", "email.send"}, exitUsage, "reserved"},
		{"missing kind", []string{"enqueue"}, exitUsage, "needs 1 argument"},
		// Waits for the server are logged; --log-level error leaves the
		// error line alone.
		{"unreachable server", []string{"enqueue", "-s", unreachable, "--connect-timeout", "200ms", "--log-level", "error", "email.send", "{}"}, exitError, "cannot connect to NATS at " + unreachable},
		{"unreachable server, queues", []string{"queues", "-s", unreachable, "--connect-timeout", "200ms", "--log-level", "error"}, exitError, "cannot connect"},
		{"worker without handlers", []string{"worker", "-s", unreachable}, exitUsage, "--exec KIND=COMMAND"},
		{"worker bad exec", []string{"worker", "-s", unreachable, "--exec", "nocommand"}, exitUsage, "KIND=COMMAND"},
		{"worker bad http", []string{"worker", "-s", unreachable, "--http", "hook=ftp://x"}, exitUsage, "http://"},
		{"server bad listen", []string{"server", "--listen", "nonsense"}, exitUsage, "host:port"},
		{"replay nothing", []string{"dlq", "replay", "-s", unreachable}, exitUsage, "--all"},
		{"bad log level", []string{"queues", "--log-level", "loud"}, exitUsage, "--log-level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := jetjobs(t, "", c.args...)
			if r.Code != c.code {
				t.Errorf("exit code = %d, want %d", r.Code, c.code)
			}
			lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "jetjobs: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr = %q, want one line starting with \"jetjobs: \" containing %q", r.Stderr, c.want)
			}
			// The Go API's names mean nothing on the command line.
			for _, api := range []string{"Config.", "Topology.", "retry.Exponential", "MaxAttempts(", "Timeout(", "In(", "invalid option"} {
				if strings.Contains(r.Stderr, api) {
					t.Errorf("stderr = %q names the Go API (%s), not the flag", r.Stderr, api)
				}
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
		})
	}
}

func TestEnqueueOptionsCountAndStdin(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	// The streams do not exist yet: enqueue creates them.
	r := jetjobs(t, `{"to":"ada@example.com"}`, "enqueue", "-s", url, "--queue", "mail", "--id", "mail-1",
		"--max-attempts", "3", "--timeout", "5s", "-H", "Tenant=acme", "email.send", "-")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "mail-1" {
		t.Fatalf("enqueue from stdin: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	_, js := srv.Connect(t)
	stream, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetLastMsgForSubject(context.Background(), "jobs.mail.email.send")
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"to":"ada@example.com"}` || m.Header.Get(job.HeaderID) != "mail-1" ||
		m.Header.Get(job.HeaderMaxAttempts) != "3" || m.Header.Get(job.HeaderTimeout) != "5s" || m.Header.Get("Tenant") != "acme" {
		t.Errorf("stored job: data %q, headers %v", m.Data, m.Header)
	}

	ids := strings.Fields(ok(t, "enqueue", "-s", url, "--count", "250", "--batch", "100", "load.test", "{}"))
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(ids) != 250 || len(seen) != 250 {
		t.Errorf("enqueue --count 250 printed %d IDs (%d distinct), want 250", len(ids), len(seen))
	}
	qs := queueFigures(t, url)
	if q := qs["default"]; q.Pending != 250 || q.Bound || q.OldestPendingAt == nil {
		t.Errorf("queue default = %+v, want 250 pending, unbound, with an oldest pending time", q)
	}
	if q := qs["mail"]; q.Pending != 1 {
		t.Errorf("queue mail = %+v, want 1 pending", q)
	}
	text := ok(t, "queues", "-s", url)
	if !strings.Contains(text, "QUEUE") || !strings.Contains(text, "no worker has served it yet") {
		t.Errorf("queues table:\n%s", text)
	}
}

func TestDeadLetterCommands(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	c := streamsClient(t, srv)
	ctx := context.Background()
	topo := c.Topology()
	for i, q := range []string{"mail", "mail", "reports"} {
		id := q + "-" + strconv.Itoa(i)
		dl := topo.DeadLetterMessage("jobs."+q+".thing.do", nil, []byte(`{"n":`+strconv.Itoa(i)+`}`), id, q, "JOBS", uint64(i+1), job.ReasonFailed, "boom "+id, 2)
		if _, err := c.JetStream().PublishMsg(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}

	table := ok(t, "dlq", "ls", "-s", url)
	for _, want := range []string{"REASON", "mail-0", "mail-1", "reports-2", "boom reports-2"} {
		if !strings.Contains(table, want) {
			t.Errorf("dlq ls lacks %q:\n%s", want, table)
		}
	}
	if got := deadLetters(t, url); len(got) != 3 || compact(got[0].Payload) != `{"n":0}` || got[2].Error != "boom reports-2" {
		t.Errorf("dlq ls --json = %+v", got)
	}
	if got := ok(t, "dlq", "ls", "-s", url, "--queue", "mail", "--limit", "1"); strings.Count(got, "\n") != 2 || !strings.Contains(got, "mail-0") {
		t.Errorf("dlq ls --queue mail --limit 1:\n%s", got)
	}
	show := ok(t, "dlq", "show", "-s", url, "reports-2")
	for _, want := range []string{"reports-2", "boom reports-2", `"n": 2`, "Jetjobs-Reason: failed"} {
		if !strings.Contains(show, want) {
			t.Errorf("dlq show lacks %q:\n%s", want, show)
		}
	}
	if r := jetjobs(t, "", "dlq", "show", "-s", url, "nope"); r.Code != exitError || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("dlq show of an unknown ID: exit %d, stderr %q", r.Code, r.Stderr)
	}

	// Purge asks first: no answer or "n" purges nothing.
	for _, answer := range []string{"", "n\n"} {
		r := jetjobs(t, answer, "dlq", "purge", "-s", url, "--queue", "reports")
		if r.Code != exitError || !strings.Contains(r.Stderr, "Delete the 1 dead letter of queue reports") || !strings.Contains(r.Stderr, "nothing purged") {
			t.Errorf("purge answered %q: exit %d, stderr %q", answer, r.Code, r.Stderr)
		}
	}
	if r := jetjobs(t, "y\n", "dlq", "purge", "-s", url, "--queue", "reports"); r.Code != 0 || !strings.Contains(r.Stdout, "purged 1 ") {
		t.Errorf("purge answered y: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	if got := ok(t, "dlq", "replay", "-s", url, "--all", "--queue", "mail"); !strings.Contains(got, "replayed 2 dead letters") {
		t.Errorf("dlq replay --all: %q", got)
	}
	if q := queueFigures(t, url)["mail"]; q.Pending != 2 || q.DeadLetters != 0 {
		t.Errorf("after replay, queue mail = %+v, want 2 pending and no dead letters", q)
	}
	if got := ok(t, "dlq", "purge", "-s", url, "--force"); !strings.Contains(got, "purged 0") {
		t.Errorf("purge --force of nothing: %q", got)
	}
}

func TestHTTPWorker(t *testing.T) {
	srv := natstest.Start(t)
	type call struct {
		body    string
		id      string
		attempt string
	}
	calls := make(chan call, 10)
	hook := newHookServer(t, func(body, id, attempt string) int {
		calls <- call{body, id, attempt}
		if attempt == "1" {
			return 503
		}
		return 204
	})
	startWorker(t, srv.URL(), nil, "--retry-initial", "100ms", "--http", "hook.call="+hook)
	ok(t, "enqueue", "-s", srv.URL(), "--id", "h-1", "hook.call", `{"x":1}`)
	for _, wantAttempt := range []string{"1", "2"} {
		select {
		case c := <-calls:
			if c.body != `{"x":1}` || c.id != "h-1" || c.attempt != wantAttempt {
				t.Errorf("call = %+v, want body, ID h-1 and attempt %s", c, wantAttempt)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("attempt %s never came", wantAttempt)
		}
	}
	eventually(t, func() bool { q := queueFigures(t, srv.URL())["default"]; return q.Running == 0 && q.Pending == 0 }, "the job to be acknowledged")
}

func TestDemo(t *testing.T) {
	out := ok(t, "demo")
	for _, want := range []string{"attempt 1 failed (database busy); retrying", "attempt 2 succeeded", "dead-lettered, reason failed", "dead-lettered, reason decode", "resize-cat"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// Past --shutdown-timeout the worker kills running commands (their whole
// process group), hands their jobs back for redelivery and exits 1.
func TestWorkerShutdownTimeoutKillsAndHandsBack(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	w := startWorker(t, srv.URL(), []string{"OUT=" + out}, "--shutdown-timeout", "300ms",
		"--exec", `stuck=sleep 60 & echo $! > "$OUT/child"; wait`)
	ok(t, "enqueue", "-s", srv.URL(), "stuck")
	eventually(t, func() bool { return strings.TrimSpace(readFile(filepath.Join(out, "child"))) != "" }, "the command to start")
	if code := w.Stop(syscall.SIGTERM); code != exitError {
		t.Errorf("worker exit code = %d, want %d", code, exitError)
	}
	if !strings.Contains(w.Stderr.String(), "did not finish within --shutdown-timeout") {
		t.Errorf("the worker's last line does not say why it exited 1:\n%s", w.Stderr)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(out, "child"))))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return !alive(pid) }, "the command's child %d to be killed", pid)
	q := queueFigures(t, srv.URL())["default"]
	if q.Pending+uint64(q.Running) != 1 || q.DeadLetters != 0 {
		t.Errorf("queue default = %+v, want the job back in the queue, not dead", q)
	}
}

// --config takes a nats-server configuration (here: a free port and a
// token), and the connection flags authenticate against it.
func TestServerConfigFileAndToken(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nauthorization { token: s3cret }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, binary, nil, "server", "--config", conf, "--store", t.TempDir())
	url := p.WaitOutput(p.Stdout, `listening on (nats://\S+)`)[1]
	if r := jetjobs(t, "", "queues", "-s", url); r.Code != exitError || !strings.Contains(r.Stderr, "uthorization") {
		t.Errorf("without the token: exit %d, stderr %q; want an authorization error", r.Code, r.Stderr)
	}
	ok(t, "enqueue", "-s", url, "--token", "s3cret", "x")
	if got := ok(t, "queues", "-s", url, "--token", "s3cret", "--json"); !strings.Contains(got, `"pending": 1`) {
		t.Errorf("queues with the token: %s", got)
	}
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("server exit code = %d, want 0", code)
	}
}

// Job IDs are shared by every queue of a namespace: enqueueing an ID that
// another queue's job holds stores nothing, and the CLI says so with a
// failing exit instead of printing the ID; --allow-duplicate makes an
// intended re-enqueue exit 0.
func TestEnqueueOfATakenIDFails(t *testing.T) {
	url := natstest.Start(t).URL()
	ok(t, "enqueue", "-s", url, "--queue", "mail", "--id", "order-43", "email.send", "{}")
	r := jetjobs(t, "", "enqueue", "-s", url, "--queue", "billing", "--id", "order-43", "invoice.send", "{}")
	if r.Code != 1 || strings.TrimSpace(r.Stdout) != "" || !strings.Contains(r.Stderr, "order-43") || !strings.Contains(r.Stderr, "--allow-duplicate") {
		t.Fatalf("enqueue of a taken ID: exit %d, stdout %q, stderr %q; want exit 1, no ID printed, and the error naming --allow-duplicate", r.Code, r.Stdout, r.Stderr)
	}
	if out := ok(t, "enqueue", "-s", url, "--queue", "mail", "--id", "order-43", "--allow-duplicate", "email.send", "{}"); strings.TrimSpace(out) != "order-43" {
		t.Fatalf("enqueue --allow-duplicate printed %q", out)
	}
}

// `queues` counts the jobs of kinds no live worker of their queue serves:
// a worker of queue mail that serves email.send leaves the misspelt
// emial.send jobs waiting, and UNSERVED says so, with the kind.
func TestQueuesCountsUnservedKinds(t *testing.T) {
	url := natstest.Start(t).URL()
	ok(t, "enqueue", "-s", url, "--queue", "mail", "emial.send", "{}")
	ok(t, "enqueue", "-s", url, "--queue", "mail", "emial.send", "{}")
	w := proctest.Start(t, binary, nil, "worker", "-s", url, "--log-format", "json", "--queue", "mail", "--exec", "email.send=true")
	w.WaitOutput(w.Stderr, `"msg":"worker pool started"`)
	var q queueJSON
	eventually(t, func() bool {
		q = queueFigures(t, url)["mail"]
		return q.Unserved != nil && *q.Unserved == 2
	}, "queues counts the 2 emial.send jobs as unserved (got %+v)", q)
	if len(q.UnservedKinds) != 1 || q.UnservedKinds[0] != "emial.send" {
		t.Errorf("unserved kinds = %v, want [emial.send]", q.UnservedKinds)
	}
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d", code)
	}
}
