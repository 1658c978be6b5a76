package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// DefaultSequencePartitions is the number of sequence partitions of a work
// stream created without Topology.SequencePartitions.
const DefaultSequencePartitions = wire.DefaultPartitions

// ValidateSequenceKey reports whether key can name a sequence: one token
// of A-Z a-z 0-9 _ -, 1 to 128 characters. Map other keys (an e-mail
// address, a path) with SubjectToken.
func ValidateSequenceKey(key string) error { return wire.ValidateSequenceKey(key) }

// Sequence puts the job in the sequence key of its queue: jobs of one key
// run one at a time, in the order the server stored them, whichever workers
// serve the queue; jobs of other keys run in parallel with them. A job of a
// sequence that fails is retried before any later job of its key starts; a
// job that is dead-lettered (it failed its last attempt, was canceled,
// expired or found no handler) lets the next one start. The server hashes
// keys into a fixed number of partitions (Topology.SequencePartitions), and
// keys that share a partition also wait for each other. See
// docs/sequences.md.
//
// A sequence job cannot be delayed (At, In): it would take its place in
// the sequence only when it fires. Errors: ErrInvalidName for a key that is
// not one token of A-Z a-z 0-9 _ - of at most 128 characters.
func Sequence(key string) Option {
	return func(o *options) error {
		if err := ValidateSequenceKey(key); err != nil {
			return err
		}
		o.sequence = key
		return nil
	}
}

// checkSequence refuses what a sequence job cannot have.
func (o *options) checkSequence() error {
	if o.sequence != "" && !o.runAt.IsZero() {
		return fmt.Errorf("%w: Sequence(%q) with At or In: a sequence job takes its place in its key's order when it is stored, so it cannot wait for a schedule; enqueue it when it is due", ErrInvalidOption, o.sequence)
	}
	return nil
}

// subject is the subject the job of kind is published to.
func (o *options) subject(prefix, kind string) string {
	if o.sequence != "" {
		return wire.SequenceSubject(prefix, o.queue, o.sequence, kind)
	}
	return Subject(prefix, o.queue, kind)
}

// SequenceSubject is the subject a job of kind in the sequence key of queue
// is published to: <prefix>._seq.<queue>.<key>.<kind>. The work stream's
// subject transform stores it under its partition.
func SequenceSubject(prefix, queue, key, kind string) string {
	return wire.SequenceSubject(prefix, queue, key, kind)
}

// SequencePartitionsOf returns the number of sequence partitions of the
// work stream whose configuration is cfg, for the subject prefix prefix,
// or 0 when the stream stores no sequences (it was created by an older
// jetjobs and not yet updated by Topology.Ensure).
func SequencePartitionsOf(cfg jetstream.StreamConfig, prefix string) int {
	tr := cfg.SubjectTransform
	if tr == nil || tr.Source != wire.SequenceTransformSource(prefix) {
		return 0
	}
	n, _ := wire.ParseSequenceTransformDest(prefix, tr.Destination)
	return n
}

// PartitionConsumer names the consumer through which workers take the jobs
// of one partition of queue's sequences.
func PartitionConsumer(queue string, partition int) string {
	return wire.PartitionConsumer(queue, partition)
}

// sequenceTransform is the work stream's subject transform, which stores a
// sequence job under its partition.
func (t Topology) sequenceTransform() *jetstream.SubjectTransformConfig {
	t = t.WithDefaults()
	return &jetstream.SubjectTransformConfig{
		Source:      wire.SequenceTransformSource(t.Prefix),
		Destination: wire.SequenceTransformDest(t.Prefix, t.SequencePartitions),
	}
}

