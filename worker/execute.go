package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// ackTimeout bounds each confirmed acknowledgement and dead-letter publish.
const ackTimeout = 5 * time.Second

// execute runs one delivered job and settles it with the server. It
// returns false when it handed the job's acknowledgement to the acker,
// which then finishes the job; true when the job is finished.
func (p *Pool) execute(msg jetstream.Msg) bool {
	info, err := job.ReadInfo(p.cfg.Topology.Prefix, msg, p.cfg.MaxAttempts)
	if info == nil {
		// Not a JetStream message at all; nothing sensible can be done but
		// to keep it from coming back.
		p.log.LogAttrs(context.Background(), slog.LevelError, "received a message without JetStream metadata; terminating it",
			slog.String("subject", msg.Subject()), slog.String("error", err.Error()))
		_ = msg.Term()
		return true
	}
	entry := p.kinds[info.Kind] // read-only once started
	if entry != nil && entry.maxAttempts > 0 && info.Header.Get(job.HeaderMaxAttempts) == "" {
		info.MaxAttempts = entry.maxAttempts
	}
	info.MaxAttempts = min(info.MaxAttempts, p.cfg.MaxDeliver)

	// The job stays on the heartbeat list until its outcome is settled: a
	// dead-letter publish that retries through a slow server must not let
	// AckWait run out.
	token := p.inflight.add(msg)
	var ev Event
	switch {
	case err != nil:
		ev = p.deadLetter(msg, info, job.ReasonDecode, err, false)
	case info.Attempt > info.MaxAttempts:
		ev = p.deadLetter(msg, info, job.ReasonMaxDeliveries, fmt.Errorf(
			"delivery %d exceeds max attempts %d: earlier attempts ended without an outcome (the worker died or lost its connection)",
			info.Attempt, info.MaxAttempts), false)
	case p.cancels.canceledBeforeStart(info):
		ev = p.deadLetter(msg, info, job.ReasonCanceled, errCanceledBeforeStart, false)
	case !info.Deadline.IsZero() && time.Now().After(info.Deadline):
		ev = p.deadLetter(msg, info, job.ReasonExpired, fmt.Errorf("deadline %s passed before the job started", info.Deadline.Format(time.RFC3339)), false)
	case early(info):
		// Not an attempt: back to the server until its time.
		p.inflight.remove(token)
		p.nak(msg, info, time.Until(info.NotBefore))
		return true
	case entry == nil:
		ev = p.noHandler(msg, info)
	default:
		if info.Timeout == 0 {
			info.Timeout = entry.timeout
		}
		if info.Timeout == 0 {
			info.Timeout = p.cfg.Timeout
		}
		start := time.Now()
		err = p.run(entry, msg, info)
		elapsed := time.Since(start)
		if err == nil {
			p.inflight.remove(token) // the acknowledgement is on its way
			p.acker.ack(msg, Event{Info: info, Outcome: OutcomeSucceeded, Duration: elapsed})
			return false
		}
		ev = p.settle(msg, info, entry, err)
		ev.Duration = elapsed
	}
	p.inflight.remove(token)
	p.cfg.Hooks.fire(ev, p.log)
	return true
}

// run calls the kind's handler chain with the job's context: the pool's job
// context (canceled at the shutdown deadline), the job's Info, its timeout,
// and canceled if the job is canceled by ID. A panic becomes a *job.PanicError.
func (p *Pool) run(entry *kindEntry, msg jetstream.Msg, info *job.Info) (err error) {
	ctx, tracked := p.cancels.track(job.WithInfo(p.jobCtx, info), info)
	defer func(ctx context.Context) { err = p.cancels.untrack(ctx, tracked, err) }(ctx) // after recover: a canceled job's panic is a cancel too
	if info.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, info.Timeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			pe := &job.PanicError{Value: v, Stack: debug.Stack()}
			p.log.LogAttrs(ctx, slog.LevelError, "job handler panicked",
				slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind),
				slog.Int("attempt", info.Attempt), slog.Any("panic", v), slog.String("stack", string(pe.Stack)))
			err = pe
		}
	}()
	return entry.chain.Handle(ctx, info)
}

// settle maps a failed attempt onto the server: retry, snooze or dead
// letter. (Success goes to the acker.)
func (p *Pool) settle(msg jetstream.Msg, info *job.Info, entry *kindEntry, err error) Event {
	var (
		snooze    *job.SnoozeError
		permanent *job.PermanentError
		canceled  *job.CanceledError
	)
	switch {
	case p.hardStop.Load():
		// Canceled by shutdown: let another worker have it at once,
		// without counting the interrupted attempt.
		p.handBack(msg)
		return Event{Info: info, Outcome: OutcomeInterrupted, Err: err}
	case errors.As(err, &snooze):
		p.snooze(msg, info, snooze.Delay)
		return Event{Info: info, Outcome: OutcomeSnoozed, Err: err, Delay: snooze.Delay}
	case errors.As(err, &canceled):
		return p.deadLetter(msg, info, job.ReasonCanceled, err, true)
	case errors.Is(err, job.ErrDecode):
		return p.deadLetter(msg, info, job.ReasonDecode, err, true)
	case errors.As(err, &permanent), info.Attempt >= info.MaxAttempts:
		return p.deadLetter(msg, info, job.ReasonFailed, err, true)
	default:
		delay := entry.policy.Delay(info.Attempt)
		p.nak(msg, info, delay)
		return Event{Info: info, Outcome: OutcomeRetried, Err: err, Delay: delay}
	}
}

// notBeforeSlack is how early a job with job.HeaderNotBefore may start: its
// time was set by another worker's clock, and a delivery that comes back a
// little early must not count as one more early delivery.
const notBeforeSlack = 100 * time.Millisecond

// early reports whether the job of info must wait for its NotBefore time.
func early(info *job.Info) bool {
	return !info.NotBefore.IsZero() && time.Until(info.NotBefore) > notBeforeSlack
}

func (p *Pool) nak(msg jetstream.Msg, info *job.Info, delay time.Duration) {
	if err := msg.NakWithDelay(delay); err != nil {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "scheduling a retry failed; the job comes back after AckWait",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.String("error", err.Error()))
	}
}

// noHandler handles a job of a kind this pool does not serve: another
// worker version may serve it, so it is retried like a failure and
// dead-lettered with reason no-handler after its last attempt.
func (p *Pool) noHandler(msg jetstream.Msg, info *job.Info) Event {
	cause := fmt.Errorf("no handler registered for kind %q (queue %s); registered: %v", info.Kind, info.Queue, p.Kinds())
	if info.Attempt >= info.MaxAttempts {
		return p.deadLetter(msg, info, job.ReasonNoHandler, cause, false)
	}
	p.log.LogAttrs(context.Background(), slog.LevelWarn, "job has no handler; will retry",
		slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind),
		slog.Int("attempt", info.Attempt), slog.Int("max_attempts", info.MaxAttempts))
	delay := p.cfg.RetryPolicy.Delay(info.Attempt)
	p.nak(msg, info, delay)
	return Event{Info: info, Outcome: OutcomeRetried, Err: cause, Delay: delay}
}
