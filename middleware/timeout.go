package middleware

import (
	"context"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Timeout bounds each attempt to d unless job.Info.Timeout is set, which
// then wins. A worker pool sets Info.Timeout before the middleware runs:
// from the job's Jetjobs-Timeout header, else the kind's
// worker.WithTimeout, else worker.Config.Timeout; it bounds the attempt by
// that itself. Under a pool, d therefore applies only to jobs for which
// none of the three is set. A worker.Worker's Timeout method sets no
// Info.Timeout: it bounds the handler inside d, and the earlier deadline
// ends the attempt. The handler's context is canceled at the deadline; a
// handler that ignores its context keeps running, as with net/http.
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
