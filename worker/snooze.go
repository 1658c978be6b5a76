package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// snooze runs the job again after d without using up an attempt: it
// republishes the job, carrying the attempts used so far, and then
// acknowledges the original. The copy waits on a server schedule, or, with
// Config.SnoozeInQueue or without the schedule stream, in the job's own
// queue until its job.HeaderNotBefore time. Schedules fire on whole
// seconds, so there a delay under a second waits until the next one. A zero
// delay republishes the job to the back of its queue at once.
func (p *Pool) snooze(msg jetstream.Msg, info *job.Info, d time.Duration) {
	if p.holdInSequence(msg, info, d) {
		return
	}
	if d <= 0 {
		p.handBack(msg)
		return
	}
	until := time.Now().Add(d)
	if p.schedules && !p.cfg.SnoozeInQueue {
		meta, _ := msg.Metadata()
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		defer cancel()
		h := laterCopyHeader(msg, info, 3)
		h.Set(wire.MsgID, wire.CopyID(wire.CopySnooze, meta.Stream, meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered))
		h.Set(wire.ScheduleSpec, wire.ScheduleAt(until))
		h.Set(wire.ScheduleTarget, p.cfg.Topology.FireSubject(info.Queue, info.Kind))
		sm := &nats.Msg{
			// A subject of this message's own: the server keeps one schedule
			// per subject, and two messages may carry the same job ID.
			Subject: p.cfg.Topology.AtSubject(info.ID) + "." + strconv.FormatUint(meta.Sequence.Stream, 10),
			Header:  h,
			Data:    msg.Data(),
		}
		_, err := p.js.PublishMsg(ctx, sm)
		if err == nil {
			p.ackCopied(ctx, msg, info, "snoozed")
			return
		}
		p.log.LogAttrs(ctx, slog.LevelWarn, "snooze schedule failed; the job waits in its queue instead",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
	}
	p.requeue(msg, info, until, wire.CopySnooze, nil)
}

// laterCopyHeader returns the headers of a copy of msg that runs later
// without using up an attempt (a snooze, a pass, a hand-back): the job's
// own, its ID, the attempts used before this delivery, and when it was
// first enqueued (keepEnqueuedAt). room is capacity for the caller's
// headers.
func laterCopyHeader(msg jetstream.Msg, info *job.Info, room int) nats.Header {
	h := wire.CopyHeader(msg.Headers(), 4+room)
	h.Set(wire.ID, info.ID)
	h.Set(wire.AttemptBase, strconv.Itoa(max(info.Attempt-1, 0)))
	keepEnqueuedAt(h, info)
	return h
}

// keepEnqueuedAt gives h, the headers of a copy of the job of info, the
// time the job was first enqueued if they do not carry it: a job enqueued
// without Jetjobs-Enqueued-At has that time only as the stream timestamp
// of its message, which a copy does not share. h needs room for one more.
func keepEnqueuedAt(h nats.Header, info *job.Info) {
	if h.Get(wire.EnqueuedAt) == "" && !info.EnqueuedAt.IsZero() {
		h.Set(wire.EnqueuedAt, info.EnqueuedAt.UTC().Format(time.RFC3339Nano))
	}
}

// requeue republishes the job of msg to its own subject to start no
// earlier than until, without using up an attempt (wire.NotBefore), with
// the headers set adds, and acknowledges the original once the copy is
// stored. kind names the copy in its message ID. If the copy cannot be
// stored the job is Nak'd until then, which counts a delivery.
func (p *Pool) requeue(msg jetstream.Msg, info *job.Info, until time.Time, kind string, set func(nats.Header)) {
	meta, _ := msg.Metadata()
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	h := laterCopyHeader(msg, info, 3)
	h.Set(wire.MsgID, wire.CopyID(kind, meta.Stream, meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered, 1))
	h.Set(wire.NotBefore, until.UTC().Format(time.RFC3339Nano))
	if set != nil {
		set(h)
	}
	if _, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject(), Header: h, Data: msg.Data()}); err != nil {
		p.log.LogAttrs(ctx, slog.LevelWarn, "republishing a job for later failed; it waits with a delayed Nak, which counts an attempt",
			slog.String("job_id", info.ID), slog.String("copy", kind), slog.String("error", err.Error()))
		p.nak(msg, info, time.Until(until))
		return
	}
	p.ackCopied(ctx, msg, info, kind)
}

// ackCopied acknowledges the original of a job whose copy is stored.
func (p *Pool) ackCopied(ctx context.Context, msg jetstream.Msg, info *job.Info, what string) {
	if err := msg.DoubleAck(ctx); err != nil {
		// The copy is stored; the original comes back after AckWait and
		// would run too. Say so: this is one of the documented duplicates.
		p.log.LogAttrs(ctx, slog.LevelWarn, "acknowledging a job whose copy is stored failed; it may run twice",
			slog.String("job_id", info.ID), slog.String("copy", what), slog.String("error", err.Error()))
	}
}
