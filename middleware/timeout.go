package middleware

import (
	"context"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Timeout bounds each attempt to d unless the job carries its own timeout
// (the Jetjobs-Timeout header or a per-kind setting), which then wins. The
// handler's context is canceled at the deadline; a handler that ignores its
// context keeps running, as with net/http.
func Timeout(d time.Duration) job.Middleware {
	return func(next job.Handler) job.Handler {
		if d <= 0 {
			return next
		}
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
			if info.Timeout > 0 {
				return next.Handle(ctx, info)
			}
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next.Handle(ctx, info)
		})
	}
}
