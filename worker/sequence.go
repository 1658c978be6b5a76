package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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

// openSequences finds, for every served queue, whether its sequences are
// in use: their partition consumers exist (an earlier pool made them), or
// the work stream holds a job of one of its partitions. The partitions of
// such a queue are opened now (see openPartitions); the others are
// returned, for the sequence watch to open when their first sequence job
// arrives.
//
// Opening them only then is what keeps a queue that never sees a sequence
// job as cheap as a queue with one consumer: for every acknowledged job the
// server asks each consumer of the work stream whether it still needs the
// message, so sixteen idle partition consumers per queue made every
// acknowledgement cost the server about a third more
// (docs/performance.md).
func (p *Pool) openSequences(ctx context.Context, stream jetstream.Stream) (idle []*queue, err error) {
	p.seqPartitions = job.SequencePartitionsOf(stream.CachedInfo().Config, p.cfg.Topology.Prefix)
	if p.seqPartitions == 0 {
		return nil, nil
	}
	var open []*queue
	for _, q := range p.queues {
		used, err := p.sequencesUsed(ctx, stream, q.name)
		if err != nil {
			return nil, err
		}
		if used {
			open = append(open, q)
		} else {
			idle = append(idle, q)
		}
	}
	parts, err := p.openPartitions(ctx, stream, open)
	if err != nil {
		return nil, err
	}
	p.partitions = append(p.partitions, parts...)
	return idle, nil
}

// sequencesUsed reports whether queue's sequences are in use: the consumer
// of its first partition exists, or the work stream holds a job stored
// under one of its partitions.
func (p *Pool) sequencesUsed(ctx context.Context, stream jetstream.Stream, queue string) (bool, error) {
	_, err := stream.Consumer(ctx, wire.PartitionConsumer(queue, 0))
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return false, fmt.Errorf("jetjobs: look up the sequence consumers of queue %s: %w", queue, err)
	}
	return p.sequenceStored(ctx, stream, queue)
}

// sequenceStored reports whether the work stream holds a job stored under
// one of queue's partitions.
func (p *Pool) sequenceStored(ctx context.Context, stream jetstream.Stream, queue string) (bool, error) {
	_, err := stream.GetLastMsgForSubject(ctx, wire.PartitionsFilter(p.cfg.Topology.Prefix, queue))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return false, nil
	}
	return false, fmt.Errorf("jetjobs: look for sequence jobs of queue %s: %w", queue, err)
}

