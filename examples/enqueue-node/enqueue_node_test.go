package enqueuenode_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// node returns the node binary, skipping the test where Node.js or the
// example's packages are missing (failing instead on CI, whose .ci/run
// installs them).
func node(t *testing.T) string {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") != "" {
		skip = t.Fatalf
	}
	bin, err := exec.LookPath("node")
	if err != nil {
		skip("Node.js is not installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join("node_modules", "nats", "package.json")); err != nil {
		skip("the example's packages are not installed; run: npm ci --prefix examples/enqueue-node")
	}
	return bin
}

type emailArgs struct {
	To string `json:"to"`
}

func TestNodeEnqueuesJobsAGoWorkerRuns(t *testing.T) {
	nodeBin := node(t)
	srv := natstest.Start(t)
	_, js := srv.Connect(t)

	ran := make(chan *job.Job[emailArgs], 4)
	pool, err := worker.New(js, worker.Config{
		Queues: map[string]worker.QueueConfig{"default": {}, "mail": {}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Handle(pool, "email.send", func(_ context.Context, j *job.Job[emailArgs]) error {
		ran <- j
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pool.Stop(sctx)
	})

	env := []string{"NATS_URL=" + srv.URL()}
	enqueue := func(args ...string) string {
		t.Helper()
		r := proctest.Run(t, nodeBin, env, "", append([]string{"enqueue.mjs"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("node enqueue.mjs %s: exit %d\n%s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
		return strings.TrimSpace(r.Stdout)
	}
	if id := enqueue("--id", "node-1", "--max-attempts", "3", "--timeout", "30s", "email.send", `{"to":"ada@example.com"}`); id != "node-1" {
		t.Fatalf("printed ID %q, want node-1", id)
	}
	generated := enqueue("--queue", "mail", "email.send", `{"to":"alan@example.com"}`)
	if generated == "" {
		t.Fatal("no ID printed for a job without --id")
	}

	want := map[string]struct {
		to, queue   string
		maxAttempts int
		timeout     time.Duration
	}{
		"node-1":  {"ada@example.com", "default", 3, 30 * time.Second},
		generated: {"alan@example.com", "mail", job.DefaultMaxAttempts, 0},
	}
	for n := len(want); n > 0; n-- { // not "range want": the loop deletes from it
		select {
		case j := <-ran:
			w, ok := want[j.ID]
			if !ok {
				t.Fatalf("ran unexpected job %q", j.ID)
			}
			if j.Args.To != w.to || j.Queue != w.queue || j.MaxAttempts != w.maxAttempts || j.Timeout != w.timeout || j.EnqueuedAt.IsZero() {
				t.Errorf("job %s ran as to=%s queue=%s max_attempts=%d timeout=%s; want %+v", j.ID, j.Args.To, j.Queue, j.MaxAttempts, j.Timeout, w)
			}
			delete(want, j.ID)
		case <-time.After(30 * time.Second):
			t.Fatalf("jobs %v never ran", want)
		}
	}

	// The same ID again within the duplicate window is stored once.
	r := proctest.Run(t, nodeBin, env, "", "enqueue.mjs", "--id", "node-1", "email.send", `{"to":"ada@example.com"}`)
	if r.Code != 0 || !strings.Contains(r.Stderr, "already enqueued") {
		t.Errorf("duplicate enqueue: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A bad kind is refused before anything is published.
	r = proctest.Run(t, nodeBin, env, "", "enqueue.mjs", "email..send", `{}`)
	if r.Code != 1 || !strings.Contains(r.Stderr, "invalid kind") {
		t.Errorf("bad kind: exit %d, stderr %q", r.Code, r.Stderr)
	}
	select {
	case j := <-ran:
		t.Errorf("job %s ran again", j.ID)
	default:
	}
}
