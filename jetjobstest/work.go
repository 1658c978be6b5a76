package jetjobstest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/inline"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// OutcomeWaiting is the outcome of a job that is not due yet (its
// job.HeaderNotBefore time is ahead): the pool hands it back until then
// without running it, and the delivery is no attempt.
const OutcomeWaiting worker.Outcome = "waiting"

// OutcomeUnserved is the outcome of a job of a kind the pool has no
// handler for: it is passed on to the queue's other workers, to be offered
// again after Delay, without using up an attempt (and dead-lettered with
// reason no-handler once it has waited worker.Config.UnservedTimeout).
const OutcomeUnserved worker.Outcome = "unserved"

// WorkResult is what a pool would have done with one delivery of a job.
type WorkResult struct {
	// Outcome is worker.OutcomeSucceeded, OutcomeRetried, OutcomeSnoozed,
	// OutcomeDeadLettered, OutcomeWaiting or OutcomeUnserved.
	Outcome worker.Outcome
	// Reason is why the job was dead-lettered.
	Reason job.Reason
	// Delay is how long until the job runs again: the retry policy's delay
	// for a retry, the job.Snooze delay for a snooze.
	Delay time.Duration
	// Err is the handler's error (a *job.PanicError for a panic) or why the
	// job did not run; nil on success.
	Err error
	// Duration is how long the kind's chain (middleware, decoding, the
	// handler) ran; zero if the job did not start (a malformed header, a
	// deadline passed).
	Duration time.Duration
	// Info is the attempt as the handler saw it: ID, queue, kind, attempt,
	// limits and timeout after the pool's defaults.
	Info *job.Info
}

// String describes the result in one line, such as "retried in 1s: boom"
// or "dead_lettered (reason failed): card declined".
func (r *WorkResult) String() string {
	var b strings.Builder
	b.WriteString(string(r.Outcome))
	switch {
	case r.Reason != "":
		fmt.Fprintf(&b, " (reason %s)", r.Reason)
	case r.Outcome == worker.OutcomeRetried || r.Outcome == worker.OutcomeSnoozed || r.Outcome == OutcomeWaiting || r.Outcome == OutcomeUnserved:
		fmt.Fprintf(&b, " for %s", r.Delay)
	}
	if r.Err != nil {
		fmt.Fprintf(&b, ": %v", r.Err)
	}
	return b.String()
}

// WorkOption sets up the job and the pool of Work and WorkFunc.
type WorkOption func(*workConfig) error

type workConfig struct {
	pool     worker.Config
	kindOpts []worker.KindOption
	queue    string
	id       string
	attempt  int
	header   nats.Header
	payload  []byte
	raw      bool
}

// WithConfig runs the job on a pool with cfg: its middleware, retry policy,
// attempt limit, timeouts and topology apply as on a real pool (Queues,
// Concurrency and the settings of fetching and shutdown do not matter).
func WithConfig(cfg worker.Config) WorkOption {
	return func(c *workConfig) error { c.pool = cfg; return nil }
}

// WithKindOptions registers the kind with opts (worker.WithTimeout,
// worker.WithMaxAttempts, worker.WithRetryPolicy, worker.WithMiddleware).
func WithKindOptions(opts ...worker.KindOption) WorkOption {
	return func(c *workConfig) error { c.kindOpts = append(c.kindOpts, opts...); return nil }
}

// WithQueue puts the job in queue q; default "default".
func WithQueue(q string) WorkOption {
	return func(c *workConfig) error { c.queue = q; return job.ValidateQueue(q) }
}

// WithID gives the job an ID; default a fresh one.
func WithID(id string) WorkOption {
	return func(c *workConfig) error { c.id = id; return nil }
}

// WithAttempt makes the delivery attempt n (>= 1; default 1).
func WithAttempt(n int) WorkOption {
	return func(c *workConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithAttempt(%d): attempts count from 1", job.ErrInvalidOption, n)
		}
		c.attempt = n
		return nil
	}
}

// WithMaxAttempts gives the job its own attempt limit, as job.MaxAttempts
// does at enqueue.
func WithMaxAttempts(n int) WorkOption {
	return func(c *workConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxAttempts(%d): use at least 1", job.ErrInvalidOption, n)
		}
		c.setHeader(job.HeaderMaxAttempts, strconv.Itoa(n))
		return nil
	}
}

// WithTimeout gives the job its own timeout, as job.Timeout does at
// enqueue.
func WithTimeout(d time.Duration) WorkOption {
	return func(c *workConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): use a positive duration", job.ErrInvalidOption, d)
		}
		c.setHeader(job.HeaderTimeout, d.String())
		return nil
	}
}

