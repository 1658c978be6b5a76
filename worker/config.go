package worker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// Config configures a Pool. Its zero value serves the queue "default" with
// 10 concurrent jobs in the default namespace.
type Config struct {
	// Queues maps each queue the pool serves to its settings. Empty means
	// {"default": {Concurrency: 10}}.
	Queues map[string]QueueConfig
	// Concurrency, if set, is one budget of job slots that all queues of
	// the pool share by priority: a slot that frees up goes to the waiting
	// queue with the highest QueueConfig.Priority (strict priority), and
	// queues of equal priority share slots in proportion to their
	// QueueConfig.Weight (weighted). A busy queue of low priority then
	// cannot starve one of higher priority. An idle queue holds one slot
	// while it waits for jobs, so the budget must be at least the number of
	// queues, and should be well above. Each
	// queue's own Concurrency still caps it. Zero gives each queue its own
	// QueueConfig.Concurrency slots and ignores Priority and Weight. See
	// docs/control.md.
	Concurrency int
	// Topology names the streams; its zero value is the default namespace.
	Topology job.Topology
	// SkipTopology makes Start assume the streams exist instead of creating
	// or updating them (for workers without stream-admin permissions). The
	// queue consumers are still created or updated.
	SkipTopology bool
	// SnoozeInQueue makes snoozed jobs wait in their own queue instead of
	// the schedule stream: the job is republished to its subject with
	// job.HeaderNotBefore, and a worker that receives it earlier hands it
	// back to the server with a delayed Nak without running it. Set it for
	// workers that may not publish to the schedule stream (the worker role
	// of docs/security.md): the server allows roll-ups on every stream
	// that holds schedules, so whoever may publish there can erase all of
	// them. A job waiting this way counts toward its queue's Limit; a
	// snooze through the schedule stream does not.
	SnoozeInQueue bool
	// Logger receives the pool's logs, among them one line per settled
	// delivery (see docs/observability.md); nil means slog.Default().
	Logger *slog.Logger
	// Middleware wraps every handler, Middleware[0] outermost, around the
	// per-kind middleware. The pool recovers panics, applies timeouts and
	// logs each attempt itself, outside all middleware.
	Middleware []job.Middleware
	// RetryPolicy decides the delay after a failed attempt; nil means
	// retry.Default() (exponential from 1s to 1h with jitter).
	RetryPolicy retry.Policy
	// MaxAttempts bounds the attempts of jobs that set no limit of their
	// own; default job.DefaultMaxAttempts (25).
	MaxAttempts int
	// Timeout bounds each attempt of jobs that set no timeout of their own;
	// zero means no timeout.
	Timeout time.Duration
	// UnservedTimeout is how long a job of a kind this pool has no handler
	// for waits for a worker of its queue that has one before it is
	// dead-lettered with reason no-handler; default 24 hours. While it
	// waits, workers without the kind pass it on without charging an
	// attempt, each time after a quarter of the time it has waited so far
	// (1s to 5m).
	UnservedTimeout time.Duration
	// MaxTimeout caps every attempt, whatever the job's own Jetjobs-Timeout
	// or its kind's setting asks (a job from another service may ask for
	// years); zero means no cap.
	MaxTimeout time.Duration
	// AckWait is how long the server waits for an acknowledgement or a
	// heartbeat before it redelivers a job; default 30s. Running jobs send a
	// heartbeat every AckWait/3, so only a dead worker's job waits this long.
	AckWait time.Duration
	// MaxDeliver bounds the deliveries of one job message on the server, the
	// backstop for jobs whose worker dies on every attempt; default 100, or
	// MaxAttempts+1 when that is more. It must exceed MaxAttempts; per-job
	// limits above it are capped to it.
	MaxDeliver int
	// FetchBatch caps how many jobs one pull request asks for; default 256.
	// The pool never asks for more jobs than it has free slots.
	FetchBatch int
	// FetchWait is how long one pull request waits for jobs; default 10s.
	FetchWait time.Duration
	// AckAsync acknowledges successful jobs with a plain Ack instead of a
	// confirmed double ack. It is faster; an ack lost on the way then makes
	// the job run again (see docs/semantics.md).
	AckAsync bool
	// Hooks are called after each delivery is settled.
	Hooks Hooks
	// ShutdownTimeout is how long Run lets running jobs finish after its
	// context ends; default 30s.
	ShutdownTimeout time.Duration
}

// QueueConfig configures one queue of a Pool.
type QueueConfig struct {
	// Concurrency is how many jobs of this queue the process runs at once;
	// default 10, or Config.Concurrency when that is set.
	Concurrency int
	// Priority ranks the queue when queues share Config.Concurrency: free
	// slots go to waiting queues of higher Priority first. Default 0.
	Priority int
	// Weight shares Config.Concurrency among waiting queues of equal
	// Priority in proportion to it; default 1.
	Weight int
	// Limit bounds the jobs of this queue running across every worker
	// process (the consumer's MaxAckPending); zero means unlimited. The
	// value is shared by every process serving the queue: the last process
	// to start sets it.
	Limit int
}

