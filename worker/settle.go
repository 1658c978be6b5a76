package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// deadLetterRetryDelay is how long a job whose dead letter could not be
// stored waits before it is delivered again (and dead-lettered again).
const deadLetterRetryDelay = 5 * time.Second

// settle carries out v for the delivery msg of the job of info, which ran
// for elapsed (zero if it did not run), logs the one line that says what
// became of it, takes it off the heartbeat list (token) and finishes it: at
// once, or for a success once the acker has the server's confirmation.
// For a job that keeps its result, sw records the outcome before it is
// carried out (a dead letter once it is stored): a job the server counts
// as done always has its final record, and a worker that dies in between
// leaves a final record and a job that runs again (docs/results.md).
func (p *Pool) settle(msg jetstream.Msg, info *job.Info, token uint64, v verdict, elapsed time.Duration, sw *stateWriter) {
	if v.action != actDeadLetter {
		sw.settled(v)
	}
	if (v.action == actAck || v.action == actRetry) && job.InFlow(info) {
		v = p.settleFlowStep(info, v)
	}
	ev := Event{Info: info, Err: v.err, Duration: elapsed, Delay: v.delay}
	switch v.action {
	case actAck:
		p.inflight.remove(token) // the acknowledgement is on its way
		p.logVerdict(info, v, elapsed)
		ev.Outcome = OutcomeSucceeded
		p.acker.ack(msg, ev)
		return
	case actWait:
		p.inflight.remove(token)
		p.nak(msg, info, v.delay)
		p.logVerdict(info, v, 0)
		p.jobs.Done() // not an attempt: no hooks
		return
	case actPass:
		if p.holdInSequence(msg, info, v.delay) {
			p.inflight.remove(token)
			p.logVerdict(info, v, 0)
			p.unserved.warn(p.log, info, p.kindNames)
			p.jobs.Done() // not an attempt: no hooks
			return
		}
		since := info.Header.Get(wire.UnservedSince)
		if since == "" {
			since = time.Now().UTC().Format(time.RFC3339Nano)
		}
		p.requeue(msg, info, time.Now().Add(v.delay), wire.CopyUnserved, func(h nats.Header) { h.Set(wire.UnservedSince, since) })
		p.inflight.remove(token)
		p.logVerdict(info, v, 0)
		p.unserved.warn(p.log, info, p.kindNames)
		p.jobs.Done() // not an attempt: no hooks
		return
	case actRetry:
		p.nak(msg, info, v.delay)
		ev.Outcome = OutcomeRetried
	case actSnooze:
		p.snooze(msg, info, v.delay)
		ev.Outcome = OutcomeSnoozed
	case actHandBack:
		p.handBack(msg)
		ev.Outcome = OutcomeInterrupted
	case actDeadLetter:
		// Off the runner: the publish may retry through a reconnect, and
		// the job's slot must not wait for it. Heartbeats go on until it is
		// settled, and Stop waits for it like for a running job.
		go p.settleDeadLetter(msg, info, token, v, ev, sw)
		return
	}
	p.inflight.remove(token)
	p.logVerdict(info, v, elapsed)
	p.finish(ev)
}

// settleDeadLetter stores the dead letter of a job and terminates it, or,
// if the dead letter cannot be stored, hands the job back to the server to
// be delivered (and dead-lettered) again.
func (p *Pool) settleDeadLetter(msg jetstream.Msg, info *job.Info, token uint64, v verdict, ev Event, sw *stateWriter) {
	recorded := false
	err := p.deadLetter(msg, info, v.reason, v.err, func() error {
		// Once the dead letter is stored, and before the job's batch or
		// workflow is advanced: a dependent enqueued by that step reads
		// this record.
		sw.settled(v)
		recorded = true
		if job.InFlow(info) {
			return p.flows.settle(info, job.StatusOfReason(v.reason))
		}
		return nil
	})
	if err != nil {
		_ = msg.NakWithDelay(deadLetterRetryDelay)
		what, cause := "dead-lettering failed; the job will be delivered again", fmt.Errorf("%w (storing its dead letter failed: %w)", v.err, err)
		if errors.Is(err, errFlowStep) {
			what, cause = "the job is dead-lettered but advancing its batch or workflow failed; it will be delivered (and dead-lettered) again", fmt.Errorf("%w (%w)", v.err, err)
		}
		v = verdict{action: actRetry, delay: deadLetterRetryDelay, reason: v.reason, level: slog.LevelError, msg: what, err: cause}
		ev.Outcome, ev.Delay = OutcomeRetried, deadLetterRetryDelay
		recorded = false // record the retry instead
	} else {
		ev.Outcome, ev.Reason = OutcomeDeadLettered, v.reason
	}
	if !recorded {
		sw.settled(v)
	}
	p.inflight.remove(token)
	p.logVerdict(info, v, ev.Duration)
	p.finish(ev)
}

// settleFlowStep runs the flow step of a job of a batch or workflow whose
// verdict is v (a success or a retry): a success is counted in its batch
// or workflow before it is acknowledged, and becomes a retry if that
// fails; a retry counts a failed attempt in its batch.
func (p *Pool) settleFlowStep(info *job.Info, v verdict) verdict {
	if v.action == actRetry {
		p.flows.attemptFailed(info)
		return v
	}
	if err := p.flows.settle(info, job.StatusSucceeded); err != nil {
		return verdict{action: actRetry, delay: deadLetterRetryDelay, level: slog.LevelError,
			msg: "the job succeeded but advancing its batch or workflow failed; it will be delivered again (and run again)", err: err}
	}
	return v
}

func (p *Pool) nak(msg jetstream.Msg, info *job.Info, delay time.Duration) {
	if err := msg.NakWithDelay(delay); err != nil {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "scheduling a retry failed; the job comes back after AckWait",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.String("error", err.Error()))
	}
}
