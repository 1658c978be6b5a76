package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Sequences: jobs that share a key run one at a time, in the order they were
// stored. A sequence job is published to
//
//	<prefix>._seq.<queue>.<key>.<kind>
//
// and the work stream's subject transform stores it as
//
//	<prefix>._seqp.<queue>.<partition>.<key>.<kind>
//
// where <partition> is the server's hash of <queue> and <key> modulo the
// stream's partition count. Each (queue, partition) has one durable consumer
// with MaxAckPending 1, so at most one job of a partition is out at a time,
// whichever workers pull from it. The tokens start with '_', which no queue
// name may, so neither form overlaps a queue consumer's filter
// <prefix>.<queue>.>, and a stored subject does not match the transform's
// source: republishing it (a dead-letter replay) stores it unchanged.
const (
	// SequenceToken is the second token of the subject a sequence job is
	// published to.
	SequenceToken = "_seq"
	// PartitionToken is the second token of the subject a sequence job is
	// stored on.
	PartitionToken = "_seqp"
	// DefaultPartitions is the number of sequence partitions of a work
	// stream created without another setting.
	DefaultPartitions = 16
	// MaxPartitions bounds the partitions: each is one consumer per queue.
	MaxPartitions = 256
	// MaxSequenceKeyLen bounds a sequence key.
	MaxSequenceKeyLen = 128
)

// ValidateSequenceKey reports whether key can name a sequence: one token of
// [A-Za-z0-9_-], 1 to MaxSequenceKeyLen characters.
func ValidateSequenceKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: sequence key is empty; give the key whose jobs must run in order, such as a customer ID", ErrInvalidName)
	}
	if len(key) > MaxSequenceKeyLen {
		return fmt.Errorf("%w: sequence key of %d characters is too long; use at most %d (or a hash of it: job.SubjectToken)", ErrInvalidName, len(key), MaxSequenceKeyLen)
	}
	if i := InvalidTokenChar(key); i >= 0 {
		return fmt.Errorf("%w: sequence key %q: character %q at %d is not allowed; use only A-Z a-z 0-9 _ - (map other keys with job.SubjectToken)", ErrInvalidName, key, CharAt(key, i), i)
	}
	return nil
}

// ValidatePartitions reports whether n partitions can be configured.
func ValidatePartitions(n int) error {
	if n < 1 || n > MaxPartitions {
		return fmt.Errorf("%w: %d sequence partitions; use 1 to %d", ErrInvalidName, n, MaxPartitions)
	}
	return nil
}

// SequenceSubject is the subject a job of kind in the sequence key of queue
// is published to: <prefix>._seq.<queue>.<key>.<kind>.
func SequenceSubject(prefix, queue, key, kind string) string {
	return prefix + "." + SequenceToken + "." + queue + "." + key + "." + kind
}

// PartitionSubject is the subject a job of kind in the sequence key of queue
// is stored on when key maps to partition: what the stream's transform makes
// of SequenceSubject.
func PartitionSubject(prefix, queue string, partition int, key, kind string) string {
	return prefix + "." + PartitionToken + "." + queue + "." + strconv.Itoa(partition) + "." + key + "." + kind
}

// PartitionFilter is the subject filter of the consumer of queue's
// partition.
func PartitionFilter(prefix, queue string, partition int) string {
	return prefix + "." + PartitionToken + "." + queue + "." + strconv.Itoa(partition) + ".>"
}

// PartitionsFilter matches the subjects of every partition of queue's
// sequences.
func PartitionsFilter(prefix, queue string) string {
	return prefix + "." + PartitionToken + "." + queue + ".>"
}

// SequencePublishFilter matches the subjects sequence jobs of queue are
// published to.
func SequencePublishFilter(prefix, queue string) string {
	return prefix + "." + SequenceToken + "." + queue + ".>"
}

// SequenceTransformSource is the source of the work stream's subject
// transform: the subjects sequence jobs are published to.
func SequenceTransformSource(prefix string) string {
	return prefix + "." + SequenceToken + ".*.*.>"
}

// SequenceTransformDest is the destination of the work stream's subject
// transform into n partitions: the server hashes the queue and key tokens
// (FNV-1a, modulo n) into the partition token.
func SequenceTransformDest(prefix string, n int) string {
	return prefix + "." + PartitionToken + ".{{wildcard(1)}}.{{partition(" + strconv.Itoa(n) + ",1,2)}}.{{wildcard(2)}}.>"
}

