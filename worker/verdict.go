package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// action is what the pool does with one delivery of a job.
type action uint8

const (
	// actRun starts the job's handler; decide is asked again with its
	// result.
	actRun action = iota
	// actAck acknowledges a job whose handler returned nil.
	actAck
	// actRetry Naks the job with verdict.delay: the next delivery is the
	// next attempt.
	actRetry
	// actSnooze republishes the job to run again after verdict.delay
	// without using up an attempt (job.Snooze).
	actSnooze
	// actDeadLetter moves the job to the dead-letter stream with
	// verdict.reason, then terminates it.
	actDeadLetter
	// actHandBack republishes the job for another worker at once without
	// counting the attempt: shutdown interrupted it.
	actHandBack
	// actWait gives a job delivered before its job.Info.NotBefore time back
	// to the server until then; the delivery is not an attempt.
	actWait
	// actPass passes a job of a kind the pool has no handler for on to the
	// other workers of its queue: republished to run after verdict.delay
	// without using up an attempt.
	actPass
)

// attempt is what decide needs to know of one delivery: the job, and either
// why it cannot start or what its handler returned.
type attempt struct {
	info *job.Info
	now  time.Time
	// decodeErr is set when the job's subject or headers do not decode.
	decodeErr error
	// canceled: the job was canceled by ID before it started.
	canceled bool
	// served: the pool has a handler for the kind; registered lists the
	// kinds it has, for the error of a job it cannot serve.
	served     bool
	registered []string
	// unservedSince is when a worker first found no handler for the job
	// (zero: now); unservedLimit is how long it may wait for one.
	unservedSince time.Time
	unservedLimit time.Duration
	// ran: the handler ran and returned err.
	ran bool
	err error
	// interrupted: shutdown canceled the job's context while it ran.
	interrupted bool
	// policy gives the delay before the next attempt.
	policy retry.Policy
}

// verdict is the outcome of one delivery, with the one log line that says
// so.
type verdict struct {
	action action
	delay  time.Duration // retry, snooze or wait
	reason job.Reason    // dead letter
	err    error         // why the job failed or never ran; nil on success

	level slog.Level
	msg   string
}

// errCanceledBeforeStart is the dead-letter error of a job canceled before
// it started.
var errCanceledBeforeStart = fmt.Errorf("%w before it started", job.ErrCanceled)

// decide maps an attempt to its verdict. It is the one place that decides
// a job's outcome: the pool asks it before a job starts (ran false: the
// verdict is actRun, or why the job must not run) and again with what the
// handler returned. It does no I/O.
func decide(a attempt) verdict {
	if !a.ran {
		return decideBeforeStart(a)
	}
	info, err := a.info, a.err
	if err == nil {
		return verdict{action: actAck, level: slog.LevelDebug, msg: "job succeeded"}
	}
	var (
		snooze    *job.SnoozeError
		permanent *job.PermanentError
		canceled  *job.CanceledError
	)
	switch {
	case a.interrupted:
		return verdict{action: actHandBack, err: err, level: slog.LevelWarn, msg: "job interrupted; it will run again"}
	case errors.As(err, &snooze):
		return verdict{action: actSnooze, delay: snooze.Delay, err: err, level: slog.LevelInfo, msg: "job snoozed"}
	case errors.As(err, &canceled):
		return verdict{action: actDeadLetter, reason: job.ReasonCanceled, err: err, level: slog.LevelInfo, msg: "job canceled"}
	case errors.Is(err, job.ErrDecode):
		return verdict{action: actDeadLetter, reason: job.ReasonDecode, err: err, level: slog.LevelError, msg: "job failed permanently"}
	case errors.As(err, &permanent):
		return verdict{action: actDeadLetter, reason: job.ReasonFailed, err: err, level: slog.LevelError, msg: "job failed permanently"}
	case info.Attempt >= info.MaxAttempts:
		return verdict{action: actDeadLetter, reason: job.ReasonFailed, err: err, level: slog.LevelError, msg: "job failed on its last attempt"}
	default:
		return verdict{action: actRetry, delay: a.policy.Delay(info.Attempt), err: err, level: slog.LevelWarn, msg: "job failed, will retry"}
	}
}

// notBeforeSlack is how early a job with job.HeaderNotBefore may start: its
// time was set by another worker's clock, and a delivery that comes back a
// little early must not count as one more early delivery.
const notBeforeSlack = 100 * time.Millisecond

// Bounds of the wait before a job of a kind the pool has no handler for
// is offered again.
const (
	minUnservedDelay = time.Second
	maxUnservedDelay = 5 * time.Minute
)

// decideBeforeStart is decide for a job that has not run.
func decideBeforeStart(a attempt) verdict {
	info := a.info
	deadLetter := func(reason job.Reason, err error) verdict {
		return verdict{action: actDeadLetter, reason: reason, err: err, level: slog.LevelError, msg: "job dead-lettered"}
	}
	switch {
	case a.decodeErr != nil:
		return deadLetter(job.ReasonDecode, a.decodeErr)
	case info.Attempt > info.MaxAttempts:
		return deadLetter(job.ReasonMaxDeliveries, fmt.Errorf(
			"delivery %d exceeds max attempts %d: earlier attempts ended without an outcome (the worker died or lost its connection, or the dead letter of the last one could not be stored)",
			info.Attempt, info.MaxAttempts))
	case a.canceled:
		return deadLetter(job.ReasonCanceled, errCanceledBeforeStart)
	case !info.Deadline.IsZero() && a.now.After(info.Deadline):
		return deadLetter(job.ReasonExpired, fmt.Errorf("deadline %s passed before the job started", info.Deadline.Format(time.RFC3339)))
	case !info.NotBefore.IsZero() && info.NotBefore.Sub(a.now) > notBeforeSlack:
		return verdict{action: actWait, delay: info.NotBefore.Sub(a.now), level: slog.LevelDebug, msg: "job not due yet; waiting"}
	case !a.served:
		since := a.unservedSince
		if since.IsZero() || since.After(a.now) {
			since = a.now
		}
		waited := a.now.Sub(since)
		if waited >= a.unservedLimit {
			return deadLetter(job.ReasonNoHandler, fmt.Errorf("no worker of queue %s has a handler for kind %q: waited %s for one (this worker has %v)",
				info.Queue, info.Kind, waited.Round(time.Second), a.registered))
		}
		// Offer it again after a quarter of the time it has waited so far,
		// within bounds: soon while a worker that serves the kind may be
		// among the queue's (each offer reaches one of them), seldom once
		// none has come for long.
		delay := min(max(waited/4, minUnservedDelay), maxUnservedDelay, a.unservedLimit-waited)
		return verdict{action: actPass, delay: delay, err: fmt.Errorf("no handler registered for kind %q (queue %s); registered: %v", info.Kind, info.Queue, a.registered),
			level: slog.LevelDebug, msg: "job has no handler here; passed on"}
	}
	return verdict{action: actRun}
}
