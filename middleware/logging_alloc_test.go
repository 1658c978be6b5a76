package middleware_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

// The logging middleware is on every job's path: a success at a disabled
// level must not allocate.
func TestLoggingSuccessDoesNotAllocate(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := middleware.Logging(logger)(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }))
	info := &job.Info{ID: "a", Queue: "default", Kind: "k", Attempt: 1, MaxAttempts: 3}
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = h.Handle(ctx, info) }); n != 0 {
		t.Fatalf("%v allocations per successful job, want 0", n)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
