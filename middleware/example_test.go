package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

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