// openPartitions creates or updates the partition consumers of queues and
// gives each partition a queue value with one slot.
func (p *Pool) openPartitions(ctx context.Context, stream jetstream.Stream, queues []*queue) ([]*queue, error) {
	n := p.seqPartitions
	// One request or two per consumer, made side by side: on a link with a
	// long round trip, sixteen partitions one after another would hold
	// Start for seconds.
	parts := make([]*queue, len(queues)*n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(partitionSetupParallelism)
	for qi, q := range queues {
		paused := sync.OnceValue(func() *time.Time { return queuePause(gctx, q) })
		for i := range n {
			g.Go(func() error {
				cons, err := p.ensurePartitionConsumer(gctx, stream, q, i, paused)
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
		return nil, err
	}
	return parts, nil
}

// sequenceWatch opens the partitions of a queue whose sequences were not
// in use at Start once its first sequence job arrives. It listens for the
// publishes of sequence jobs to the queue (plain NATS subscriptions; any
// producer's, in any language), and, for a publish it missed (a
// disconnect, or a worker not allowed to subscribe there), looks in the
// work stream at start and every sequenceProbeInterval.
type sequenceWatch struct {
	pool  *Pool
	idle  []*queue // the queues whose partitions are not open yet
	wake  chan struct{}
	subs  []*nats.Subscription
	loops loops
	mu    sync.Mutex
	heard map[string]bool // queues a publish was heard for, not yet opened
	probe time.Duration   // sequenceProbeInterval when started
}

// sequenceProbeInterval is how often the watch looks in the work stream for
// sequence jobs of queues whose partitions are not open (a variable for
// tests).
var sequenceProbeInterval = 30 * time.Second

func (w *sequenceWatch) start(context.Context) error {
	w.probe = sequenceProbeInterval
	w.wake = make(chan struct{}, 1)
	w.heard = make(map[string]bool)
	nc := w.pool.js.Conn()
	for _, q := range w.idle {
		name := q.name
		sub, err := nc.Subscribe(wire.SequencePublishFilter(w.pool.cfg.Topology.Prefix, name), func(*nats.Msg) {
			w.mu.Lock()
			w.heard[name] = true
			w.mu.Unlock()
			signal(w.wake)
		})
		if err != nil {
			w.unsubscribe()
			return fmt.Errorf("jetjobs: listen for the sequence jobs of queue %s: %w", name, err)
		}
		// Only the first publish matters; do not buffer the rest.
		_ = sub.AutoUnsubscribe(1)
		w.subs = append(w.subs, sub)
	}
	w.loops.run(w.loop)
	return nil
}

func (w *sequenceWatch) stop() {
	w.loops.stop()
	w.unsubscribe()
}

func (w *sequenceWatch) unsubscribe() {
	for _, sub := range w.subs {
		_ = sub.Unsubscribe()
	}
}

// loop opens the partitions of the queues heard from or found in the
// stream, until none is left or ctx ends.
func (w *sequenceWatch) loop(ctx context.Context) {
	probe := time.NewTicker(w.probe)
	defer probe.Stop()
	look := true // a job stored before the subscriptions were made
	for len(w.idle) > 0 {
		w.mu.Lock()
		heard := w.heard
		w.heard = make(map[string]bool)
		w.mu.Unlock()
		if look || len(heard) > 0 {
			stream, err := w.pool.js.Stream(ctx, w.pool.cfg.Topology.Stream)
			if err != nil {
				if ctx.Err() == nil {
					w.pool.log.LogAttrs(ctx, slog.LevelWarn, "looking for sequence jobs failed; trying again later", slog.String("error", err.Error()))
				}
			} else {
				w.openDue(ctx, stream, heard, look)
			}
		}
		if len(w.idle) == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-w.wake:
			look = false
		case <-probe.C:
			look = true
		case <-ctx.Done():
			return
		}
	}
}

// openDue opens the partitions of the idle queues that were heard from or,
// if look, have a sequence job stored in stream; the others stay idle.
func (w *sequenceWatch) openDue(ctx context.Context, stream jetstream.Stream, heard map[string]bool, look bool) {
	idle := w.idle[:0]
	for _, q := range w.idle {
		due := heard[q.name]
		if !due && look {
			found, err := w.pool.sequenceStored(ctx, stream, q.name)
			if err != nil && ctx.Err() == nil {
				w.pool.log.LogAttrs(ctx, slog.LevelWarn, "looking for sequence jobs failed; trying again later", slog.String("queue", q.name), slog.String("error", err.Error()))
			}
			due = found
		}
		if !due || ctx.Err() != nil {
			idle = append(idle, q)
			continue
		}
		if err := w.pool.openLater(ctx, stream, q); err != nil {
			if ctx.Err() == nil {
				w.pool.log.LogAttrs(ctx, slog.LevelError, "opening the sequence partitions of a queue failed; trying again later",
					slog.String("queue", q.name), slog.String("error", err.Error()))
			}
			idle = append(idle, q)
		}
	}
	w.idle = idle
}

// openLater opens the partitions of q on stream, the work stream, whose
// sequences were not in use at Start, and starts pulling them.
func (p *Pool) openLater(ctx context.Context, stream jetstream.Stream, q *queue) error {
	parts, err := p.openPartitions(ctx, stream, []*queue{q})
	if err != nil {
		return err
	}
	pg := p.pulling.Load()
	if pg == nil {
		return errors.New("jetjobs: the pool is not pulling")
	}
	if err := pg.add(parts); err != nil {
		return err
	}
	p.log.LogAttrs(ctx, slog.LevelInfo, "opened the sequence partitions of a queue on its first sequence job",
		slog.String("queue", q.name), slog.Int("partitions", len(parts)))
	return nil
}

// partitionSetupParallelism bounds the partition consumers set up at once.
const partitionSetupParallelism = 16

// queuePause returns until when q's own consumer is paused, nil if it is
// not, read from the server: the queue may have been paused since the
// pool read its consumer (partitions opened on their first job come long
// after Start).
func queuePause(ctx context.Context, q *queue) *time.Time {
	own := q.consumer()
	if own == nil {
		return nil
	}
	info, err := own.Info(ctx)
	if err != nil {
		info = own.CachedInfo()
	}
	if until := info.Config.PauseUntil; until != nil && until.After(time.Now()) {
		return until
	}
	return nil
}

// ensurePartitionConsumer creates or updates the consumer of partition i of
// q's sequences. A new one starts paused until paused() if that is not nil
// (q's own consumer's pause, asked only when a consumer is created); an
// updated one keeps its pause.
func (p *Pool) ensurePartitionConsumer(ctx context.Context, stream jetstream.Stream, q *queue, i int, paused func() *time.Time) (jetstream.Consumer, error) {
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
	} else {
		want.PauseUntil = paused()
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
	cons, err := p.ensurePartitionConsumer(ctx, stream, own, q.part.index, func() *time.Time { return queuePause(ctx, own) })
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "recreating a sequence partition consumer failed", slog.String("queue", q.name),
			slog.Int("partition", q.part.index), slog.String("error", err.Error()))
		return
	}
	q.setConsumer(cons)
}

// partitionConsumers names the partition consumers of every served queue,
// open or not: the max-deliveries service listens for the advisories of
// all of them from the start.
func (p *Pool) partitionConsumers() []string {
	var names []string
	for _, q := range p.queues {
		for i := range p.seqPartitions {
			names = append(names, wire.PartitionConsumer(q.name, i))
		}
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
