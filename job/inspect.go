package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// QueueStats are the figures of one queue at one moment, as Inspector reads
// them from the server. A queue is the durable consumer of the work stream
// named after it; a queue that has jobs but no consumer yet (no worker ever
// served it) is reported too, with Bound false.
type QueueStats struct {
	// Queue is the queue's name.
	Queue string
	// Pending counts the jobs no worker has received yet.
	Pending uint64
	// Running counts the jobs delivered to a worker and not yet settled (the
	// consumer's ack pending): running now, or waiting out a retry delay
	// (a retried job stays pending on the consumer until it is redelivered).
	Running int
	// Redelivered counts the unsettled jobs that were delivered more than
	// once: retries, and jobs whose worker died.
	Redelivered int
	// DeadLetters counts the queue's jobs in the dead-letter stream.
	DeadLetters uint64
	// Waiting counts the pull requests workers have outstanding on the
	// queue's consumer. Each pool serving the queue keeps up to two open
	// while it has free capacity, so Waiting > 0 means at least one worker
	// is bound and idle; 0 with Running > 0 means every bound worker is busy
	// (or none is bound).
	Waiting int
	// Deliveries counts the deliveries of the queue's consumer since it
	// was created, redeliveries included: its rate is the queue's
	// throughput.
	Deliveries uint64
	// Bound reports whether the queue's consumer exists.
	Bound bool
	// Paused reports whether an operator paused the queue's consumer, and
	// PausedUntil until when (zero: until resumed).
	Paused      bool
	PausedUntil time.Time
	// OldestPendingAt is when the oldest pending job was stored (zero when
	// Pending is 0); OldestPendingAge is how long ago that was, measured
	// when the figures were read.
	OldestPendingAt  time.Time
	OldestPendingAge time.Duration
}

// Inspector reads the figures of the queues of one namespace: what
// `jetjobs queues` shows, for applications that want to show or export the
// same. It changes nothing; it needs the permissions for stream and consumer
// info, message get, and creating and deleting ephemeral consumers on the
// dead-letter stream (which count dead letters without delivering any). It
// is safe for concurrent use; keep one to read repeatedly (see Queues).
type Inspector struct {
	js   jetstream.JetStream
	topo Topology

	// deadLetterOnly remembers the queues found to have dead letters but
	// neither a consumer nor jobs, so that the next read counts them as
	// cheaply as the others.
	mu             sync.Mutex
	deadLetterOnly map[string]bool
}

// NewInspector returns an inspector of the namespace topo (its zero value is
// the default namespace) through js. It does no I/O.
func NewInspector(js jetstream.JetStream, topo Topology) (*Inspector, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: NewInspector needs a jetstream.JetStream", ErrInvalidOption)
	}
	if err := topo.Validate(); err != nil {
		return nil, err
	}
	return &Inspector{js: js, topo: topo.WithDefaults()}, nil
}

// Inspector returns an inspector of the client's namespace.
func (c *Client) Inspector() *Inspector { return &Inspector{js: c.js, topo: c.topo} }

// Queues returns the figures of every queue, sorted by name: each queue
// consumer of the work stream, and each queue that holds jobs or dead
// letters without a consumer.
//
// Its cost grows with the number of queues and kinds, not with the number
// of jobs or dead letters, except on a read that finds dead letters of a
// queue with neither a consumer nor jobs (after an operator deleted its
// consumer, say): that read lists the dead-letter stream's subjects, one per
// dead letter; the Inspector remembers such queues, so later reads do not.
//
// Errors: ErrNoStream if the work stream does not exist, or the
// connection's error.
func (i *Inspector) Queues(ctx context.Context) ([]QueueStats, error) {
	return i.inspect(ctx, "")
}

// Queue returns the figures of one queue. A queue nobody enqueued to or
// served is not an error: its figures are zero and Bound is false.
//
// Errors: ErrInvalidName, ErrNoStream, or the connection's error.
func (i *Inspector) Queue(ctx context.Context, name string) (QueueStats, error) {
	if err := ValidateQueue(name); err != nil {
		return QueueStats{}, err
	}
	qs, err := i.inspect(ctx, name)
	if err != nil {
		return QueueStats{}, err
	}
	for _, q := range qs {
		if q.Queue == name {
			return q, nil
		}
	}
	return QueueStats{Queue: name}, nil
}

