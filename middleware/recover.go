package middleware

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/jetjobs/jetjobs/job"
)

// Recover turns a panic in the handlers it wraps into a *job.PanicError, a
// failed attempt, and logs the panic with its stack at error level. A nil
// logger logs to slog.Default().
func Recover(logger *slog.Logger) job.Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) (err error) {
			defer func() {
				if v := recover(); v != nil {
					pe := &job.PanicError{Value: v, Stack: debug.Stack()}
					logger.LogAttrs(ctx, slog.LevelError, "job handler panicked",
						slog.String("job_id", info.ID), slog.String("queue", info.Queue),
						slog.String("kind", info.Kind), slog.Int("attempt", info.Attempt),
						slog.Any("panic", v), slog.String("stack", string(pe.Stack)))
					err = pe
				}
			}()
			return next.Handle(ctx, info)
		})
	}
}
