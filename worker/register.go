package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// ErrAlreadyRegistered is returned when a kind is registered twice.
var ErrAlreadyRegistered = errors.New("jetjobs: kind already registered")

// ErrStarted is returned when a pool is changed or started after Start.
var ErrStarted = errors.New("jetjobs: pool already started")

// Worker runs jobs whose arguments decode into T. Its kind is the result of
// a Kind() string method on the worker or, failing that, on T (job.Args).
//
// A Worker may also implement any of these to override the pool's settings
// for its kind:
//
//	Timeout(*job.Job[T]) time.Duration
//	MaxAttempts() int
//	RetryPolicy() retry.Policy
//	Middleware() []job.Middleware
type Worker[T any] interface {
	Work(ctx context.Context, j *job.Job[T]) error
}

// KindOption sets a per-kind setting at registration.
type KindOption func(*kindEntry) error

// WithTimeout bounds each attempt of the kind (unless the job sets its own).
func WithTimeout(d time.Duration) KindOption {
	return func(k *kindEntry) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): use a positive duration", job.ErrInvalidOption, d)
		}
		k.timeout = d
		return nil
	}
}

// WithMaxAttempts bounds the attempts of the kind's jobs that set no limit.
func WithMaxAttempts(n int) KindOption {
	return func(k *kindEntry) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxAttempts(%d): use at least 1", job.ErrInvalidOption, n)
		}
		k.maxAttempts = n
		return nil
	}
}

// WithRetryPolicy sets the kind's retry policy.
func WithRetryPolicy(p retry.Policy) KindOption {
	return func(k *kindEntry) error {
		if p == nil {
			return fmt.Errorf("%w: WithRetryPolicy(nil)", job.ErrInvalidOption)
		}
		k.policy = p
		return nil
	}
}

// WithMiddleware wraps the kind's handler, inside the pool's middleware.
func WithMiddleware(mws ...job.Middleware) KindOption {
	return func(k *kindEntry) error {
		k.middleware = append(k.middleware, mws...)
		return nil
	}
}

// kindEntry is the engine's view of one registered kind: an untyped handler
// (decoding is inside it) and the kind's settings.
type kindEntry struct {
	kind        string
	handler     job.Handler // as registered: decodes and calls the user's code
	chain       job.Handler // handler inside every middleware, built by Start
	middleware  []job.Middleware
	timeout     time.Duration
	maxAttempts int
	policy      retry.Policy
}

// Handle registers fn for jobs of kind whose arguments decode into T. It
// fails for an invalid kind name, a kind already registered, or a pool
// already started.
func Handle[T any](p *Pool, kind string, fn func(ctx context.Context, j *job.Job[T]) error, opts ...KindOption) error {
	if fn == nil {
		return fmt.Errorf("%w: Handle(%q): nil handler", job.ErrInvalidOption, kind)
	}
	return p.register(kind, typed(fn, nil), opts)
}

// Register registers w for its kind; see Worker.
func Register[T any](p *Pool, w Worker[T], opts ...KindOption) error {
	if w == nil {
		return fmt.Errorf("%w: Register: nil worker", job.ErrInvalidOption)
	}
	var kind string
	if k, ok := any(w).(interface{ Kind() string }); ok {
		kind = k.Kind()
	} else {
		var zero T
		a, ok := any(zero).(job.Args)
		if !ok {
			a, ok = any(&zero).(job.Args)
		}
		if !ok {
			return fmt.Errorf("%w: Register: neither %T nor its argument type %T has a Kind() string method; add one or use Handle with a kind", job.ErrInvalidOption, w, zero)
		}
		kind = a.Kind()
	}
	var pre []KindOption
	if m, ok := w.(interface{ MaxAttempts() int }); ok {
		pre = append(pre, WithMaxAttempts(m.MaxAttempts()))
	}
	if r, ok := w.(interface{ RetryPolicy() retry.Policy }); ok {
		pre = append(pre, WithRetryPolicy(r.RetryPolicy()))
	}
	if m, ok := w.(interface{ Middleware() []job.Middleware }); ok {
		pre = append(pre, WithMiddleware(m.Middleware()...))
	}
	var timeout func(*job.Job[T]) time.Duration
	if t, ok := w.(interface {
		Timeout(*job.Job[T]) time.Duration
	}); ok {
		timeout = t.Timeout
	}
	return p.register(kind, typed(w.Work, timeout), append(pre, opts...))
}

// typed bridges a typed handler to the engine: it decodes the payload into
// T (an empty payload is T's zero value) and reports a payload that does not
// decode with job.ErrDecode, without calling fn. timeout, if not nil, bounds
// the attempt by the decoded job.
func typed[T any](fn func(context.Context, *job.Job[T]) error, timeout func(*job.Job[T]) time.Duration) job.Handler {
	return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		j := &job.Job[T]{Info: info}
		if len(info.Payload) > 0 {
			if err := json.Unmarshal(info.Payload, &j.Args); err != nil {
				return fmt.Errorf("%w: payload of kind %s does not decode into %T: %w", job.ErrDecode, info.Kind, j.Args, err)
			}
		}
		if timeout != nil {
			if d := timeout(j); d > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, d)
				defer cancel()
			}
		}
		return fn(ctx, j)
	})
}
