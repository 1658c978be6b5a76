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

// The relay moves jobs the server fired from the schedule stream
// (<SchedulePrefix>.fire.<queue>.<kind>) into the work stream. Each served
// queue has one durable relay consumer shared by every pool serving it, so
// no leader is needed: whichever pool gets a fired job moves it, and the
// copy's Nats-Msg-Id makes a repeated move a duplicate the work stream
// ignores. The fired copy is acknowledged (and so removed) only after the
// work stream stored the job.

// relays is the relay of every served queue, as a service.
type relays struct {
	js     jetstream.JetStream
	topo   job.Topology
	queues []string
	log    *slog.Logger

	// available: the schedule stream exists (a server of 2.12 or newer),
	// so snoozes can use it. Set by start.
	available bool
	ccs       []jetstream.ConsumeContext
}

func (r *relays) start(ctx context.Context) error {
	stream, err := r.js.Stream(ctx, r.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // no schedules on this server (older than 2.12)
	}
	if err != nil {
		return fmt.Errorf("jetjobs: schedule stream %s: %w", r.topo.ScheduleStream, err)
	}
	r.available = true
	for _, q := range r.queues {
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Name:          wire.FireConsumer(q),
			Durable:       wire.FireConsumer(q),
			Description:   "jetjobs: moves fired scheduled jobs of queue " + q + " into the work stream",
			FilterSubject: wire.FireFilter(r.topo.SchedulePrefix, q),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 1024,
		})
		if err == nil {
			var cc jetstream.ConsumeContext
			cc, err = cons.Consume(r.relay, jetstream.PullMaxMessages(64), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				r.log.LogAttrs(context.Background(), slog.LevelDebug, "relay consumer", slog.String("queue", q), slog.String("error", err.Error()))
			}))
			if err == nil {
				r.ccs = append(r.ccs, cc)
			}
		}
		if err != nil {
			r.stop()
			return fmt.Errorf("jetjobs: relay for queue %s: %w", q, err)
		}
	}
	return nil
}

// relay moves one fired job into the work stream.
func (r *relays) relay(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	out := &nats.Msg{Subject: wire.FiredJobSubject(r.topo.Prefix, r.topo.SchedulePrefix, msg.Subject()), Header: wire.CopyHeader(msg.Headers(), 1), Data: msg.Data()}
	out.Header.Set(wire.MsgID, wire.CopyID(wire.CopyFired, meta.Stream, meta.Sequence.Stream, meta.Timestamp))
	if name := out.Header.Get(job.HeaderSchedule); name != "" && out.Header.Get(job.HeaderID) == "" {
		// Each firing of a periodic schedule is a job of its own; its ID
		// stays the same if the move is repeated.
		out.Header.Set(job.HeaderID, wire.PeriodicJobID(name, meta.Sequence.Stream))
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, out); err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "moving a fired scheduled job into the work stream failed; retrying",
			slog.String("subject", out.Subject), slog.String("job_id", out.Header.Get(job.HeaderID)), slog.String("error", err.Error()))
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		// The job is stored; a redelivered copy is deduplicated by its
		// Nats-Msg-Id within the duplicate window.
		r.log.LogAttrs(ctx, slog.LevelDebug, "acknowledging a relayed job failed", slog.String("error", err.Error()))
	}
}

// stop drains the relays' consumers and waits until they are closed.
func (r *relays) stop() {
	for _, cc := range r.ccs {
		cc.Drain()
	}
	for _, cc := range r.ccs {
		<-cc.Closed()
	}
	r.ccs = nil
}
