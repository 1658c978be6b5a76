package job

import (
	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Headers of wire protocol v1 (their home is internal/wire). Every header
// is optional for a foreign enqueuer; see docs/protocol.md.
const (
	// HeaderMsgID is the JetStream deduplication header. The client sets it
	// to the job ID when the caller chose the ID (ID, Unique; batch and
	// workflow jobs), so enqueuing the same job again within the stream's
	// duplicate window stores it once; a generated ID, new by
	// construction, goes without it.
	HeaderMsgID = wire.MsgID
	// HeaderID carries the job ID. Unlike Nats-Msg-Id it survives scheduling.
	HeaderID = wire.ID
	// HeaderMaxAttempts bounds the attempts of one job (decimal, >= 1).
	HeaderMaxAttempts = wire.MaxAttempts
	// HeaderTimeout bounds one attempt (a Go duration such as "30s").
	HeaderTimeout = wire.Timeout
	// HeaderEnqueuedAt is when the job was first enqueued (RFC 3339).
	HeaderEnqueuedAt = wire.EnqueuedAt
	// HeaderDeadline is the time after which the job must not start (RFC
	// 3339); an expired job is dead-lettered with reason "expired".
	HeaderDeadline = wire.Deadline
	// HeaderReplayedAt is when a job was replayed from its dead letter (RFC
	// 3339). A cancel of the job's ID recorded before then does not apply
	// to it: replaying a canceled job means it should run.
	HeaderReplayedAt = wire.ReplayedAt
	// HeaderNotBefore is the time before which the job must not start (RFC
	// 3339): a worker that receives it earlier hands it back with a delayed
	// Nak, and that delivery is not an attempt. Workers set it on jobs
	// snoozed in their queue (worker.Config.SnoozeInQueue).
	HeaderNotBefore = wire.NotBefore
	// HeaderUnservedSince is when a worker first found no handler for the
	// job's kind (RFC 3339).
	HeaderUnservedSince = wire.UnservedSince
	// HeaderAttemptBase counts attempts used by earlier messages of the same
	// job (a snoozed job is republished; its attempts so far travel here).
	HeaderAttemptBase = wire.AttemptBase
	// HeaderSchedule names the periodic schedule that fired the job (see
	// Client.DeclareSchedule).
	HeaderSchedule = wire.Schedule
	// HeaderKeepResult asks workers to keep the job's state and result in
	// the state bucket (Topology.StateBucket), each record for this long
	// after it was written (a Go duration of at least 1s, such as "1h").
	HeaderKeepResult = wire.KeepResult
	// HeaderTraceParent and HeaderTraceState carry W3C trace context.
	HeaderTraceParent = wire.TraceParent
	HeaderTraceState  = wire.TraceState

	// Headers a dead letter gains.
	HeaderReason   = wire.Reason
	HeaderError    = wire.Error
	HeaderAttempts = wire.Attempts
	HeaderSubject  = wire.Subject
	HeaderFailedAt = wire.FailedAt
)

// Reason says why a job was dead-lettered; it is the Jetjobs-Reason header.
type Reason string

// Dead-letter reasons of protocol v1.
const (
	ReasonFailed        Reason = wire.ReasonFailed
	ReasonMaxDeliveries Reason = wire.ReasonMaxDeliveries
	ReasonDecode        Reason = wire.ReasonDecode
	ReasonNoHandler     Reason = wire.ReasonNoHandler
	ReasonCanceled      Reason = wire.ReasonCanceled
	ReasonExpired       Reason = wire.ReasonExpired
)

// DefaultQueue is the queue a job goes to when none is named.
const DefaultQueue = "default"

// ValidateQueue reports whether name is a valid queue name: one token of
// [A-Za-z0-9_-], not starting with '_' (reserved for jetjobs itself). The
// error wraps ErrInvalidName.
func ValidateQueue(name string) error { return wire.ValidateQueue(name) }

// ValidateKind reports whether kind is a valid job kind: one or more tokens
// of [A-Za-z0-9_-] joined by dots, such as "email.send". The error wraps
// ErrInvalidName.
func ValidateKind(kind string) error { return wire.ValidateKind(kind) }

// ValidatePrefix reports whether p can prefix job subjects: one or more
// tokens of [A-Za-z0-9_-] joined by dots. The error wraps ErrInvalidName.
func ValidatePrefix(p string) error { return wire.ValidatePrefix(p) }

// Subject returns the subject a job of kind on queue is published to.
func Subject(prefix, queue, kind string) string { return wire.JobSubject(prefix, queue, kind) }

// ParseSubject splits a job subject into its queue and kind. It fails when
// subject does not start with prefix, lacks a kind, or has invalid tokens.
func ParseSubject(prefix, subject string) (queue, kind string, err error) {
	return wire.ParseSubject(prefix, subject)
}

// CopyHeader returns a copy of h for a new message made from an old one
// (snooze, hand-back, relay, dead letter, replay): without the headers the
// server interprets (Nats-*), which would act again on the copy, and
// without drop. room is capacity for the headers the caller adds.
func CopyHeader(h nats.Header, room int, drop ...string) nats.Header {
	return wire.CopyHeader(h, room, drop...)
}

// IDOf returns the ID of the job message with header h stored at seq in
// stream: its Jetjobs-Id, else its Nats-Msg-Id, else "<stream>-<seq>".
func IDOf(h nats.Header, stream string, seq uint64) string { return wire.IDOf(h, stream, seq) }