const (
	defaultConcurrency     = 10
	defaultAckWait         = 30 * time.Second
	defaultMaxDeliver      = 100
	defaultUnservedTimeout = 24 * time.Hour
	defaultFetchBatch      = 256
	defaultFetchWait       = 10 * time.Second
	defaultShutdownTimeout = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if len(c.Queues) == 0 {
		c.Queues = map[string]QueueConfig{job.DefaultQueue: {}}
	}
	qs := make(map[string]QueueConfig, len(c.Queues))
	for name, q := range c.Queues {
		if q.Concurrency == 0 {
			q.Concurrency = defaultConcurrency
			if c.Concurrency > 0 {
				q.Concurrency = c.Concurrency
			}
		}
		if q.Weight == 0 {
			q.Weight = 1
		}
		qs[name] = q
	}
	c.Queues = qs
	c.Topology = c.Topology.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RetryPolicy == nil {
		c.RetryPolicy = retry.Default()
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = job.DefaultMaxAttempts
	}
	if c.AckWait == 0 {
		c.AckWait = defaultAckWait
	}
	if c.UnservedTimeout == 0 {
		c.UnservedTimeout = defaultUnservedTimeout
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = max(defaultMaxDeliver, c.MaxAttempts+1)
	}
	if c.FetchBatch == 0 {
		c.FetchBatch = defaultFetchBatch
	}
	if c.FetchWait == 0 {
		c.FetchWait = defaultFetchWait
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	return c
}

func (c Config) validate() error {
	if err := c.Topology.Validate(); err != nil {
		return err
	}
	for name, q := range c.Queues {
		if err := job.ValidateQueue(name); err != nil {
			return fmt.Errorf("Config.Queues: %w", err)
		}
		if q.Concurrency < 1 {
			return fmt.Errorf("%w: queue %s: Concurrency %d must be >= 1", job.ErrInvalidOption, name, q.Concurrency)
		}
		if q.Weight < 1 {
			return fmt.Errorf("%w: queue %s: Weight %d must be >= 1", job.ErrInvalidOption, name, q.Weight)
		}
		if c.Concurrency == 0 && (q.Priority != 0 || q.Weight != 1) {
			return fmt.Errorf("%w: queue %s: Priority and Weight apply to queues sharing Config.Concurrency; set it", job.ErrInvalidOption, name)
		}
		if q.Limit < 0 {
			return fmt.Errorf("%w: queue %s: Limit %d must be >= 0 (0 means unlimited)", job.ErrInvalidOption, name, q.Limit)
		}
	}
	if e, ok := c.RetryPolicy.(retry.Exponential); ok {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("%w: Config.RetryPolicy: %w", job.ErrInvalidOption, err)
		}
	}
	switch {
	case c.Concurrency < 0:
		return fmt.Errorf("%w: Config.Concurrency %d must be >= 0 (0: each queue has its own slots)", job.ErrInvalidOption, c.Concurrency)
	case c.Concurrency > 0 && c.Concurrency < len(c.Queues):
		return fmt.Errorf("%w: Config.Concurrency %d is less than the %d queues sharing it; each idle queue holds a slot while it waits for jobs", job.ErrInvalidOption, c.Concurrency, len(c.Queues))
	case c.MaxAttempts < 1:
		return fmt.Errorf("%w: Config.MaxAttempts %d must be >= 1", job.ErrInvalidOption, c.MaxAttempts)
	case c.AckWait < time.Second:
		return fmt.Errorf("%w: Config.AckWait %s must be at least 1s", job.ErrInvalidOption, c.AckWait)
	case c.MaxDeliver <= c.MaxAttempts:
		return fmt.Errorf("%w: Config.MaxDeliver %d must exceed MaxAttempts %d", job.ErrInvalidOption, c.MaxDeliver, c.MaxAttempts)
	case c.Timeout < 0:
		return fmt.Errorf("%w: Config.Timeout %s must not be negative", job.ErrInvalidOption, c.Timeout)
	case c.UnservedTimeout < 0:
		return fmt.Errorf("%w: Config.UnservedTimeout %s must not be negative (zero means the default, 24h)", job.ErrInvalidOption, c.UnservedTimeout)
	case c.MaxTimeout < 0:
		return fmt.Errorf("%w: Config.MaxTimeout %s must not be negative (zero means no cap)", job.ErrInvalidOption, c.MaxTimeout)
	case c.FetchBatch < 1:
		return fmt.Errorf("%w: Config.FetchBatch %d must be >= 1", job.ErrInvalidOption, c.FetchBatch)
	case c.FetchWait < 2*time.Second:
		return fmt.Errorf("%w: Config.FetchWait %s must be at least 2s", job.ErrInvalidOption, c.FetchWait)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("%w: Config.ShutdownTimeout %s must not be negative", job.ErrInvalidOption, c.ShutdownTimeout)
	}
	return nil
}
