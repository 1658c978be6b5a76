package enqueuenode_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// node returns the node binary, installing the example's packages from its
// committed lock file first (npm ci) when they are missing. Where Node.js
// or npm is not installed the test is skipped, except on CI (CI set), where
// it fails.
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
	installOnce.Do(func() { installErr = npmCI() })
	if installErr != nil {
		skip("the example's packages could not be installed: %v", installErr)
	}
	return bin
}

var (
	installOnce sync.Once
	installErr  error
)

// npmCI installs the packages of package-lock.json unless they are there.
func npmCI() error {
	if _, err := os.Stat(filepath.Join("node_modules", "nats", "package.json")); err == nil {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is not installed: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund").CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci: %w\n%s", err, out)
	}
	return nil
}

type emailArgs struct {
	To string `json:"to"`
}

func TestNodeEnqueuesJobsAGoWorkerReads(t *testing.T) {
	nodeBin := node(t)
	s := jetjobstest.StartServer(t)

	env := []string{"NATS_URL=" + s.URL()}
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

	// Exactly the two jobs wait, as a Go worker reads them.
	jobs := jetjobstest.RequireManyEnqueued(t, s.Client(),
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("node-1"), jetjobstest.Queue("default"),
			jetjobstest.MaxAttempts(3), jetjobstest.Timeout(30 * time.Second), jetjobstest.Args(emailArgs{To: "ada@example.com"})}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID(generated), jetjobstest.Queue("mail"),
			jetjobstest.MaxAttempts(0), jetjobstest.Args(emailArgs{To: "alan@example.com"})}},
	)
	for _, j := range jobs {
		if j.EnqueuedAt.IsZero() {
			t.Errorf("job %s has no enqueue time", j.ID)
		}
	}
}

type thumbArgs struct {
	Sizes []int `json:"sizes"`
}

// await.mjs enqueues with Jetjobs-Keep-Result and waits for the result a
// Go handler returns, following docs/protocol.md alone.
func TestNodeAwaitsAJobsResult(t *testing.T) {
	nodeBin := node(t)
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	pool, err := worker.New(js, worker.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.HandleResult(pool, "thumb.make", func(ctx context.Context, j *job.Job[thumbArgs]) (map[string]int, error) {
		if len(j.Args.Sizes) == 0 {
			return nil, job.Permanent(errors.New("no sizes"))
		}
		_ = job.Progress(ctx, 0.5, "half")
		return map[string]int{"made": len(j.Args.Sizes)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pool.Stop(sctx)
	})
	env := []string{"NATS_URL=" + srv.URL()}
	r := proctest.Run(t, nodeBin, env, "", "await.mjs", "--id", "a b/c", "thumb.make", `{"sizes":[64,128]}`)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != `{"made":2}` {
		t.Fatalf("node await.mjs: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	r = proctest.Run(t, nodeBin, env, "", "await.mjs", "thumb.make", `{}`)
	if r.Code != 1 || !strings.Contains(r.Stderr, "dead (reason failed): no sizes") {
		t.Fatalf("node await.mjs of a failing job: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
