package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

// Limits on names. A queue's consumers are named after it ("<queue>",
// "fire-<queue>") and the server refuses consumer names longer than 255
// characters; kinds and schedule names are parts of subjects, and
// nats-server refuses a protocol line longer than 4 KiB by closing the
// connection.
const (
	MaxQueueLen        = 250
	MaxKindLen         = 512
	MaxScheduleNameLen = 250
	// MaxIDLen bounds job IDs.
	MaxIDLen = 256
)

// InvalidQueue is the queue token of the dead letters of jobs whose queue
// could not be read. It starts with '_', so no job queue has it.
const InvalidQueue = "_invalid"

// ValidateQueue reports whether name is a valid queue name: one token of
// [A-Za-z0-9_-], not starting with '_' (reserved for jetjobs itself).
func ValidateQueue(name string) error {
	if name == "" {
		return fmt.Errorf("%w: queue name is empty", ErrInvalidName)
	}
	if name[0] == '_' {
		return fmt.Errorf("%w: queue %q: names starting with '_' are reserved", ErrInvalidName, name)
	}
	if i := InvalidTokenChar(name); i >= 0 {
		return fmt.Errorf("%w: queue %q: character %q at %d is not allowed; use only A-Z a-z 0-9 _ -", ErrInvalidName, name, CharAt(name, i), i)
	}
	if len(name) > MaxQueueLen {
		return fmt.Errorf("%w: queue name of %d characters is too long; use at most %d (it names the queue's consumers, and the server limits consumer names)", ErrInvalidName, len(name), MaxQueueLen)
	}
	return nil
}

// ValidateKind reports whether kind is a valid job kind: one or more tokens
// of [A-Za-z0-9_-] joined by dots, such as "email.send".
func ValidateKind(kind string) error {
	if kind == "" {
		return fmt.Errorf("%w: kind is empty", ErrInvalidName)
	}
	if len(kind) > MaxKindLen {
		return fmt.Errorf("%w: kind of %d characters is too long; use at most %d (it is part of every subject of the job, and the server limits the protocol lines that carry them)", ErrInvalidName, len(kind), MaxKindLen)
	}
	for tok := range strings.SplitSeq(kind, ".") {
		if tok == "" {
			return fmt.Errorf("%w: kind %q has an empty token; join non-empty tokens with single dots", ErrInvalidName, kind)
		}
		if i := InvalidTokenChar(tok); i >= 0 {
			return fmt.Errorf("%w: kind %q: character %q is not allowed; use tokens of A-Z a-z 0-9 _ - joined by dots", ErrInvalidName, kind, CharAt(tok, i))
		}
	}
	return nil
}

// ValidatePrefix reports whether p can prefix job subjects: one or more
// tokens of [A-Za-z0-9_-] joined by dots.
func ValidatePrefix(p string) error {
	if err := ValidateKind(p); err != nil {
		return fmt.Errorf("%w: subject prefix %q must be tokens of A-Z a-z 0-9 _ - joined by dots", ErrInvalidName, p)
	}
	return nil
}

// CharAt returns the character starting at byte i of s, so an error names
// "é" rather than its first byte.
func CharAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// InvalidTokenChar returns the byte index of the first character of s
// outside [A-Za-z0-9_-], or -1 when there is none.
func InvalidTokenChar(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return i
		}
	}
	return -1
}

// SubjectToken returns id as one subject token: id itself when it is
// already one (at most MaxIDLen characters of [A-Za-z0-9_-]), else "h-"
// and 32 hex digits of its SHA-256.
func SubjectToken(id string) string {
	if id != "" && len(id) <= MaxIDLen && InvalidTokenChar(id) < 0 {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h-" + hex.EncodeToString(sum[:16])
}

// JobSubject returns the subject a job of kind on queue is published to:
// <prefix>.<queue>.<kind>.
func JobSubject(prefix, queue, kind string) string {
	return prefix + "." + queue + "." + kind
}

// ParseSubject splits a job subject into its queue and kind; for a
// sequence job's subject (see SequenceSubject) also. It fails with
// ErrInvalidName when subject does not start with prefix, lacks a kind, or
// has invalid tokens.
func ParseSubject(prefix, subject string) (queue, kind string, err error) {
	// Not CutPrefix(subject, prefix+"."): that concatenation ran for every
	// delivered job.
	if len(subject) <= len(prefix) || subject[len(prefix)] != '.' || !strings.HasPrefix(subject, prefix) {
		return "", "", fmt.Errorf("%w: subject %q is not under %q", ErrInvalidName, subject, prefix+".")
	}
	queue, kind, ok := strings.Cut(subject[len(prefix)+1:], ".")
	if queue == PartitionToken || queue == SequenceToken {
		queue, _, _, kind, err = parseSequenceSubject(subject, kind, queue == PartitionToken)
		return queue, kind, err
	}
	if !ok {
		return "", "", fmt.Errorf("%w: subject %q has no kind; publish to %s.<queue>.<kind>", ErrInvalidName, subject, prefix)
	}
	if err := ValidateQueue(queue); err != nil {
		return "", "", err
	}
	if err := ValidateKind(kind); err != nil {
		return "", "", err
	}
	return queue, kind, nil
}

// AdvisoryGroup is the queue group in which the worker pools of stream
// receive its MAX_DELIVERIES advisories, so one pool handles each.
func AdvisoryGroup(stream string) string {
	return "jetjobs-" + stream
}

// APIPrefix is the subject prefix of js's JetStream API requests, ending
// in a dot: "$JS.<domain>.API." for a domain, the configured API prefix,
// else "$JS.API.".
func APIPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	}
	return jetstream.DefaultAPIPrefix
}

// NextSubject is the API subject a pull request for the next messages of
// consumer of stream is sent to; apiPrefix is APIPrefix's result.
func NextSubject(apiPrefix, stream, consumer string) string {
	return apiPrefix + "CONSUMER.MSG.NEXT." + stream + "." + consumer
}

// MaxDeliveriesSubject is the advisory subject the server publishes to when
// a message of stream reaches consumer's MaxDeliver.
func MaxDeliveriesSubject(stream, consumer string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + consumer
}

// QueueToken is the queue token of a job subject <prefix>.<queue>.<kind>
// (or of a sequence job's, <prefix>._seq[p].<queue>...), whether or not the
// rest of the subject is valid; empty if there is none.
// A consumer's filter <prefix>.<queue>.> delivers only subjects whose token
// is its queue.
func QueueToken(prefix, subject string) string {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return ""
	}
	queue, rest, _ := strings.Cut(rest, ".")
	if queue == PartitionToken || queue == SequenceToken {
		queue, _, _ = strings.Cut(rest, ".")
	}
	return queue
}
