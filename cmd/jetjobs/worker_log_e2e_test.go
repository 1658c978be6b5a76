package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

// At the default log level the worker logs one line per job that
// succeeded; --log-success=false leaves them to debug.
func TestWorkerLogsEachFinishedJob(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	w := proctest.Start(t, binary, nil, "worker", "-s", url, "--log-format", "json", "--exec", "k=true")
	w.WaitOutput(w.Stderr, `"msg":"worker pool started"`)
	ok(t, "enqueue", "-s", url, "--id", "ok-1", "k")
	w.WaitOutput(w.Stderr, `"level":"INFO","msg":"job done","job_id":"ok-1","queue":"default","kind":"k","attempt":1,"duration":\d+`)
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("worker exit code %d", code)
	}
	if n := strings.Count(w.Stderr.String(), `"job_id":"ok-1"`); n != 1 {
		t.Errorf("%d lines name job ok-1, want 1:\n%s", n, w.Stderr)
	}

	quiet := proctest.Start(t, binary, nil, "worker", "-s", url, "--log-format", "json", "--log-success=false", "--exec", "k=true")
	quiet.WaitOutput(quiet.Stderr, `"msg":"worker pool started"`)
	ok(t, "enqueue", "-s", url, "--id", "ok-2", "k")
	eventually(t, func() bool { q := queueFigures(t, url)["default"]; return q.Pending == 0 && q.Running == 0 }, "ok-2 to be acknowledged")
	if code := quiet.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("worker exit code %d", code)
	}
	if strings.Contains(quiet.Stderr.String(), "ok-2") {
		t.Errorf("with --log-success=false a success was logged at info:\n%s", quiet.Stderr)
	}
}

// --dead-letter-max-age sets how long dead letters are kept, on a new
// stream and on an existing one.
func TestDeadLetterMaxAge(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	_, js := srv.Connect(t)
	maxAge := func() time.Duration {
		t.Helper()
		s, err := js.Stream(t.Context(), "JOBS_DLQ")
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.MaxAge
	}
	w := startWorker(t, url, nil, "--dead-letter-max-age", "48h", "--exec", "k=true")
	if got := maxAge(); got != 48*time.Hour {
		t.Errorf("dead letters kept for %s, want 48h", got)
	}
	w.Stop(syscall.SIGTERM)
	// A worker without the flag leaves it alone; with it, changes it.
	w = startWorker(t, url, nil, "--exec", "k=true")
	w.Stop(syscall.SIGTERM)
	if got := maxAge(); got != 48*time.Hour {
		t.Errorf("a worker without the flag changed it to %s", got)
	}
	startWorker(t, url, nil, "--dead-letter-max-age", "2160h", "--exec", "k=true")
	if got := maxAge(); got != 90*24*time.Hour {
		t.Errorf("dead letters kept for %s, want 90 days", got)
	}
	r := jetjobs(t, "", "worker", "-s", url, "--dead-letter-max-age", "1m", "--exec", "k=true")
	if r.Code != exitUsage || !strings.Contains(r.Stderr, "--dead-letter-max-age 1m0s: use at least 2m") {
		t.Errorf("--dead-letter-max-age 1m: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// jetjobs server creates the streams with --dead-letter-max-age too.
func TestServerDeadLetterMaxAge(t *testing.T) {
	url, _ := startServerProc(t, "--dead-letter-max-age", "72h")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "JOBS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != 72*time.Hour {
		t.Errorf("dead letters kept for %s, want 72h", got)
	}
}
