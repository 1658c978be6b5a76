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
	if d <= 0 {
		p.handBack(msg)
		return
	}
	meta, _ := msg.Metadata()
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	h := job.CopyHeader(msg.Headers(), 5)
	h.Set(job.HeaderID, info.ID)
	h.Set(job.HeaderAttemptBase, strconv.Itoa(info.Attempt-1))
	h.Set(job.HeaderMsgID, wire.CopyID(wire.CopySnooze, meta.Stream, meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered))
	until := time.Now().Add(d)
	if p.schedules && !p.cfg.SnoozeInQueue {
		sh := job.CopyHeader(h, 2)
		sh.Set(job.HeaderMsgID, h.Get(job.HeaderMsgID))
		sh.Set(wire.ScheduleSpec, wire.ScheduleAt(until))
		sh.Set(wire.ScheduleTarget, p.cfg.Topology.FireSubject(info.Queue, info.Kind))
		sm := &nats.Msg{
			// A subject of this message's own: the server keeps one schedule
			// per subject, and two messages may carry the same job ID.
			Subject: p.cfg.Topology.AtSubject(info.ID) + "." + strconv.FormatUint(meta.Sequence.Stream, 10),
			Header:  sh,
			Data:    msg.Data(),
		}
		_, err := p.js.PublishMsg(ctx, sm)
		if err == nil {
			p.ackSnoozed(ctx, msg, info)
			return
		}
		p.log.LogAttrs(ctx, slog.LevelWarn, "snooze schedule failed; the job waits in its queue instead",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
		h.Set(job.HeaderMsgID, h.Get(job.HeaderMsgID)+":q")
	}
	h.Set(job.HeaderNotBefore, until.UTC().Format(time.RFC3339Nano))
	if _, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject(), Header: h, Data: msg.Data()}); err != nil {
		p.log.LogAttrs(ctx, slog.LevelWarn, "snoozing in the queue failed; snoozing with a delayed Nak, which counts an attempt",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
		p.nak(msg, info, d)
		return
	}
	p.ackSnoozed(ctx, msg, info)
}

// ackSnoozed acknowledges the original of a snoozed job once its copy is
// stored.
func (p *Pool) ackSnoozed(ctx context.Context, msg jetstream.Msg, info *job.Info) {
	if err := msg.DoubleAck(ctx); err != nil {
		// The copy is stored; the original comes back after AckWait and
		// would run too. Say so: this is one of the documented duplicates.
		p.log.LogAttrs(ctx, slog.LevelWarn, "acknowledging a snoozed job failed; it may run twice",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
	}
}
