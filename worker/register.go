package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// ErrAlreadyRegistered is returned when a kind is registered twice.
var ErrAlreadyRegistered = errors.New("jetjobs: kind already registered")

// ErrStarted is returned when a pool is changed or started after Start.
var ErrStarted = errors.New("jetjobs: pool already started")

// Worker runs jobs whose arguments decode into T, and gives its kind's
// settings. Its kind is the result of a Kind() string method on the worker
// or, failing that, on T (job.Args).
//
// Embed WorkerDefaults[T] to have every setting method return "the pool's
// setting", and override the ones that differ. A setting method with a
// wrong signature then does not compile (the type no longer satisfies
// Worker[T]), and Register refuses a worker with a method whose name is a
// near miss of a setting's (Timout, MaxAttempt), which would otherwise be
// silently ignored.
type Worker[T any] interface {
	// Work runs one attempt of the job.
	Work(ctx context.Context, j *job.Job[T]) error
	// Timeout bounds the attempt of j (unless the job sets its own);
	// zero means the pool's Config.Timeout.
	Timeout(j *job.Job[T]) time.Duration
	// MaxAttempts bounds the attempts of the kind's jobs that set no limit;
	// zero means the pool's Config.MaxAttempts.
	MaxAttempts() int
	// RetryPolicy gives the delays between the kind's attempts; nil means
	// the pool's Config.RetryPolicy.
	RetryPolicy() retry.Policy
	// Middleware wraps the kind's handler, inside the pool's middleware.
	Middleware() []job.Middleware
}

// WorkerDefaults implements every setting method of Worker[T] with the
// pool's setting. Embed it in a worker and override what differs:
//
//	type reportWorker struct{ worker.WorkerDefaults[ReportArgs] }
//
//	func (reportWorker) MaxAttempts() int { return 3 }
type WorkerDefaults[T any] struct{}

// Timeout returns 0: the pool's timeout.
func (WorkerDefaults[T]) Timeout(*job.Job[T]) time.Duration { return 0 }

// MaxAttempts returns 0: the pool's limit.
func (WorkerDefaults[T]) MaxAttempts() int { return 0 }

// RetryPolicy returns nil: the pool's policy.
func (WorkerDefaults[T]) RetryPolicy() retry.Policy { return nil }

// Middleware returns nil: no middleware of the kind's own.
func (WorkerDefaults[T]) Middleware() []job.Middleware { return nil }

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

// WithKeepResult keeps the state and result of the kind's jobs that do not
// say otherwise (job.KeepResult, the Jetjobs-Keep-Result header) for ttl
// after each change; see docs/results.md.
func WithKeepResult(ttl time.Duration) KindOption {
	return func(k *kindEntry) error {
		if ttl < time.Second {
			return fmt.Errorf("%w: WithKeepResult(%s): use at least 1s (the server counts state TTLs in seconds)", job.ErrInvalidOption, ttl)
		}
		k.keepResult = ttl
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
	keepResult  time.Duration
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

// HandleResult registers fn, a handler that returns a result, for jobs of
// kind whose arguments decode into T. When the job keeps its result
// (job.KeepResult, or WithKeepResult among opts) and fn returns a nil
// error, the result is stored as JSON with the job's state, for
// job.Client.Await; a result that does not encode or exceeds
// job.MaxResultSize fails the attempt permanently (the job is
// dead-lettered with reason "failed"). For a job that does not keep its
// result, the result is dropped without being encoded.
func HandleResult[T, R any](p *Pool, kind string, fn func(ctx context.Context, j *job.Job[T]) (R, error), opts ...KindOption) error {
	if fn == nil {
		return fmt.Errorf("%w: HandleResult(%q): nil handler", job.ErrInvalidOption, kind)
	}
	return p.register(kind, typed(func(ctx context.Context, j *job.Job[T]) error {
		r, err := fn(ctx, j)
		if err != nil || !job.KeepsResult(ctx) {
			return err
		}
		if err := job.RecordResult(ctx, r); err != nil {
			return job.Permanent(err)
		}
		return nil
	}, nil), opts)
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
	if err := checkMethodNames(w); err != nil {
		return err
	}
	var pre []KindOption
	if n := w.MaxAttempts(); n != 0 {
		pre = append(pre, WithMaxAttempts(n))
	}
	if r := w.RetryPolicy(); r != nil {
		pre = append(pre, WithRetryPolicy(r))
	}
	if mws := w.Middleware(); len(mws) > 0 {
		pre = append(pre, WithMiddleware(mws...))
	}
	return p.register(kind, typed(w.Work, w.Timeout), append(pre, opts...))
}

// settingMethods are the methods of Worker[T] (and Kind) that the pool
// calls.
var settingMethods = []string{"Work", "Kind", "Timeout", "MaxAttempts", "RetryPolicy", "Middleware"}

// checkMethodNames refuses a worker with a method whose name is a near miss
// of a setting method's: it would never be called, and the setting the
// author meant would silently not apply.
func checkMethodNames(w any) error {
	t := reflect.TypeOf(w)
	for i := range t.NumMethod() {
		name := t.Method(i).Name
		if slices.Contains(settingMethods, name) {
			continue
		}
		for _, want := range settingMethods {
			if nearMiss(name, want) {
				return fmt.Errorf("%w: Register: %s has a method %s, which the pool never calls; did you mean %s? (see worker.Worker)", job.ErrInvalidOption, t, name, want)
			}
		}
	}
	return nil
}

// nearMiss reports whether name differs from want only in case, or by at
// most two edits for names of five letters or more.
func nearMiss(name, want string) bool {
	a, b := strings.ToLower(name), strings.ToLower(want)
	if a == b {
		return true
	}
	return len(b) >= 5 && editDistance(a, b) <= 2
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
