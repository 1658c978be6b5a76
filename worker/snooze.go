package worker

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// snooze runs the job again after d without using up an attempt: it
// republishes the job on a server schedule carrying the attempts used so
// far, then acknowledges the original. Schedules fire on whole seconds, so
// a delay under a second waits until the next one. A zero delay republishes
// the job to the back of its queue at once (no schedule needed). Without
// server schedules (nats-server older than 2.12) a delay falls back to a
// Nak with delay, which does count a delivery.
func (p *Pool) snooze(msg jetstream.Msg, info *job.Info, d time.Duration) {
	if d <= 0 {
		p.handBack(msg)
		return
	}
	if !p.schedules {
		p.nak(msg, info, d)
		return
	}
	meta, _ := msg.Metadata()
	h := job.CopyHeader(msg.Headers(), 5)
	h.Set(job.HeaderID, info.ID)
	h.Set(job.HeaderAttemptBase, strconv.Itoa(info.Attempt-1))
	h.Set("Nats-Schedule", job.ScheduleAt(time.Now().Add(d)))
	h.Set("Nats-Schedule-Target", p.cfg.Topology.FireSubject(info.Queue, info.Kind))
	h.Set(job.HeaderMsgID, copyID("snooze", meta.Stream, meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered))
	sm := &nats.Msg{
		// A subject of this message's own: the server keeps one schedule
		// per subject, and two messages may carry the same job ID.
		Subject: p.cfg.Topology.AtSubject(info.ID) + "." + strconv.FormatUint(meta.Sequence.Stream, 10),
		Header:  h,
		Data:    msg.Data(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, sm); err != nil {
		p.log.LogAttrs(ctx, slog.LevelWarn, "snooze schedule failed; snoozing with a delayed Nak instead",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
		p.nak(msg, info, d)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		// The copy is scheduled; the original comes back after AckWait and
		// would run too. Say so: this is one of the documented duplicates.
		p.log.LogAttrs(ctx, slog.LevelWarn, "acknowledging a snoozed job failed; it may run twice",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
	}
}
