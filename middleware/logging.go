package middleware

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Logging logs one line per attempt when it ends: debug for success, info
// for a snooze or a job canceled by ID, warn for a failure that will be
// retried or an attempt the pool interrupted (the job runs again), error
// for the last attempt or a permanent failure; a panic is logged as the
// failure it is (and goes on to the pool's recovery). Payloads are never
// logged. A nil logger logs to slog.Default().
func Logging(logger *slog.Logger) job.Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) (err error) {
			start := time.Now()
			defer func() {
				if v := recover(); v != nil {
					// The pool recovers the panic as a failed attempt; say so
					// here too, then let it go on.
					logOutcome(ctx, logger, info, &job.PanicError{Value: v}, start)
					panic(v)
				}
			}()
			err = next.Handle(ctx, info)
			logOutcome(ctx, logger, info, err, start)
			return err
		})
	}
}

// logOutcome logs the end of an attempt that returned err. The context
// tells what the pool will do whatever the error: a job canceled by ID is
// dead-lettered as canceled, and one whose context the pool canceled
// (shutdown) is handed back.
func logOutcome(ctx context.Context, logger *slog.Logger, info *job.Info, err error, start time.Time) {
	level, msg := Outcome(info, err)
	if err != nil && ctx.Err() != nil {
		switch {
		case errors.Is(context.Cause(ctx), job.ErrCanceled):
			level, msg = slog.LevelInfo, "job canceled"
		case errors.Is(ctx.Err(), context.Canceled):
			level, msg = slog.LevelWarn, "job interrupted; it will run again"
		}
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("job_id", info.ID), slog.String("queue", info.Queue),
		slog.String("kind", info.Kind), slog.Int("attempt", info.Attempt),
		slog.Int("max_attempts", info.MaxAttempts), slog.Duration("duration", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	logger.LogAttrs(ctx, level, msg, attrs...)
}

// Outcome names what the worker will do with an attempt that returned err,
// with the log level that suits it.
func Outcome(info *job.Info, err error) (slog.Level, string) {
	if err == nil {
		// Before the targets of errors.As, which escape: the common case
		// allocates nothing.
		return slog.LevelDebug, "job succeeded"
	}
	var (
		snooze    *job.SnoozeError
		permanent *job.PermanentError
		canceled  *job.CanceledError
	)
	switch {
	case errors.As(err, &snooze):
		return slog.LevelInfo, "job snoozed"
	case errors.As(err, &permanent), errors.As(err, &canceled), errors.Is(err, job.ErrDecode):
		return slog.LevelError, "job failed permanently"
	case info.Attempt >= info.MaxAttempts:
		return slog.LevelError, "job failed on its last attempt"
	default:
		return slog.LevelWarn, "job failed, will retry"
	}
}
