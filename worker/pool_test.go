package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type emailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

func TestTypedJobRuns(t *testing.T) {
	e := newEnv(t)
	got := make(chan *job.Job[emailArgs], 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[emailArgs]) error {
			got <- j
			return nil
		}))
	})
	r := e.enqueue("email.send", emailArgs{To: "a@b.c", Subject: "hi"}, job.MaxAttempts(3))
	select {
	case j := <-got:
		if j.Args.To != "a@b.c" || j.Args.Subject != "hi" {
			t.Fatalf("args = %+v", j.Args)
		}
		if j.ID != r.ID || j.Queue != "default" || j.Kind != "email.send" || j.Attempt != 1 || j.MaxAttempts != 3 {
			t.Fatalf("info = %+v", j.Info)
		}
		if time.Since(j.EnqueuedAt) > time.Minute {
			t.Fatalf("EnqueuedAt = %s", j.EnqueuedAt)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("job did not run")
	}
	eventually(t, func() bool { return streamMsgs(t, e) == 0 }, "acked job still in the work stream")
}

func streamMsgs(t *testing.T, e *env) uint64 {
	s, err := e.js.Stream(context.Background(), "JOBS")
	must(t, err)
	info, err := s.Info(context.Background())
	must(t, err)
	return info.State.Msgs
}

func TestRetryDelayIsApplied(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var times []time.Time
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "flaky", func(ctx context.Context, j *job.Job[struct{}]) error {
			mu.Lock()
			times = append(times, time.Now())
			mu.Unlock()
			if j.Attempt < 3 {
				return errors.New("not yet")
			}
			return nil
		}, worker.WithRetryPolicy(retry.Exponential{Initial: 300 * time.Millisecond, Jitter: retry.NoJitter})))
	})
	e.enqueue("flaky", nil)
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(times) == 3 }, "three attempts")
	mu.Lock()
	defer mu.Unlock()
	if d := times[1].Sub(times[0]); d < 300*time.Millisecond {
		t.Errorf("second attempt after %s, want >= 300ms", d)
	}
	if d := times[2].Sub(times[1]); d < 600*time.Millisecond {
		t.Errorf("third attempt after %s, want >= 600ms", d)
	}
}

func TestLastAttemptDeadLetters(t *testing.T) {
	e := newEnv(t)
	var attempts atomic.Int32
	e.pool(worker.Config{RetryPolicy: retry.Constant(10 * time.Millisecond)}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "doomed", func(ctx context.Context, j *job.Job[map[string]int]) error {
			attempts.Add(1)
			return errors.New("boom")
		}))
	})
	r := e.enqueue("doomed", map[string]int{"n": 7}, job.MaxAttempts(2), job.Header("X-Tenant", "acme"))
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	dl := e.deadLetters()[0]
	if attempts.Load() != 2 {
		t.Errorf("attempts = %d, want 2", attempts.Load())
	}
	if dl.ID != r.ID || dl.Reason != job.ReasonFailed || dl.Error != "boom" || dl.Attempts != 2 ||
		dl.Subject != "jobs.default.doomed" || dl.Queue != "default" || dl.Kind != "doomed" || string(dl.Payload) != `{"n":7}` {
		t.Fatalf("dead letter = %+v", dl)
	}
	if dl.Header.Get("X-Tenant") != "acme" || dl.Header.Get(job.HeaderMaxAttempts) != "2" || dl.FailedAt.IsZero() {
		t.Fatalf("dead letter headers = %v", dl.Header)
	}
	eventually(t, func() bool { return streamMsgs(t, e) == 0 }, "dead-lettered job still in the work stream")
}
