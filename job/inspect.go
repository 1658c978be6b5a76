package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
// same. It only reads; it needs no more permissions than stream and consumer
// info and message get. It is safe for concurrent use.
type Inspector struct {
	js   jetstream.JetStream
	topo Topology
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
	for ci := range lister.Info() {
		name := ci.Name
		if ValidateQueue(name) != nil || ci.Config.FilterSubject != Subject(i.topo.Prefix, name, ">") || (only != "" && name != only) {
			continue // not a jetjobs queue consumer, or not asked for
		}
		s := get(name)
		s.Bound = true
		s.Pending = ci.NumPending
		s.Running = ci.NumAckPending
		s.Redelivered = ci.NumRedelivered
		s.Waiting = ci.NumWaiting
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

	// Dead letters, by queue.
	if dlq, err := i.js.Stream(ctx, i.topo.DeadLetterStream); err == nil {
		filter := i.topo.DeadLetterPrefix + ".>"
		if only != "" {
			filter = i.topo.DeadLetterPrefix + "." + only + ".*"
		}
		counts, err := subjectCounts(ctx, dlq, filter, i.topo.DeadLetterPrefix)
		if err != nil {
			return nil, fmt.Errorf("jetjobs: count dead letters in %s: %w", i.topo.DeadLetterStream, err)
		}
		for q, n := range counts {
			if ValidateQueue(q) == nil {
				get(q).DeadLetters = n
			}
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("jetjobs: dead-letter stream %s: %w", i.topo.DeadLetterStream, err)
	}

	// The oldest pending job: the first job of the queue after the last one
	// its consumer delivered.
	now := time.Now()
	for name, s := range stats {
		if s.Pending == 0 {
			continue
		}
		m, err := stream.GetMsg(ctx, delivered[name]+1, jetstream.WithGetMsgSubject(Subject(i.topo.Prefix, name, ">")))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // worked off since the counts were read
		}
		if err != nil {
			return nil, fmt.Errorf("jetjobs: read oldest pending job of queue %s: %w", name, err)
		}
		s.OldestPendingAt = m.Time
		s.OldestPendingAge = max(now.Sub(m.Time), 0)
	}

	out := make([]QueueStats, 0, len(stats))
	for _, name := range slices.Sorted(maps.Keys(stats)) {
		out = append(out, *stats[name])
	}
	return out, nil
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
		rest, ok := strings.CutPrefix(subject, prefix+".")
		if !ok {
			continue
		}
		q, _, _ := strings.Cut(rest, ".")
		out[q] += n
	}
	return out, nil
}
