package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type reportArgs struct {
	Month string `json:"month"`
	Slow  bool   `json:"slow"`
}

func (reportArgs) Kind() string { return "report.build" }

// reportWorker overrides every per-kind setting through optional methods.
type reportWorker struct {
	worker.WorkerDefaults[reportArgs]
	mu    sync.Mutex
	trail []string
}

func (w *reportWorker) note(s string) {
	w.mu.Lock()
	w.trail = append(w.trail, s)
	w.mu.Unlock()
}

func (w *reportWorker) Work(ctx context.Context, j *job.Job[reportArgs]) error {
	dl, hasDeadline := ctx.Deadline()
	w.note(fmt.Sprintf("attempt %d/%d deadline=%v", j.Attempt, j.MaxAttempts, hasDeadline && time.Until(dl) < time.Minute))
	return errors.New("always fails")
}

func (w *reportWorker) Timeout(j *job.Job[reportArgs]) time.Duration {
	if j.Args.Slow {
		return time.Hour
	}
	return 10 * time.Second
}

func (w *reportWorker) MaxAttempts() int          { return 2 }
func (w *reportWorker) RetryPolicy() retry.Policy { return retry.Constant(10 * time.Millisecond) }
func (w *reportWorker) Middleware() []job.Middleware {
	return []job.Middleware{func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
			w.note("kind middleware")
			return next.Handle(ctx, info)
		})
	}}
}

func TestWorkerOptionalMethodsApply(t *testing.T) {
	e := newEnv(t)
	w := &reportWorker{}
	var poolMW []string
	var mu sync.Mutex
	e.pool(worker.Config{
		// The pool's policy would wait an hour; the kind's 10ms must win.
		RetryPolicy: retry.Constant(time.Hour),
		Middleware: []job.Middleware{func(next job.Handler) job.Handler {
			return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
				mu.Lock()
				poolMW = append(poolMW, info.Kind)
				mu.Unlock()
				return next.Handle(ctx, info)
			})
		}},
	}, func(p *worker.Pool) {
		must(t, worker.Register(p, w))
	})
	_, err := e.client.EnqueueArgs(context.Background(), reportArgs{Month: "2026-10"})
	must(t, err)
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter after the kind's 2 attempts")
	w.mu.Lock()
	defer w.mu.Unlock()
	want := []string{"kind middleware", "attempt 1/2 deadline=true", "kind middleware", "attempt 2/2 deadline=true"}
	if fmt.Sprint(w.trail) != fmt.Sprint(want) {
		t.Fatalf("trail = %q, want %q", w.trail, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(poolMW) != 2 {
		t.Fatalf("pool middleware ran %d times, want 2", len(poolMW))
	}
}

func TestDeadLetterReplayAllAndPurge(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	succeed := false
	ran := map[string]int{}
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"a": {}, "b": {}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "k", func(ctx context.Context, j *job.Job[int]) error {
			mu.Lock()
			defer mu.Unlock()
			if !succeed {
				return job.Permanent(errors.New("not yet"))
			}
			ran[j.ID]++
			return nil
		}))
	})
	for i := range 4 {
		e.enqueue("k", i, job.Queue("a"))
	}
	for i := range 3 {
		e.enqueue("k", i, job.Queue("b"))
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 7 }, "7 dead letters")
	onlyA, err := e.client.DeadLetters(context.Background(), job.DeadLetterFilter{Queue: "a", Limit: 3})
	must(t, err)
	if len(onlyA) != 3 || onlyA[0].Queue != "a" {
		t.Fatalf("filtered listing: %+v", onlyA)
	}
	mu.Lock()
	succeed = true
	mu.Unlock()
	progress := 0
	n, err := e.client.ReplayAll(context.Background(), "a", func(done int) { progress = done })
	must(t, err)
	if n != 4 || progress != 4 {
		t.Fatalf("replayed %d (progress %d), want 4", n, progress)
	}
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(ran) == 4 }, "replayed jobs ran")
	purged, err := e.client.PurgeDeadLetters(context.Background(), "b")
	must(t, err)
	if purged != 3 || len(e.deadLetters()) != 0 {
		t.Fatalf("purged %d, %d left", purged, len(e.deadLetters()))
	}
}

// misspeltWorker means to set its kind's attempts but misspells the method.
type misspeltWorker struct {
	worker.WorkerDefaults[reportArgs]
}

func (misspeltWorker) Work(context.Context, *job.Job[reportArgs]) error { return nil }
func (misspeltWorker) MaxAttempt() int                                  { return 2 }

// timoutWorker misspells Timeout.
type timoutWorker struct {
	worker.WorkerDefaults[reportArgs]
}

func (timoutWorker) Work(context.Context, *job.Job[reportArgs]) error { return nil }
func (timoutWorker) Timout(*job.Job[reportArgs]) time.Duration        { return time.Second }

// A setting method whose name is a near miss would never be called:
// Register refuses the worker and names the method it meant.
func TestRegisterRefusesMisspeltSettings(t *testing.T) {
	p, err := worker.New(newEnv(t).js, worker.Config{Logger: testLogger()})
	must(t, err)
	for _, tc := range []struct {
		w    worker.Worker[reportArgs]
		want string
	}{{misspeltWorker{}, "MaxAttempts"}, {timoutWorker{}, "Timeout"}} {
		err := worker.Register(p, tc.w)
		if !errors.Is(err, job.ErrInvalidOption) || !strings.Contains(err.Error(), "did you mean "+tc.want) {
			t.Errorf("Register(%T) = %v; want ErrInvalidOption naming %s", tc.w, err, tc.want)
		}
	}
}

// A setting method with the wrong signature does not compile: the worker
// no longer satisfies worker.Worker.
func TestWrongSettingSignatureDoesNotCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	out, err := exec.Command("go", "build", "-o", os.DevNull, "./testdata/wrongsetting").CombinedOutput()
	if err == nil {
		t.Fatal("testdata/wrongsetting compiled; its MaxAttempts() int64 must be a compile error")
	}
	if !strings.Contains(string(out), "MaxAttempts") {
		t.Fatalf("the build failed, but not over MaxAttempts:\n%s", out)
	}
}