// WithDeadline gives the job a deadline, as job.Deadline does at enqueue.
func WithDeadline(t time.Time) WorkOption {
	return func(c *workConfig) error {
		if t.IsZero() {
			return fmt.Errorf("%w: WithDeadline: use a non-zero time", job.ErrInvalidOption)
		}
		c.setHeader(job.HeaderDeadline, t.UTC().Format(time.RFC3339Nano))
		return nil
	}
}

// WithHeader sets a header of the job message. Unlike job.Header it takes
// the protocol's own headers too, to test what a foreign enqueuer may send
// (a malformed job.HeaderMaxAttempts is dead-lettered with reason decode).
func WithHeader(name, value string) WorkOption {
	return func(c *workConfig) error { c.setHeader(name, value); return nil }
}

// WithPayload makes data the job's payload instead of the arguments' JSON,
// to test a payload that does not decode.
func WithPayload(data []byte) WorkOption {
	return func(c *workConfig) error { c.payload, c.raw = data, true; return nil }
}

func (c *workConfig) setHeader(name, value string) {
	if c.header == nil {
		c.header = nats.Header{}
	}
	c.header.Set(name, value)
}

// Work runs one attempt of a job of w's kind with args through the path a
// pool runs it on — the payload decoded into T, the pool's and the kind's
// middleware, the timeout, panic recovery, and the one decision on what
// becomes of the attempt — on the calling goroutine, and returns what the
// pool would have done. It needs no server: nothing is published,
// acknowledged or dead-lettered. The handler's context is a child of
// tb.Context(). Work fails the test only if the worker cannot be registered
// or an option is invalid.
func Work[T any](tb testing.TB, w worker.Worker[T], args T, opts ...WorkOption) *WorkResult {
	tb.Helper()
	return work(tb, "Work", "", args, opts, func(p *worker.Pool, kindOpts []worker.KindOption) error {
		return worker.Register(p, w, kindOpts...)
	})
}

// WorkFunc is Work for a handler function registered for kind, as
// worker.Handle registers it.
func WorkFunc[T any](tb testing.TB, kind string, fn func(context.Context, *job.Job[T]) error, args T, opts ...WorkOption) *WorkResult {
	tb.Helper()
	return work(tb, "WorkFunc", kind, args, opts, func(p *worker.Pool, kindOpts []worker.KindOption) error {
		return worker.Handle(p, kind, fn, kindOpts...)
	})
}

// work registers the handler on an inline pool and works one delivery of
// kind ("": the registered one) with args on it.
func work(tb testing.TB, fn, kind string, args any, opts []WorkOption, register func(*worker.Pool, []worker.KindOption) error) *WorkResult {
	tb.Helper()
	c := workConfig{queue: job.DefaultQueue, attempt: 1}
	for _, o := range opts {
		if err := o(&c); err != nil {
			tb.Fatalf("jetjobstest: %s: %v", fn, err)
			return nil
		}
	}
	if c.pool.Logger == nil {
		c.pool.Logger = quietLogger
	}
	pool, err := inline.NewPool(c.pool)
	if err != nil {
		tb.Fatalf("jetjobstest: %s: %v", fn, err)
		return nil
	}
	p := pool.(*worker.Pool)
	if err := register(p, c.kindOpts); err != nil {
		tb.Fatalf("jetjobstest: %s: %v", fn, err)
		return nil
	}
	if kind == "" { // a Worker's: Register found it
		kind = p.Kinds()[0]
	}
	data := c.payload
	if !c.raw {
		if data, err = encode(args); err != nil {
			tb.Fatalf("jetjobstest: %s: encode the arguments of %s: %v", fn, kind, err)
			return nil
		}
	}
	topo := c.pool.Topology.WithDefaults()
	now := time.Now()
	if c.id == "" {
		c.id = "jetjobstest-" + strconv.FormatInt(now.UnixNano(), 36)
	}
	// The headers job.Client.Message sets on every job, then the options'.
	h := nats.Header{}
	h.Set(job.HeaderID, c.id)
	h.Set(job.HeaderMsgID, c.id)
	h.Set(job.HeaderEnqueuedAt, now.UTC().Format(time.RFC3339Nano))
	for k, v := range c.header {
		h[k] = v
	}
	msg := inline.NewDelivery(wire.JobSubject(topo.Prefix, c.queue, kind), h, data, topo.Stream, 1, now, uint64(c.attempt))
	out := inline.Work(tb.Context(), p, msg)
	return &WorkResult{Outcome: worker.Outcome(out.Outcome), Reason: out.Reason, Delay: out.Delay, Err: out.Err, Duration: out.Duration, Info: out.Info}
}

// encode encodes args as job.Client.Enqueue does: nil is no payload, bytes
// are sent as they are.
func encode(args any) ([]byte, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return a, nil
	case []byte:
		return a, nil
	}
	return json.Marshal(args)
}
