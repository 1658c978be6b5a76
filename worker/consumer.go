package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// ConsumerConfig returns the durable pull consumer configuration of queue:
// named after the queue, filtered to <prefix>.<queue>.>, explicit acks.
func ConsumerConfig(topo job.Topology, queue string, ackWait time.Duration, maxDeliver, limit int) jetstream.ConsumerConfig {
	topo = topo.WithDefaults()
	maxAckPending := -1
	if limit > 0 {
		maxAckPending = limit
	}
	return jetstream.ConsumerConfig{
		Name:          queue,
		Durable:       queue,
		Description:   "jetjobs queue " + queue,
		FilterSubject: topo.Prefix + "." + queue + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: maxAckPending,
		MaxWaiting:    512,
		Replicas:      0, // inherit the stream's
	}
}

func (p *Pool) ensureConsumer(ctx context.Context, stream jetstream.Stream, name string, qc QueueConfig) (jetstream.Consumer, error) {
	want := ConsumerConfig(p.cfg.Topology, name, p.cfg.AckWait, p.cfg.MaxDeliver, qc.Limit)
	if existing, err := stream.Consumer(ctx, name); err == nil {
		have := existing.CachedInfo().Config
		if have.FilterSubject != want.FilterSubject || len(have.FilterSubjects) > 0 || have.AckPolicy != want.AckPolicy || have.DeliverSubject != "" {
			return nil, fmt.Errorf("%w: consumer %s on stream %s is not a jetjobs queue consumer (filter %q, ack policy %s); delete it or serve another queue",
				job.ErrTopologyMismatch, name, stream.CachedInfo().Config.Name, have.FilterSubject, have.AckPolicy)
		}
		if have.AckWait == want.AckWait && have.MaxDeliver == want.MaxDeliver && have.MaxAckPending == want.MaxAckPending {
			return existing, nil
		}
		// Keep a pause set by an operator across worker restarts.
		want.PauseUntil = have.PauseUntil
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: create or update consumer for queue %s: %w", name, err)
	}
	return cons, nil
}

// recreateConsumer creates q's consumer again after it was deleted, or
// checks that it exists.
func (p *Pool) recreateConsumer(ctx context.Context, q *queue) {
	if q.part != nil {
		p.recreatePartitionConsumer(ctx, q)
		return
	}
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return
	}
	cons, err := p.ensureConsumer(ctx, stream, q.name, p.cfg.Queues[q.name])
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "recreating queue consumer failed", slog.String("queue", q.name), slog.String("error", err.Error()))
		return
	}
	q.setConsumer(cons)
}
