package job

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// Info describes one attempt of a job as the worker received it. Handlers
// and middleware must treat it as read-only.
type Info struct {
	// ID identifies the job across attempts, snoozes and dead-letter replay.
	// Use it to make handlers idempotent.
	ID string
	// Queue and Kind are read from the subject <prefix>.<queue>.<kind>.
	Queue string
	Kind  string
	// Subject is the subject the job was published to.
	Subject string
	// Attempt counts from 1; MaxAttempts is the last attempt allowed.
	Attempt     int
	MaxAttempts int
	// EnqueuedAt is when the job was first enqueued (the stream's timestamp
	// when the publisher did not say).
	EnqueuedAt time.Time
	// Timeout bounds this attempt; zero means none.
	Timeout time.Duration
	// Deadline, when not zero, is the time after which the job must not start.
	Deadline time.Time
	// NotBefore, when not zero, is the time before which the job must not
	// start (a job snoozed in its queue).
	NotBefore time.Time
	// KeepResult, when not zero, is how long the job's state and result
	// are kept (job.KeepResult, the Jetjobs-Keep-Result header); the
	// kind's setting applies when the job names none.
	KeepResult time.Duration
	// Header holds every header of the message, including foreign ones.
	Header nats.Header
	// Payload is the raw JSON of the job's arguments.
	Payload []byte
	// Seq is the job message's sequence in the work stream.
	Seq uint64
	// Sequence is the key of the sequence the job belongs to (Sequence),
	// empty for a job of none. Jobs of one key run one at a time, in
	// enqueue order.
	Sequence string
}

// Job is a job whose arguments were decoded into T.
type Job[T any] struct {
	*Info
	Args T
}

// Args may be implemented by argument types to name their kind, so that
// Client.EnqueueArgs and worker registration need no kind string.
type Args interface {
	Kind() string
}

// Handler runs one attempt of a job. It returns nil on success; any error
// fails the attempt (see Snooze and Permanent to steer what follows). A
// panic in Handle is recovered by the worker and fails the attempt.
type Handler interface {
	Handle(ctx context.Context, info *Info) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, info *Info) error

// Handle calls f(ctx, info).
func (f HandlerFunc) Handle(ctx context.Context, info *Info) error { return f(ctx, info) }

// Middleware wraps a Handler, as net/http middleware wraps an http.Handler.
type Middleware func(Handler) Handler

// Chain applies mws to h so that mws[0] is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		if mws[i] != nil {
			h = mws[i](h)
		}
	}
	return h
}

type infoKey struct{}

// WithInfo returns a context carrying info; the worker stores each attempt's
// Info this way so code deep in a handler can read it with FromContext.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// FromContext returns the Info of the running attempt, if any.
func FromContext(ctx context.Context) (*Info, bool) {
	info, ok := ctx.Value(infoKey{}).(*Info)
	return info, ok
}