// ParseSequenceTransformDest returns the partition count of a transform
// destination SequenceTransformDest made; ok is false for any other.
func ParseSequenceTransformDest(prefix, dest string) (n int, ok bool) {
	rest, found := strings.CutPrefix(dest, prefix+"."+PartitionToken+".{{wildcard(1)}}.{{partition(")
	if !found {
		return 0, false
	}
	num, rest, found := strings.Cut(rest, ",")
	if !found || rest != "1,2)}}.{{wildcard(2)}}.>" {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || ValidatePartitions(n) != nil {
		return 0, false
	}
	return n, true
}

// Partition is the partition the server stores the jobs of key in queue
// under with n partitions: FNV-1a of queue and key, modulo n, as the
// server's partition() transform computes it.
func Partition(queue, key string, n int) int {
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	for _, s := range [2]string{queue, key} {
		for i := 0; i < len(s); i++ {
			h ^= uint32(s[i])
			h *= prime
		}
	}
	return int(h % uint32(n))
}

// PartitionConsumer names the consumer of queue's partition:
// "_seq<partition>-<queue>", or with a hash of the queue name where that
// would pass the server's 255 characters. No queue consumer starts with '_'.
func PartitionConsumer(queue string, partition int) string {
	name := SequenceToken + strconv.Itoa(partition) + "-" + queue
	if len(name) <= 255 {
		return name
	}
	sum := sha256.Sum256([]byte(queue))
	return SequenceToken + strconv.Itoa(partition) + "-h-" + hex.EncodeToString(sum[:16])
}

// parseSequenceSubject splits what follows "<prefix>._seq." or
// "<prefix>._seqp." (rest; stored says which) into the queue, partition (-1
// when published), key and kind.
func parseSequenceSubject(subject, rest string, stored bool) (queue string, partition int, key, kind string, err error) {
	queue, rest, ok := strings.Cut(rest, ".")
	partition = -1
	if ok && stored {
		var p string
		p, rest, ok = strings.Cut(rest, ".")
		if ok {
			n, perr := strconv.Atoi(p)
			if perr != nil || n < 0 || n >= MaxPartitions || strconv.Itoa(n) != p {
				return "", 0, "", "", fmt.Errorf("%w: subject %q: partition %q is not a number from 0 to %d", ErrInvalidName, subject, p, MaxPartitions-1)
			}
			partition = n
		}
	}
	if ok {
		key, kind, ok = strings.Cut(rest, ".")
	}
	if !ok {
		return "", 0, "", "", fmt.Errorf("%w: sequence subject %q lacks tokens; publish to <prefix>.%s.<queue>.<key>.<kind>", ErrInvalidName, subject, SequenceToken)
	}
	if err := ValidateQueue(queue); err != nil {
		return "", 0, "", "", err
	}
	if err := ValidateSequenceKey(key); err != nil {
		return "", 0, "", "", err
	}
	if err := ValidateKind(kind); err != nil {
		return "", 0, "", "", err
	}
	return queue, partition, key, kind, nil
}

// ParseSequence returns the sequence key and partition of a sequence job's
// subject (stored or published; partition is -1 for the latter); ok is
// false for a subject of no sequence or one that does not parse.
func ParseSequence(prefix, subject string) (key string, partition int, ok bool) {
	rest, stored, found := cutSequence(prefix, subject)
	if !found {
		return "", -1, false
	}
	_, partition, key, _, err := parseSequenceSubject(subject, rest, stored)
	return key, partition, err == nil
}

// cutSequence returns what follows the sequence token of subject, and
// whether it is the stored form; found is false for a subject that is not
// a sequence job's.
func cutSequence(prefix, subject string) (rest string, stored, found bool) {
	if len(subject) <= len(prefix) || subject[len(prefix)] != '.' || !strings.HasPrefix(subject, prefix) {
		return "", false, false
	}
	after := subject[len(prefix)+1:]
	if rest, ok := strings.CutPrefix(after, PartitionToken+"."); ok {
		return rest, true, true
	}
	if rest, ok := strings.CutPrefix(after, SequenceToken+"."); ok {
		return rest, false, true
	}
	return "", false, false
}

// SubjectConsumer is the name of the consumer whose filter holds subject: a
// queue consumer's (the queue), a partition consumer's, or "" for a
// sequence subject that does not parse.
func SubjectConsumer(prefix, subject string) string {
	rest, stored, found := cutSequence(prefix, subject)
	if !found {
		return QueueToken(prefix, subject)
	}
	queue, partition, _, _, err := parseSequenceSubject(subject, rest, stored)
	if err != nil || partition < 0 {
		return ""
	}
	return PartitionConsumer(queue, partition)
}