// inspect reads the figures of every queue, or only of queue only.
func (i *Inspector) inspect(ctx context.Context, only string) ([]QueueStats, error) {
	stream, err := i.js.Stream(ctx, i.topo.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w (stream %s)", ErrNoStream, i.topo.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: work stream %s: %w", i.topo.Stream, err)
	}
	stats := map[string]*QueueStats{}
	get := func(q string) *QueueStats {
		s := stats[q]
		if s == nil {
			s = &QueueStats{Queue: q}
			stats[q] = s
		}
		return s
	}
	delivered := map[string]uint64{} // last stream sequence delivered, per bound queue

	// The queues: consumers named after a queue and filtered to its subjects.
	lister := stream.ListConsumers(ctx)
	var partitions []*jetstream.ConsumerInfo // of sequences, added below
	for ci := range lister.Info() {
		name := ci.Name
		if q, ok := i.partitionQueue(ci); ok {
			if only == "" || q == only {
				partitions = append(partitions, ci)
			}
			continue
		}
		if ValidateQueue(name) != nil || ci.Config.FilterSubject != Subject(i.topo.Prefix, name, ">") || (only != "" && name != only) {
			continue // not a jetjobs queue consumer, or not asked for
		}
		s := get(name)
		s.Bound = true
		s.Pending = ci.NumPending
		s.Running = ci.NumAckPending
		s.Redelivered = ci.NumRedelivered
		s.Waiting = ci.NumWaiting
		s.Deliveries = ci.Delivered.Consumer
		s.Paused = ci.Paused
		if ci.Paused && ci.Config.PauseUntil != nil && !PausedIndefinitely(*ci.Config.PauseUntil) {
			s.PausedUntil = *ci.Config.PauseUntil
		}
		delivered[name] = ci.Delivered.Stream
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("jetjobs: list consumers of %s: %w", i.topo.Stream, err)
	}

	// Jobs of queues without a consumer: every stored job is pending.
	filter := i.topo.Prefix + ".>"
	if only != "" {
		filter = Subject(i.topo.Prefix, only, ">")
	}
	counts, err := subjectCounts(ctx, stream, filter, i.topo.Prefix)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: count jobs in %s: %w", i.topo.Stream, err)
	}
	for q, n := range counts {
		if s := get(q); !s.Bound {
			s.Pending = n
		}
	}
	i.addPartitions(partitions, get)

	// Dead letters, by queue.
	if dlq, err := i.js.Stream(ctx, i.topo.DeadLetterStream); err == nil {
		if err := i.countDeadLetters(ctx, dlq, only, stats, get); err != nil {
			return nil, fmt.Errorf("jetjobs: count dead letters in %s: %w", i.topo.DeadLetterStream, err)
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("jetjobs: dead-letter stream %s: %w", i.topo.DeadLetterStream, err)
	}

	// The oldest pending job: the first job of the queue after the last one
	// its consumer delivered.
	now := time.Now()
	var withPending []*QueueStats
	for _, s := range stats {
		if s.Pending > 0 {
			withPending = append(withPending, s)
		}
	}
	err = forEachConcurrently(ctx, withPending, inspectParallelism, func(s *QueueStats) error {
		m, err := stream.GetMsg(ctx, delivered[s.Queue]+1, jetstream.WithGetMsgSubject(Subject(i.topo.Prefix, s.Queue, ">")))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil // worked off since the counts were read
		}
		if err != nil {
			return fmt.Errorf("jetjobs: read oldest pending job of queue %s: %w", s.Queue, err)
		}
		s.OldestPendingAt = m.Time
		s.OldestPendingAge = max(now.Sub(m.Time), 0)
		return nil
	})
	if err != nil {
		return nil, err
	}

	out := make([]QueueStats, 0, len(stats))
	for _, name := range slices.Sorted(maps.Keys(stats)) {
		out = append(out, *stats[name])
	}
	return out, nil
}

