package middleware

import (
	"context"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/job"
)

// minSnooze is the shortest delay a rate-limited job is snoozed for: server
// schedules, which carry snoozed jobs, fire on whole seconds, and a shorter
// snooze would be a delayed redelivery that uses up an attempt.
const minSnooze = time.Second

// maxSnooze caps the snooze of a job whose turn is far off (a limiter of one
// job a day, say): it competes again then, instead of waiting out a turn
// that a later change of the limiter may bring closer.
const maxSnooze = time.Hour

// RateLimit lets jobs through to the handler it wraps no faster than l
// allows, within this process. Wrap a kind with it to limit that kind
// (worker.WithMiddleware), or share one limiter between kinds to limit them
// together. With N worker processes the rate across all of them is N times
// l's.
//
// A job whose turn comes within maxWait waits for it, holding its
// concurrency slot; the wait counts against the job's timeout, and a job
// whose context ends while it waits returns the context's error. A job that
// would wait longer is snoozed until its turn (job.Snooze: no attempt is
// used and the slot is freed for other kinds); when it comes back it queues
// for a turn again (after an hour at most). maxWait below one second counts
// as one second. While l admits no job at all (its limit or burst set to 0
// after RateLimit was called), jobs are snoozed for maxWait at a time.
//
// RateLimit panics if l admits no job at all (a burst of 0 with a finite
// limit).
func RateLimit(l *rate.Limiter, maxWait time.Duration) job.Middleware {
	if l == nil || (l.Burst() < 1 && l.Limit() != rate.Inf) {
		panic("jetjobs: middleware.RateLimit needs a rate.Limiter with a burst of at least 1")
	}
	maxWait = max(maxWait, minSnooze)
	return func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
			r := l.Reserve()
			if !r.OK() {
				// The limiter admits nothing now (its limit or burst was set
				// to 0, say to pause the kind): look again after maxWait.
				return job.Snooze(maxWait)
			}
			d := min(r.Delay(), maxSnooze)
			if d > maxWait {
				// Give the turn back: the job competes again when it returns.
				r.Cancel()
				return job.Snooze(d)
			}
			if d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					r.Cancel()
					return ctx.Err()
				}
			}
			return next.Handle(ctx, info)
		})
	}
}