// ensureSequences gives an existing work stream the subject transform that
// stores sequence jobs by partition, when it has none (a stream made by an
// older jetjobs). It never changes an existing partition count, which would
// move the keys of stored jobs to other partitions and break their order:
// set asks for one (set.SequencePartitions) that differs, it reports
// ErrTopologyMismatch.
func (t Topology) ensureSequences(ctx context.Context, js jetstream.JetStream, set Topology) error {
	s, err := js.Stream(ctx, t.Stream)
	if err != nil {
		return fmt.Errorf("jetjobs: look up stream %s: %w", t.Stream, err)
	}
	have := s.CachedInfo().Config
	want := t.sequenceTransform()
	switch n := SequencePartitionsOf(have, t.Prefix); {
	case n == 0 && have.SubjectTransform != nil && have.SubjectTransform.Destination != "":
		return fmt.Errorf("%w: stream %s has a subject transform of its own (%s to %s); jetjobs needs it for sequences: remove it, or point jetjobs at another namespace",
			ErrTopologyMismatch, t.Stream, have.SubjectTransform.Source, have.SubjectTransform.Destination)
	case n == 0:
		have.SubjectTransform = want
		if _, err := js.UpdateStream(ctx, have); err != nil {
			return fmt.Errorf("jetjobs: add the sequence subject transform to stream %s: %w", t.Stream, err)
		}
	case set.SequencePartitions != 0 && n != set.SequencePartitions:
		return fmt.Errorf("%w: stream %s hashes sequence keys into %d partitions, not %d; changing the count would reorder the waiting jobs of a key: leave Topology.SequencePartitions zero to use %d, or drain the sequences and change the stream's subject transform",
			ErrTopologyMismatch, t.Stream, n, set.SequencePartitions, n)
	}
	return nil
}

// pauseSequences pauses (until not zero) or resumes the partition
// consumers of queue's sequences, as PauseQueue and ResumeQueue do the
// queue's own consumer; partitions without a consumer yet are skipped.
func (c *Client) pauseSequences(ctx context.Context, queue string, until time.Time) error {
	s, err := c.js.Stream(ctx, c.topo.Stream)
	if err != nil {
		return c.consumerError("pause sequences of", queue, err)
	}
	n := SequencePartitionsOf(s.CachedInfo().Config, c.topo.Prefix)
	for p := range n {
		name := PartitionConsumer(queue, p)
		if until.IsZero() {
			_, err = c.js.ResumeConsumer(ctx, c.topo.Stream, name)
		} else {
			_, err = c.js.PauseConsumer(ctx, c.topo.Stream, name, until)
		}
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return c.consumerError("pause sequences of", queue, err)
		}
	}
	return nil
}

// partitionQueue returns the queue whose sequences ci, a consumer of the
// work stream, pulls one partition of; ok is false for any other consumer.
func (i *Inspector) partitionQueue(ci *jetstream.ConsumerInfo) (queue string, ok bool) {
	rest, found := strings.CutPrefix(ci.Config.FilterSubject, i.topo.Prefix+"."+wire.PartitionToken+".")
	if !found {
		return "", false
	}
	queue, p, found := strings.Cut(rest, ".")
	n, err := strconv.Atoi(strings.TrimSuffix(p, ".>"))
	if !found || err != nil || ValidateQueue(queue) != nil || ci.Name != PartitionConsumer(queue, n) {
		return "", false
	}
	return queue, true
}

// addPartitions adds the figures of the partition consumers of sequences to
// their queues': their jobs are the queue's jobs. A queue with no consumer
// of its own already counts its stored jobs, sequences among them, as
// pending.
func (i *Inspector) addPartitions(partitions []*jetstream.ConsumerInfo, get func(queue string) *QueueStats) {
	for _, ci := range partitions {
		q, _ := i.partitionQueue(ci)
		s := get(q)
		if s.Bound {
			s.Pending += ci.NumPending
		}
		s.Running += ci.NumAckPending
		s.Redelivered += ci.NumRedelivered
	}
}

// uniqueID is the ID Unique derives for a job of kind with payload data:
// UniqueID, and for a job of a sequence that of its key's queue token, so
// that the same work in two keys is two jobs.
func (o *options) uniqueID(kind string, data []byte) string {
	if o.sequence == "" {
		return UniqueID(o.queue, kind, data)
	}
	return UniqueID(o.queue+"."+wire.SequenceToken+"."+o.sequence, kind, data)
}
