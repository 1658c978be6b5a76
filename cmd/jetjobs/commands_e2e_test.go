package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

var deadLetterSeq atomic.Uint64

// publishDeadLetters stores a dead letter for each ID, on queue mail, with
// payload {"n":<its index>}: the dead letters of jobs that died, as a
// streamsClient connects a client to srv and creates the default
// namespace's streams.
func streamsClient(t *testing.T, srv *natstest.Server) *job.Client {
	t.Helper()
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(t.Context()); err != nil {
		t.Fatal(err)
	}
	return c
}

// worker stores them.
func publishDeadLetters(t *testing.T, srv *natstest.Server, ids ...string) {
	t.Helper()
	c := streamsClient(t, srv)
	ctx := t.Context()
	for i, id := range ids {
		// Each its own job sequence, which names the dead letter's message ID.
		seq := deadLetterSeq.Add(1)
		dl := c.Topology().DeadLetterMessage("jobs.mail.thing.do", nil, []byte(`{"n":`+strconv.Itoa(i)+`}`), id, "mail", "JOBS", seq, job.ReasonFailed, "boom", 2)
		if _, err := c.JetStream().PublishMsg(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}
}

// dlq replay goes on past IDs without a dead letter, reporting each on a
// line of its own and exiting 1; an ID with several dead letters has them
// all replayed, and dlq show says there are several.
func TestDLQReplayEveryIDAndEveryDeadLetterOfIt(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	publishDeadLetters(t, srv, "a", "twice", "b", "twice")

	show := jetjobs(t, "", "dlq", "show", "-s", url, "twice")
	if show.Code != 0 || !strings.Contains(show.Stdout, `"n": 3`) ||
		show.Stderr != "note: 2 dead letters have ID twice; this is the newest (jetjobs dlq ls --json lists them all; jetjobs dlq replay twice replays them all)\n" {
		t.Errorf("dlq show of a shared ID: exit %d, stdout %q, stderr %q; want the newest and a note", show.Code, show.Stdout, show.Stderr)
	}

	r := jetjobs(t, "", "dlq", "replay", "-s", url, "nope1", "a", "twice", "nope2", "b", "a")
	if r.Code != exitError || r.Stdout != "a\ntwice\nb\n" {
		t.Errorf("dlq replay: exit %d, stdout %q; want exit 1 and the IDs replayed", r.Code, r.Stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "jetjobs: dead letter not found") || !strings.Contains(lines[0], `"nope1"`) ||
		lines[1] != "note: 2 dead letters had ID twice; replayed all 2" ||
		!strings.HasPrefix(lines[2], "jetjobs: dead letter not found") || !strings.Contains(lines[2], `"nope2"`) {
		t.Errorf("dlq replay stderr:\n%s\nwant a line for nope1, a note on twice and a line for nope2", r.Stderr)
	}
	if q := queueFigures(t, url)["mail"]; q.Pending != 4 || q.DeadLetters != 0 {
		t.Errorf("queue mail = %+v, want the 4 dead letters back as pending jobs", q)
	}
	if r := jetjobs(t, "", "dlq", "replay", "-s", url, "a"); r.Code != exitError || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("dlq replay of a replayed ID: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// cron rm goes on past unknown names, as dlq replay does.
func TestCronRemoveEveryName(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "cron", "add", "-s", url, "one", "@every 1h", "k")
	ok(t, "cron", "add", "-s", url, "two", "@every 1h", "k")
	r := jetjobs(t, "", "cron", "rm", "-s", url, "nope", "one", "two", "nope2")
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	if r.Code != exitError || r.Stdout != "one: removed\ntwo: removed\n" || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "jetjobs: schedule not found") || !strings.Contains(lines[0], `"nope"`) ||
		!strings.HasPrefix(lines[1], "jetjobs: schedule not found") || !strings.Contains(lines[1], `"nope2"`) {
		t.Errorf("cron rm: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if got := ok(t, "cron", "ls", "-s", url, "--json"); strings.TrimSpace(got) != "[]" {
		t.Errorf("cron ls after rm: %s", got)
	}
}

// A worker logs the signal that stops it, and, without a connection, that
// it waits to flush acknowledgements.
func TestWorkerLogsWhyItStops(t *testing.T) {
	srv := natstest.Start(t)
	w := startWorker(t, srv.URL(), nil, "--shutdown-timeout", "7s", "--exec", "k=true")
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	if want := `"msg":"received SIGTERM; stopping: running jobs may finish for 7s (--shutdown-timeout)"`; !strings.Contains(w.Stderr.String(), want) {
		t.Errorf("the worker's log lacks %s:\n%s", want, w.Stderr)
	}

	w = startWorker(t, srv.URL(), nil, "--exec", "k=true")
	srv.Shutdown()
	w.WaitOutput(w.Stderr, `"msg":"disconnected from NATS; reconnecting"`)
	if err := syscall.Kill(w.Pid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	w.WaitOutput(w.Stderr, `"msg":"received SIGINT; stopping`)
	w.WaitOutput(w.Stderr, `"level":"WARN","msg":"not connected to NATS: waiting for the connection to flush the acknowledgements of finished jobs before exiting"`)
	// It then waits for the connection for a while; the test ends it.
}

// The JSON of queues has paused always, and the oldest pending job's age
// only when there is one; tables end their lines without padding; a pause
// names its time zone; dlq ls --limit says when there are more.
func TestQueuesAndDLQOutput(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	publishDeadLetters(t, srv, "d1", "d2", "d3")
	_, js := srv.Connect(t)
	topo := job.Topology{}
	if _, err := js.CreateOrUpdateConsumer(t.Context(), "JOBS", worker.ConsumerConfig(topo, "idle", 30*time.Second, 100, 0)); err != nil {
		t.Fatal(err)
	}
	ok(t, "enqueue", "-s", url, "-q", "busy", "k")

	var raw []map[string]any
	if err := json.Unmarshal([]byte(ok(t, "queues", "-s", url, "--json")), &raw); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, q := range raw {
		byName[q["queue"].(string)] = q
	}
	if q := byName["idle"]; q["paused"] != false || q["oldest_pending_seconds"] != nil || q["oldest_pending_at"] != nil {
		t.Errorf("idle queue in JSON = %v; want paused false, no oldest pending", q)
	}
	if q := byName["busy"]; q["paused"] != false || q["oldest_pending_seconds"] == nil || q["oldest_pending_at"] == nil {
		t.Errorf("busy queue in JSON = %v; want paused false and the oldest pending job's age", q)
	}

	got := ok(t, "queues", "pause", "-s", url, "idle", "--for", "30m")
	if !regexp.MustCompile(`^idle: paused until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+\n$`).MatchString(got) {
		t.Errorf("queues pause --for printed %q, want the time with its zone", got)
	}
	table := ok(t, "queues", "-s", url)
	for _, line := range strings.Split(strings.TrimSuffix(table, "\n"), "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("queues table line %q ends in spaces", line)
		}
	}
	if !regexp.MustCompile(`paused until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+`).MatchString(table) {
		t.Errorf("queues table does not show the pause's end with its zone:\n%s", table)
	}

	r := jetjobs(t, "", "dlq", "ls", "-s", url, "--limit", "2")
	if r.Code != 0 || strings.Count(r.Stdout, "\n") != 3 || r.Stderr != "note: listed the oldest 2 of the 3 dead letters; --limit 0 lists all\n" {
		t.Errorf("dlq ls --limit 2: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := jetjobs(t, "", "dlq", "ls", "-s", url, "--limit", "3"); r.Code != 0 || r.Stderr != "" {
		t.Errorf("dlq ls --limit 3 of 3: exit %d, stderr %q; want no note", r.Code, r.Stderr)
	}
	if got := ok(t, "dlq", "replay", "-s", url, "--all", "--queue", "nobody"); got != "replayed 0 dead letters\n" {
		t.Errorf("replay of none printed %q", got)
	}
	ok(t, "dlq", "purge", "-s", url, "--force")
	publishDeadLetters(t, srv, "one")
	if got := ok(t, "dlq", "replay", "-s", url, "--all"); got != "replayed 1 dead letter\n" {
		t.Errorf("replay of one printed %q", got)
	}
}

// bench's help says what it connects to without -s.
func TestBenchHelpSaysItStartsAServer(t *testing.T) {
	help := ok(t, "bench", "--help")
	for _, want := range []string{"default: an embedded server in this process; NATS_URL is not read", "KV_JETJOBS_BENCH_CANCELED"} {
		if !strings.Contains(help, want) {
			t.Errorf("bench --help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "(env NATS_URL)") || strings.Contains(help, `(default "nats://`) {
		t.Errorf("bench --help claims a default server or NATS_URL:\n%s", help)
	}
}

// A signal while the server starts ends it: startServer returns at once
// with the context's error and shuts the server down.
func TestStartServerEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true}
	start := time.Now()
	srv, err := startServer(ctx, opts, slog.New(slog.DiscardHandler))
	if srv != nil || err != context.Canceled {
		t.Fatalf("startServer with an ended context = %v, %v; want context.Canceled", srv, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("startServer took %s to give up", took)
	}
}
