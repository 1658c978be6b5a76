package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
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

// A handler that panics gets its outcome line from Logging too (the panic
// is a failed attempt), and the panic goes on to the pool's recovery.
func TestLoggingLogsPanickingAttempt(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { panic("boom") }), middleware.Logging(logger))
	func() {
		defer func() { _ = recover() }() // as the pool does
		_ = h.Handle(context.Background(), info())
	}()
	if !strings.Contains(buf.String(), `"job_id":"j1"`) {
		t.Errorf("no log line for an attempt that panicked: %q", buf.String())
	}
}
