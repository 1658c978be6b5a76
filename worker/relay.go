package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// The relay moves jobs the server fired from the schedule stream
// (<SchedulePrefix>.fire.<queue>.<kind>) into the work stream. Each served
// queue has one durable relay consumer shared by every pool serving it, so
// no leader is needed: whichever pool gets a fired job moves it, and the
// copy's Nats-Msg-Id makes a repeated move a duplicate the work stream
// ignores. The fired copy is acknowledged (and so removed) only after the
// work stream stored the job.

// relayConsumerName names the relay consumer of queue.
func relayConsumerName(queue string) string { return "fire-" + queue }

func (p *Pool) startRelays(ctx context.Context) error {
	stream, err := p.js.Stream(ctx, p.cfg.Topology.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // no schedules on this server (older than 2.12)
	}
	if err != nil {
		return fmt.Errorf("jetjobs: schedule stream %s: %w", p.cfg.Topology.ScheduleStream, err)
	}
	p.schedules = true
	for _, q := range p.queues {
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Name:          relayConsumerName(q.name),
			Durable:       relayConsumerName(q.name),
			Description:   "jetjobs: moves fired scheduled jobs of queue " + q.name + " into the work stream",
			FilterSubject: p.cfg.Topology.SchedulePrefix + ".fire." + q.name + ".>",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       30 * time.Second,
			MaxAckPending: 1024,
		})
		if err != nil {
			return fmt.Errorf("jetjobs: relay consumer for queue %s: %w", q.name, err)
		}
		cc, err := cons.Consume(p.relay, jetstream.PullMaxMessages(64), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			p.log.LogAttrs(context.Background(), slog.LevelDebug, "relay consumer", slog.String("queue", q.name), slog.String("error", err.Error()))
		}))
		if err != nil {
			return fmt.Errorf("jetjobs: relay for queue %s: %w", q.name, err)
		}
		p.relays = append(p.relays, cc)
	}
	return nil
}

// relay moves one fired job into the work stream.
func (p *Pool) relay(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	rest, _ := strings.CutPrefix(msg.Subject(), p.cfg.Topology.SchedulePrefix+".fire.")
	out := &nats.Msg{Subject: p.cfg.Topology.Prefix + "." + rest, Header: job.CopyHeader(msg.Headers(), 1), Data: msg.Data()}
	out.Header.Set(job.HeaderMsgID, copyID("fired", meta.Stream, meta.Sequence.Stream, meta.Timestamp))
	if name := out.Header.Get(job.HeaderSchedule); name != "" && out.Header.Get(job.HeaderID) == "" {
		// Each firing of a periodic schedule is a job of its own; its ID
		// stays the same if the move is repeated.
		out.Header.Set(job.HeaderID, name+"-"+strconv.FormatUint(meta.Sequence.Stream, 10))
	}
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, out); err != nil {
		p.log.LogAttrs(ctx, slog.LevelWarn, "moving a fired scheduled job into the work stream failed; retrying",
			slog.String("subject", out.Subject), slog.String("job_id", out.Header.Get(job.HeaderID)), slog.String("error", err.Error()))
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := msg.DoubleAck(ctx); err != nil {
		// The job is stored; a redelivered copy is deduplicated by its
		// Nats-Msg-Id within the duplicate window.
		p.log.LogAttrs(ctx, slog.LevelDebug, "acknowledging a relayed job failed", slog.String("error", err.Error()))
	}
}

func (p *Pool) stopRelays() {
	for _, cc := range p.relays {
		cc.Drain()
	}
	for _, cc := range p.relays {
		<-cc.Closed()
	}
}
