package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Sequences (job.Sequence, docs/sequences.md). The work stream stores a
// sequence job under one of its partitions; every queue has one durable
// consumer per partition with MaxAckPending 1, so the server hands out at
// most one job of a partition at a time, to whichever pool asks, and the
// next only once that one is acknowledged or terminated. A failed attempt
// is Nak'd with its delay and stays pending on the server (a delayed Nak
// only moves the redelivery time), so it blocks its partition until it
// succeeds or is dead-lettered: order holds through retries.
//
// A pool pulls each partition of each queue it serves through a puller of
// its own with one slot, beside the queue's own puller: the partitions'
// slots come on top of the queue's Concurrency (a partition runs one job
// at a time anyway), and neither the queue's Limit nor the shared
// Config.Concurrency bounds them.
//
// What would move a job to the back of its queue must not do so in a
// sequence, where a later job of the key would overtake it: a snooze, a
// hand-back at shutdown and passing on an unserved kind are delayed Naks
// instead (holdInSequence). Each of these deliveries counts as an attempt.

// partition marks a queue value that pulls one partition of a queue's
// sequences rather than the queue's own consumer.
type partition struct {
	index    int
	consumer string
}

// consumerName is the name of the consumer q pulls from.
func (q *queue) consumerName() string {
	if q.part != nil {
		return q.part.consumer
	}
	return q.name
}

// PartitionConsumerConfig returns the configuration of the durable pull
// consumer of one partition of queue's sequences: named
// job.PartitionConsumer(queue, partition), filtered to the partition's
// subjects, explicit acks and MaxAckPending 1.
func PartitionConsumerConfig(topo job.Topology, queue string, partition int, ackWait time.Duration, maxDeliver int) jetstream.ConsumerConfig {
	topo = topo.WithDefaults()
	name := wire.PartitionConsumer(queue, partition)
	return jetstream.ConsumerConfig{
		Name:          name,
		Durable:       name,
		Description:   fmt.Sprintf("jetjobs sequences of queue %s, partition %d", queue, partition),
		FilterSubject: wire.PartitionFilter(topo.Prefix, queue, partition),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       ackWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: 1, // the order: one job of the partition out at a time
		MaxWaiting:    512,
	}
}

// openSequences creates or updates the partition consumers of every
// served queue, as many as the work stream has partitions (none for a
// stream without the sequence transform, made by an older jetjobs and
// started with SkipTopology), and gives each a queue value with one slot.
func (p *Pool) openSequences(ctx context.Context) error {
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return fmt.Errorf("jetjobs: work stream %s: %w", p.cfg.Topology.Stream, err)
	}
	n := job.SequencePartitionsOf(stream.CachedInfo().Config, p.cfg.Topology.Prefix)
	// One request or two per consumer, made side by side: on a link with a
	// long round trip, sixteen partitions one after another would hold
	// Start for seconds.
	parts := make([]*queue, len(p.queues)*n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partitionSetupParallelism)
	for qi, q := range p.queues {
		for i := range n {
			g.Go(func() error {
				cons, err := p.ensurePartitionConsumer(gctx, stream, q, i)
				if err != nil {
					return err
				}
				parts[qi*n+i] = &queue{
					name: q.name, concurrency: 1, slots: newSemaphore(1), cons: cons,
					part: &partition{index: i, consumer: cons.CachedInfo().Name},
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	p.partitions = append(p.partitions, parts...)
	return nil
}

// partitionSetupParallelism bounds the partition consumers set up at once.
const partitionSetupParallelism = 16

// ensurePartitionConsumer creates or updates the consumer of partition i of
// q's sequences. A new one starts paused if q's own consumer is paused; an
// updated one keeps its pause.
func (p *Pool) ensurePartitionConsumer(ctx context.Context, stream jetstream.Stream, q *queue, i int) (jetstream.Consumer, error) {
	want := PartitionConsumerConfig(p.cfg.Topology, q.name, i, p.cfg.AckWait, p.cfg.MaxDeliver)
	if existing, err := stream.Consumer(ctx, want.Name); err == nil {
		have := existing.CachedInfo().Config
		if have.FilterSubject != want.FilterSubject || len(have.FilterSubjects) > 0 || have.AckPolicy != want.AckPolicy || have.DeliverSubject != "" {
			return nil, fmt.Errorf("%w: consumer %s on stream %s is not a jetjobs partition consumer (filter %q, ack policy %s); delete it",
				job.ErrTopologyMismatch, want.Name, p.cfg.Topology.Stream, have.FilterSubject, have.AckPolicy)
		}
		if have.AckWait == want.AckWait && have.MaxDeliver == want.MaxDeliver && have.MaxAckPending == want.MaxAckPending {
			return existing, nil
		}
		want.PauseUntil = have.PauseUntil
	} else if own := q.consumer(); own != nil {
		if until := own.CachedInfo().Config.PauseUntil; until != nil && until.After(time.Now()) {
			want.PauseUntil = until
		}
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: create or update consumer %s for the sequences of queue %s: %w", want.Name, q.name, err)
	}
	return cons, nil
}

// recreatePartitionConsumer creates the consumer of q, a partition, again
// after it was deleted, or checks that it exists.
func (p *Pool) recreatePartitionConsumer(ctx context.Context, q *queue) {
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return
	}
	own := &queue{name: q.name}
	for _, oq := range p.queues {
		if oq.name == q.name {
			own = oq
		}
	}
	cons, err := p.ensurePartitionConsumer(ctx, stream, own, q.part.index)
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "recreating a sequence partition consumer failed", slog.String("queue", q.name),
			slog.Int("partition", q.part.index), slog.String("error", err.Error()))
		return
	}
	q.setConsumer(cons)
}

// partitionConsumers names the partition consumers the pool pulls from.
func (p *Pool) partitionConsumers() []string {
	names := make([]string, len(p.partitions))
	for i, q := range p.partitions {
		names[i] = q.part.consumer
	}
	return names
}

// holdInSequence carries out, for a job of a sequence, a verdict that
// would otherwise republish the job to the back of its queue (snooze,
// hand-back, pass): it Naks the job with delay instead, so the job stays
// at the head of its partition and no later job of its key overtakes it.
// The delivery counts as an attempt. It reports false, doing nothing, for
// a job of no sequence.
func (p *Pool) holdInSequence(msg jetstream.Msg, info *job.Info, delay time.Duration) bool {
	if info == nil || info.Sequence == "" {
		return false
	}
	p.nak(msg, info, max(delay, 0))
	return true
}

// inSequence reports whether msg is a job of a sequence, by its subject.
func (p *Pool) inSequence(msg jetstream.Msg) bool {
	_, _, ok := wire.ParseSequence(p.cfg.Topology.Prefix, msg.Subject())
	return ok
}
