package middleware_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

func TestRateLimitSpacesJobs(t *testing.T) {
	const every = 50 * time.Millisecond
	var starts []time.Time
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error {
		starts = append(starts, time.Now())
		return nil
	}), middleware.RateLimit(rate.NewLimiter(rate.Every(every), 1), time.Second))
	for range 5 {
		if err := h.Handle(context.Background(), info()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < len(starts); i++ {
		// The limiter's clock and ours differ by scheduling; allow 5ms.
		if gap := starts[i].Sub(starts[i-1]); gap < every-5*time.Millisecond {
			t.Fatalf("jobs %d and %d started %s apart, want at least %s", i-1, i, gap, every)
		}
	}
}

func TestRateLimitSnoozesLongWaits(t *testing.T) {
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }),
		middleware.RateLimit(rate.NewLimiter(rate.Every(10*time.Second), 1), time.Second))
	if err := h.Handle(context.Background(), info()); err != nil {
		t.Fatal(err)
	}
	err := h.Handle(context.Background(), info())
	var snooze *job.SnoozeError
	if !errors.As(err, &snooze) || snooze.Delay < 9*time.Second || snooze.Delay > 10*time.Second {
		t.Fatalf("second job: %v, want a snooze of about 10s", err)
	}
	// The snoozed job gave its turn back: the next one is snoozed for the
	// same turn, not a later one.
	err = h.Handle(context.Background(), info())
	if !errors.As(err, &snooze) || snooze.Delay > 10*time.Second {
		t.Fatalf("third job: %v, want a snooze of at most 10s", err)
	}
}

func TestRateLimitWaitEndsWithContext(t *testing.T) {
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }),
		middleware.RateLimit(rate.NewLimiter(rate.Every(900*time.Millisecond), 1), time.Second))
	if err := h.Handle(context.Background(), info()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.Handle(ctx, info()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Fatalf("waited %s after the context ended", waited)
	}
}

func TestRateLimitRefusesAClosedLimiter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("RateLimit with burst 0 did not panic")
		}
	}()
	middleware.RateLimit(rate.NewLimiter(1, 0), time.Second)
}