// countDeadLetters sets DeadLetters of queue only or, with only "", of
// every queue in stats and of the queues that have nothing but dead
// letters, which it adds to stats with get.
//
// A dead letter's subject is <dead-letter prefix>.<queue>.<reason>.<job
// ID>.<kind> (or <dead-letter prefix>.<queue>.<job ID>, stored by an older
// version), so per-subject counts would return one entry per dead letter. Instead an
// ephemeral consumer filtered to a queue's dead letters tells their number
// (its pending count, which the server reads from its subject index) with
// a reply of constant size. The queues counted so are those already known;
// if their dead letters (and those of the _invalid pseudo-queue, of jobs
// whose subject could not be read) do not add up to the stream's message
// count, the rest belong to queues known only from the dead-letter stream,
// which are then found, once, from the per-subject counts.
func (i *Inspector) countDeadLetters(ctx context.Context, dlq jetstream.Stream, only string, stats map[string]*QueueStats, get func(string) *QueueStats) error {
	// Read before the counts, so that dead letters added meanwhile make the
	// counts larger rather than seem to belong to unknown queues.
	total := dlq.CachedInfo().State.Msgs
	if total == 0 {
		return nil
	}
	count := func(q string) (uint64, error) {
		return i.countMessages(ctx, dlq, wire.DeadLetterFilter(i.topo.DeadLetterPrefix, q))
	}
	if only != "" {
		n, err := count(only)
		if n > 0 {
			get(only).DeadLetters = n
		}
		return err
	}

	queues := map[string]bool{}
	for q := range stats {
		queues[q] = true
	}
	i.mu.Lock()
	maps.Copy(queues, i.deadLetterOnly)
	i.mu.Unlock()
	var (
		counted uint64
		mu      sync.Mutex
	)
	err := forEachConcurrently(ctx, slices.Collect(maps.Keys(queues)), inspectParallelism, func(q string) error {
		n, err := count(q)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		counted += n
		if n > 0 {
			get(q).DeadLetters = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	if counted >= total {
		i.forgetDeadLetterOnly(stats)
		return nil
	}
	n, err := count(invalidQueue)
	if err != nil {
		return err
	}
	if counted += n; counted >= total {
		i.forgetDeadLetterOnly(stats)
		return nil
	}

	counts, err := subjectCounts(ctx, dlq, i.topo.DeadLetterPrefix+".>", i.topo.DeadLetterPrefix)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for q, n := range counts {
		if ValidateQueue(q) != nil {
			continue
		}
		if _, known := stats[q]; !known {
			if i.deadLetterOnly == nil {
				i.deadLetterOnly = map[string]bool{}
			}
			i.deadLetterOnly[q] = true
		}
		get(q).DeadLetters = n
	}
	return nil
}

// forgetDeadLetterOnly forgets the remembered queues that no longer have
// dead letters, so that a queue deleted for good is not counted forever.
func (i *Inspector) forgetDeadLetterOnly(stats map[string]*QueueStats) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for q := range i.deadLetterOnly {
		if s := stats[q]; s == nil || s.DeadLetters == 0 {
			delete(i.deadLetterOnly, q)
		}
	}
}

// countMessages returns the number of messages of stream s on subjects
// matching filter, from an ephemeral consumer that is deleted at once, or
// by the server after a minute without use if the deletion fails: the count
// is right either way, so a failed deletion is not an error.
func (i *Inspector) countMessages(ctx context.Context, s jetstream.Stream, filter string) (uint64, error) {
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: time.Minute,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return 0, err
	}
	info := cons.CachedInfo()
	_ = s.DeleteConsumer(ctx, info.Name)
	return info.NumPending, nil
}

// subjectCounts sums a stream's message counts per subject under filter by
// the token after prefix (the queue).
func subjectCounts(ctx context.Context, s jetstream.Stream, filter, prefix string) (map[string]uint64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for subject, n := range info.State.Subjects {
		// The queue token; a sequence job's follows its sequence token.
		if q := wire.QueueToken(prefix, subject); q != "" {
			out[q] += n
		}
	}
	return out, nil
}
