package metrics

import (
	"context"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// knownOutcomes and knownReasons get counters, at zero, as soon as a queue
// and kind is first seen.
var (
	knownOutcomes = [...]worker.Outcome{
		worker.OutcomeSucceeded, worker.OutcomeRetried, worker.OutcomeSnoozed,
		worker.OutcomeDeadLettered, worker.OutcomeInterrupted,
	}
	knownReasons = [...]job.Reason{
		job.ReasonFailed, job.ReasonMaxDeliveries, job.ReasonDecode,
		job.ReasonNoHandler, job.ReasonCanceled, job.ReasonExpired,
	}
)

// Instrument installs c on a pool's configuration: it puts c.Middleware
// first in cfg.Middleware, so handler durations include the application's
// middleware, and chains c.Observe before any cfg.Hooks.OnEvent already
// set. Call it before worker.New.
func (c *Collector) Instrument(cfg *worker.Config) {
	cfg.Middleware = append([]job.Middleware{c.Middleware()}, cfg.Middleware...)
	next := cfg.Hooks.OnEvent
	if next == nil {
		cfg.Hooks.OnEvent = c.Observe
		return
	}
	cfg.Hooks.OnEvent = func(ev worker.Event) {
		c.Observe(ev)
		next(ev)
	}
}

// Middleware returns the half of the instrumentation that sees handlers
// run: it counts started attempts, tracks the handlers running, and observes
// handler durations and, for first attempts, the time since the job was
// enqueued. Outcomes are counted by Observe, which also sees the jobs that
// never reach a handler; install both, or use Instrument.
func (c *Collector) Middleware() job.Middleware {
	return func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
			s := c.seriesFor(info.Queue, info.Kind, true) // a handler runs: the kind is registered
			start := time.Now()
			s.started.Inc()
			// A job's first start only: a snoozed or handed-back job runs
			// again at attempt 1 with Jetjobs-Attempt-Base set.
			if info.Attempt == 1 && !info.EnqueuedAt.IsZero() && info.Header.Get(job.HeaderAttemptBase) == "" {
				// Clocks of publishers may run ahead of ours; never negative.
				s.latency.Observe(max(start.Sub(info.EnqueuedAt), 0).Seconds())
			}
			s.running.Inc()
			defer func() {
				// Deferred so that a panicking handler is measured too.
				s.running.Dec()
				s.duration.Observe(time.Since(start).Seconds())
			}()
			return next.Handle(ctx, info)
		})
	}
}

// Observe counts one settled delivery: by outcome, by dead-letter reason,
// and as a failed attempt when its handler ran and returned an error that
// led to a retry or a dead letter. Install it as worker.Hooks.OnEvent (see
// Hooks and Instrument).
func (c *Collector) Observe(ev worker.Event) {
	if ev.Info == nil {
		return
	}
	s := c.seriesFor(ev.Info.Queue, ev.Info.Kind, false)
	s.outcome(c, ev.Outcome).Inc()
	switch ev.Outcome {
	case worker.OutcomeDeadLettered:
		s.reason(c, ev.Reason).Inc()
		// A job canceled by ID while it ran did not fail; it was stopped.
		if ev.Duration > 0 && ev.Reason != job.ReasonCanceled {
			s.failed.Inc()
		}
	case worker.OutcomeRetried:
		// Duration is zero when no handler ran (no handler registered, or
		// a dead-letter publish that failed before one could).
		if ev.Duration > 0 {
			s.failed.Inc()
		}
	}
}

// Hooks returns worker.Hooks that call Observe for every delivery.
func (c *Collector) Hooks() worker.Hooks {
	return worker.Hooks{OnEvent: c.Observe}
}

func (s *series) outcome(c *Collector, o worker.Outcome) interface{ Inc() } {
	for i, known := range knownOutcomes {
		if o == known {
			return s.outcomes[i]
		}
	}
	// An outcome added to the worker after this package was written.
	return c.jobs.WithLabelValues(s.key.queue, s.key.kind, string(o))
}

func (s *series) reason(c *Collector, r job.Reason) interface{ Inc() } {
	for i, known := range knownReasons {
		if r == known {
			return s.reasons[i]
		}
	}
	return c.deadLetters.WithLabelValues(s.key.queue, s.key.kind, labelValue(string(r)))
}
