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

// A limiter whose limit is 0 (rate.NewLimiter(0, n), or SetLimit(0) to
// pause a kind) passes its burst, then refuses reservations (Delay() is
// rate.InfDuration): RateLimit snoozes such jobs for maxWait, not forever.
func TestRateLimitZeroLimitDoesNotSnoozeForever(t *testing.T) {
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }),
		middleware.RateLimit(rate.NewLimiter(0, 1), time.Second))
	if err := h.Handle(context.Background(), info()); err != nil {
		t.Fatal(err)
	}
	err := h.Handle(context.Background(), info())
	var snooze *job.SnoozeError
	if errors.As(err, &snooze) && snooze.Delay > 24*time.Hour {
		t.Fatalf("second job snoozed for %s (%.0f years)", snooze.Delay, snooze.Delay.Hours()/24/365)
	}
}
