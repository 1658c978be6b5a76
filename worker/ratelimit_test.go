package worker_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
	"github.com/jetjobs/jetjobs/worker"
)

func TestRateLimitPerKind(t *testing.T) {
	e := newEnv(t)
	const every = 100 * time.Millisecond
	var (
		mu     sync.Mutex
		starts []time.Time
		free   atomic.Int32
	)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "sms", func(ctx context.Context, j *job.Job[struct{}]) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return nil
		}, worker.WithMiddleware(middleware.RateLimit(rate.NewLimiter(rate.Every(every), 1), time.Second))))
		must(t, worker.Handle(p, "email", func(ctx context.Context, j *job.Job[struct{}]) error {
			free.Add(1)
			return nil
		}))
	})
	e.enqueueMany("default", "sms", 6)
	e.enqueueMany("default", "email", 20)
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) == 6 && free.Load() == 20 }, "all jobs")
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(starts, time.Time.Compare)
	if span := starts[5].Sub(starts[0]); span < 5*every-25*time.Millisecond {
		t.Fatalf("6 jobs limited to one per %s ran within %s", every, span)
	}
}
