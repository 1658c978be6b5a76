package worker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// enqueueMany enqueues n jobs of kind to queue and fails on any error.
func (e *env) enqueueMany(queue, kind string, n int) {
	e.t.Helper()
	reqs := make([]job.Request, n)
	for i := range reqs {
		reqs[i] = job.Request{Kind: kind, Options: []job.Option{job.Queue(queue)}}
	}
	rs, err := e.client.EnqueueMany(context.Background(), reqs)
	must(e.t, err)
	for _, r := range rs {
		must(e.t, r.Err)
	}
}

func TestPauseStopsEveryPoolAndResumeRestarts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ran atomic.Int32
	var lastRun atomic.Int64 // unix nanoseconds
	byPool := [2]atomic.Int32{}
	for i := range 2 {
		e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"mail": {Concurrency: 4}}}, func(p *worker.Pool) {
			must(t, worker.Handle(p, "send", func(ctx context.Context, j *job.Job[struct{}]) error {
				ran.Add(1)
				byPool[i].Add(1)
				lastRun.Store(time.Now().UnixNano())
				return nil
			}))
		})
	}
	// Both pools work the queue before the pause.
	e.enqueueMany("mail", "send", 20)
	eventually(t, func() bool { return ran.Load() == 20 }, "jobs before the pause")

	until, err := e.client.PauseQueue(ctx, "mail", time.Time{})
	must(t, err)
	if !job.PausedIndefinitely(until) {
		t.Fatalf("PauseQueue with a zero time paused until %s", until)
	}
	st, err := e.client.Inspector().Queue(ctx, "mail")
	must(t, err)
	if !st.Paused || !st.PausedUntil.IsZero() {
		t.Fatalf("queue stats after pause: %+v", st)
	}
	e.enqueueMany("mail", "send", 10)
	// Nothing is delivered to either pool while paused: the jobs stay
	// pending. Watching for a second is the only way to see an absence.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if n := ran.Load(); n != 20 {
			t.Fatalf("%d jobs ran while the queue was paused", n-20)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err = e.client.Inspector().Queue(ctx, "mail")
	must(t, err)
	if st.Pending != 10 || st.Waiting == 0 {
		t.Fatalf("paused queue: pending %d, waiting pulls %d; want 10 pending and pools waiting", st.Pending, st.Waiting)
	}

	must(t, e.client.ResumeQueue(ctx, "mail"))
	eventually(t, func() bool { return ran.Load() == 30 }, "jobs after resume (ran %d)", ran.Load())
	if byPool[0].Load() == 0 || byPool[1].Load() == 0 {
		t.Fatalf("jobs per pool %d and %d: both pools should have worked", byPool[0].Load(), byPool[1].Load())
	}

	// A pause with an end resumes by itself.
	until, err = e.client.PauseQueue(ctx, "mail", time.Now().Add(time.Second))
	must(t, err)
	e.enqueueMany("mail", "send", 5)
	eventually(t, func() bool { return ran.Load() == 35 }, "jobs after a timed pause")
	if last := time.Unix(0, lastRun.Load()); last.Before(until) {
		t.Fatalf("a job ran at %s, before the pause ended at %s", last, until)
	}

	if _, err := e.client.PauseQueue(ctx, "nobody", time.Time{}); !errors.Is(err, job.ErrQueueNotFound) {
		t.Fatalf("pause of an unserved queue: %v, want ErrQueueNotFound", err)
	}
	if _, err := e.client.PauseQueue(ctx, "mail", time.Now().Add(-time.Minute)); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("pause until the past: %v, want ErrInvalidOption", err)
	}
}

func TestQueueLimitHoldsAcrossPools(t *testing.T) {
	e := newEnv(t)
	const limit = 3
	var (
		mu            sync.Mutex
		running, peak int
		done          atomic.Int32
		pools         [2]atomic.Int32
	)
	for i := range 2 {
		e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"api": {Concurrency: 5, Limit: limit}}}, func(p *worker.Pool) {
			must(t, worker.Handle(p, "call", func(ctx context.Context, j *job.Job[struct{}]) error {
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				pools[i].Add(1)
				time.Sleep(20 * time.Millisecond) // the job's work
				mu.Lock()
				running--
				mu.Unlock()
				done.Add(1)
				return nil
			}))
		})
	}
	e.enqueueMany("api", "call", 30)
	eventually(t, func() bool { return done.Load() == 30 }, "all jobs")
	t.Logf("peak %d running across two pools of concurrency 5 (limit %d); jobs per pool %d and %d", peak, limit, pools[0].Load(), pools[1].Load())
	if peak > limit {
		t.Fatalf("%d jobs ran at once across the pools, limit %d", peak, limit)
	}
	if peak < limit {
		t.Fatalf("at most %d jobs ran at once; the limit of %d was never used", peak, limit)
	}
}

func TestDuplicateEnqueueRunsOnce(t *testing.T) {
	e := newEnv(t)
	runs := make(chan string, 16)
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 1}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "charge", func(ctx context.Context, j *job.Job[map[string]int]) error {
			runs <- j.ID
			return nil
		}))
	})
	// The same ID twice, and the same content twice with Unique.
	a := e.enqueue("charge", map[string]int{"order": 1}, job.ID("charge-order-1"))
	if again := e.enqueue("charge", map[string]int{"order": 1}, job.ID("charge-order-1")); !again.Duplicate {
		t.Fatalf("second enqueue of ID %s not reported as duplicate: %+v", a.ID, again)
	}
	u := e.enqueue("charge", map[string]int{"order": 2}, job.Unique())
	if again := e.enqueue("charge", map[string]int{"order": 2}, job.Unique()); !again.Duplicate || again.ID != u.ID {
		t.Fatalf("second unique enqueue %+v, first %+v", again, u)
	}
	// One job at a time, in order: once the sentinel enqueued last has run,
	// a stored duplicate would have run before it.
	sentinel := e.enqueue("charge", nil)
	var got []string
	for {
		select {
		case id := <-runs:
			got = append(got, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("runs so far %v", got)
		}
		if got[len(got)-1] == sentinel.ID {
			break
		}
	}
	if len(got) != 3 || got[0] != a.ID || got[1] != u.ID {
		t.Fatalf("runs %v, want %s, %s, %s once each", got, a.ID, u.ID, sentinel.ID)
	}
}
