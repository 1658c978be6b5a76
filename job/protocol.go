package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// Headers of wire protocol v1. Every header is optional for a foreign
// enqueuer; see docs/protocol.md.
const (
	// HeaderMsgID is the JetStream deduplication header. The client sets it
	// to the job ID, so a retried publish of the same job is stored once.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderID carries the job ID. Unlike Nats-Msg-Id it survives scheduling.
	HeaderID = "Jetjobs-Id"
	// HeaderMaxAttempts bounds the attempts of one job (decimal, >= 1).
	HeaderMaxAttempts = "Jetjobs-Max-Attempts"
	// HeaderTimeout bounds one attempt (a Go duration such as "30s").
	HeaderTimeout = "Jetjobs-Timeout"
	// HeaderEnqueuedAt is when the job was first enqueued (RFC 3339).
	HeaderEnqueuedAt = "Jetjobs-Enqueued-At"
	// HeaderDeadline is the time after which the job must not start (RFC
	// 3339); an expired job is dead-lettered with reason "expired".
	HeaderDeadline = "Jetjobs-Deadline"
	// HeaderReplayedAt is when a job was replayed from its dead letter (RFC
	// 3339). A cancel of the job's ID recorded before then does not apply
	// to it: replaying a canceled job means it should run.
	HeaderReplayedAt = "Jetjobs-Replayed-At"
	// HeaderNotBefore is the time before which the job must not start (RFC
	// 3339): a worker that receives it earlier hands it back with a delayed
	// Nak, and that delivery is not an attempt. Workers set it on jobs
	// snoozed in their queue (worker.Config.SnoozeInQueue).
	HeaderNotBefore = "Jetjobs-Not-Before"
	// HeaderAttemptBase counts attempts used by earlier messages of the same
	// job (a snoozed job is republished; its attempts so far travel here).
	HeaderAttemptBase = "Jetjobs-Attempt-Base"
	// HeaderSchedule names the periodic schedule that fired the job (see
	// Client.DeclareSchedule).
	HeaderSchedule = "Jetjobs-Schedule"
	// HeaderKeepResult asks workers to keep the job's state and result in
	// the state bucket (Topology.StateBucket), each record for this long
	// after it was written (a Go duration of at least 1s, such as "1h").
	HeaderKeepResult = "Jetjobs-Keep-Result"
	// HeaderTraceParent and HeaderTraceState carry W3C trace context.
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"

	// Headers a dead letter gains.
	HeaderReason   = "Jetjobs-Reason"
	HeaderError    = "Jetjobs-Error"
	HeaderAttempts = "Jetjobs-Attempts"
	HeaderSubject  = "Jetjobs-Subject"
	HeaderFailedAt = "Jetjobs-Failed-At"
)

// Reason says why a job was dead-lettered; it is the Jetjobs-Reason header.
type Reason string

// Dead-letter reasons of protocol v1.
const (
	ReasonFailed        Reason = "failed"
	ReasonMaxDeliveries Reason = "max-deliveries"
	ReasonDecode        Reason = "decode"
	ReasonNoHandler     Reason = "no-handler"
	ReasonCanceled      Reason = "canceled"
	ReasonExpired       Reason = "expired"
)

// DefaultQueue is the queue a job goes to when none is named.
const DefaultQueue = "default"

// ValidateQueue reports whether name is a valid queue name: one token of
// [A-Za-z0-9_-], not starting with '_' (reserved for jetjobs itself).
func ValidateQueue(name string) error {
	if name == "" {
		return fmt.Errorf("%w: queue name is empty", ErrInvalidName)
	}
	if name[0] == '_' {
		return fmt.Errorf("%w: queue %q: names starting with '_' are reserved", ErrInvalidName, name)
	}
	if i := invalidTokenChar(name); i >= 0 {
		return fmt.Errorf("%w: queue %q: character %q at %d is not allowed; use only A-Z a-z 0-9 _ -", ErrInvalidName, name, charAt(name, i), i)
	}
	if len(name) > maxQueueLen {
		return fmt.Errorf("%w: queue name of %d characters is too long; use at most %d (it names the queue's consumers, and the server limits consumer names)", ErrInvalidName, len(name), maxQueueLen)
	}
	return nil
}

// maxQueueLen bounds queue names: a queue's consumers are named after it
// ("<queue>", "fire-<queue>"), and the server refuses consumer names longer
// than 255 characters, so a longer queue could be enqueued into but never
// served.
const maxQueueLen = 250

// maxKindLen bounds kinds, and maxScheduleNameLen schedule names: they are
// parts of subjects, and nats-server refuses a protocol line longer than
// 4 KiB by closing the connection.
const (
	maxKindLen         = 512
	maxScheduleNameLen = 250
)

// ValidateKind reports whether kind is a valid job kind: one or more tokens
// of [A-Za-z0-9_-] joined by dots, such as "email.send".
func ValidateKind(kind string) error {
	if kind == "" {
		return fmt.Errorf("%w: kind is empty", ErrInvalidName)
	}
	if len(kind) > maxKindLen {
		return fmt.Errorf("%w: kind of %d characters is too long; use at most %d (it is part of every subject of the job, and the server limits the protocol lines that carry them)", ErrInvalidName, len(kind), maxKindLen)
	}
	for tok := range strings.SplitSeq(kind, ".") {
		if tok == "" {
			return fmt.Errorf("%w: kind %q has an empty token; join non-empty tokens with single dots", ErrInvalidName, kind)
		}
		if i := invalidTokenChar(tok); i >= 0 {
			return fmt.Errorf("%w: kind %q: character %q is not allowed; use tokens of A-Z a-z 0-9 _ - joined by dots", ErrInvalidName, kind, charAt(tok, i))
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

// charAt returns the character starting at byte i of s, so an error names
// "é" rather than its first byte.
func charAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func invalidTokenChar(s string) int {
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

// Subject returns the subject a job of kind on queue is published to.
func Subject(prefix, queue, kind string) string {
	return prefix + "." + queue + "." + kind
}

// ParseSubject splits a job subject into its queue and kind. It fails when
// subject does not start with prefix, lacks a kind, or has invalid tokens.
func ParseSubject(prefix, subject string) (queue, kind string, err error) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return "", "", fmt.Errorf("%w: subject %q is not under %q", ErrInvalidName, subject, prefix+".")
	}
	queue, kind, ok = strings.Cut(rest, ".")
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

// CopyHeader returns a copy of h for a new message made from an old one
// (snooze, hand-back, relay, dead letter, replay): without the headers the
// server interprets (Nats-*), which would act again on the copy, and
// without drop. room is capacity for the headers the caller adds.
func CopyHeader(h nats.Header, room int, drop ...string) nats.Header {
	out := make(nats.Header, len(h)+room)
	for k, v := range h {
		if !strings.HasPrefix(k, "Nats-") && !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

// IDOf returns the ID of the job message with header h stored at seq in
// stream: its Jetjobs-Id, else its Nats-Msg-Id, else "<stream>-<seq>".
func IDOf(h nats.Header, stream string, seq uint64) string {
	if id := h.Get(HeaderID); id != "" {
		return id
	}
	if id := h.Get(HeaderMsgID); id != "" {
		return id
	}
	return stream + "-" + strconv.FormatUint(seq, 10)
}
