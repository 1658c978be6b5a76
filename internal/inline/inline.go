package inline

import (
	"context"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/nats-io/nats.go/jetstream"
)

// Hooks set by package worker.
var (
	// NewPool returns a *worker.Pool for cfg, a worker.Config, that has no
	// server: kinds are registered on it with worker.Handle or
	// worker.Register, and Work runs deliveries on it. It must not be
	// started: it has no connection.
	NewPool func(cfg any) (pool any, err error)
	// Work runs msg on pool (from NewPool) as the pool's runner would:
	// decode, the verdict before start, the kind's chain with its timeout,
	// panic recovery and the verdict on the handler's result. It does what
	// settle would do with that verdict only in Outcome. ctx is the parent
	// of the job's context.
	Work func(ctx context.Context, pool any, msg jetstream.Msg) Outcome
	// Unfinished returns how many jobs pool (a started *worker.Pool) has
	// taken that are not yet finished: settled, and for a success
	// acknowledged, with their hooks called.
	Unfinished func(pool any) int
)

// Outcome is what a pool would have done with one delivery.
type Outcome struct {
	// Outcome is the worker.Outcome settle reports for the verdict, or
	// "waiting" for a job delivered before its not-before time (which is
	// no attempt).
	Outcome string
	// Reason is set for a dead letter.
	Reason job.Reason
	// Delay is the retry, snooze or wait delay.
	Delay time.Duration
	// Err is why the job failed or did not run; nil on success.
	Err error
	// Duration is how long the kind's chain ran; zero if the job did not
	// start.
	Duration time.Duration
	// Info is the attempt as the handler saw it (or would have).
	Info *job.Info
}
