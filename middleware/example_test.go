package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

// exampleLogger writes text lines without the time and duration attributes,
// so the examples' output is the same on every run.
func exampleLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// Logging writes one line per attempt: debug for success, warn for a
// failure that will be retried, error for the last attempt.
func ExampleLogging() {
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		if info.Attempt < 2 {
			return errors.New("smtp: connection refused")
		}
		return nil
	}), middleware.Logging(exampleLogger()))

	for attempt := 1; attempt <= 2; attempt++ {
		info := &job.Info{ID: "welcome-1", Queue: "mail", Kind: "email.send", Attempt: attempt, MaxAttempts: 5}
		_ = h.Handle(context.Background(), info)
	}
	// Output:
	// level=WARN msg="job failed, will retry" job_id=welcome-1 queue=mail kind=email.send attempt=1 max_attempts=5 error="smtp: connection refused"
	// level=DEBUG msg="job succeeded" job_id=welcome-1 queue=mail kind=email.send attempt=2 max_attempts=5
}

// Recover turns a panic into a failed attempt (a *job.PanicError) instead of
// a dead process.
func ExampleRecover() {
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		var m map[string]int
		m["boom"]++ // panics: assignment to entry in nil map
		return nil
	}), middleware.Recover(slog.New(slog.DiscardHandler)))

	err := h.Handle(context.Background(), &job.Info{ID: "j1", Kind: "report.build", Attempt: 1, MaxAttempts: 3})
	var p *job.PanicError
	fmt.Println(errors.As(err, &p))
	// Output: true
}

// Timeout cancels the handler's context when an attempt runs too long; a
// job's own Jetjobs-Timeout header wins over it.
func ExampleTimeout() {
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
			return nil
		}
	}), middleware.Timeout(50*time.Millisecond))

	err := h.Handle(context.Background(), &job.Info{ID: "j1", Kind: "slow", Attempt: 1, MaxAttempts: 3})
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}

// RateLimit lets one job in ten seconds through in this process (wrap one
// kind with worker.WithMiddleware, or a whole pool with Config.Middleware).
// A job whose turn is within maxWait waits for it; a later one is snoozed
// until its turn, without using up an attempt.
func ExampleRateLimit() {
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		return nil // call the rate-limited API
	}), middleware.RateLimit(rate.NewLimiter(rate.Every(10*time.Second), 1), time.Second))

	for i := 1; i <= 2; i++ {
		err := h.Handle(context.Background(), &job.Info{ID: fmt.Sprint("sms-", i), Kind: "sms.send", Attempt: 1, MaxAttempts: 3})
		var snooze *job.SnoozeError
		switch {
		case err == nil:
			fmt.Println(i, "ran")
		case errors.As(err, &snooze):
			fmt.Println(i, "snoozed for about", snooze.Delay.Round(time.Second))
		}
	}
	// Output:
	// 1 ran
	// 2 snoozed for about 10s
}
