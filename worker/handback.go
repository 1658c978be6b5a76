package worker

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// handBack returns a job that did not get a fair attempt, through no fault
// of its own: it arrived as the pool was stopping or without a free slot,
// or shutdown canceled it mid-run. A Nak would make the next delivery count
// as one more attempt, so a job handed back on its last attempt would be
// dead-lettered as max-deliveries without running again. Instead the job is
// republished to its subject with the attempts it really used in
// Jetjobs-Attempt-Base (same ID, payload, headers and enqueue time) and
// the original is acknowledged once the copy is stored. The copy joins the
// back of the queue. If the republish fails (the stream is full, the server is away)
// the job is Nak'd (until its Jetjobs-Not-Before if it is not due yet), and
// that delivery counts.
func (p *Pool) handBack(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil || p.inSequence(msg) {
		// A sequence job stays at the head of its key (sequence.go).
		_ = msg.Nak()
		return
	}
	info, _ := job.ReadInfo(p.cfg.Topology.Prefix, msg, p.cfg.MaxAttempts)
	h := laterCopyHeader(msg, info, 1) // this delivery does not count
	h.Set(job.HeaderMsgID, wire.CopyID(wire.CopyHandBack, meta.Stream, meta.Sequence.Stream, meta.Timestamp, meta.NumDelivered))
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: msg.Subject(), Header: h, Data: msg.Data()}); err != nil {
		// A job not due yet comes back at its time, not at once: a
		// delivery before it is an early one, and only one early delivery
		// of a message is not counted as an attempt (job.ReadInfo).
		if wait := time.Until(info.NotBefore); wait > 0 {
			_ = msg.NakWithDelay(wait)
			return
		}
		_ = msg.Nak()
		return
	}
	// If this acknowledgement is lost the original comes back after AckWait
	// as well: one of the documented ways a job runs twice.
	_ = msg.DoubleAck(ctx)
}

// handBackLater hands msg back on a goroutine of its own, for callers that
// must not block (the subscription callback that receives jobs). Stop waits
// for it like for a running job.
func (p *Pool) handBackLater(msg jetstream.Msg) {
	p.jobs.Add(1)
	go func() {
		defer p.jobs.Done()
		p.handBack(msg)
	}()
}
