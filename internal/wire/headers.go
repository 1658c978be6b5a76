package wire

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a job message. Every one is optional for a foreign enqueuer.
const (
	// ID carries the job ID. Unlike Nats-Msg-Id it survives scheduling.
	ID = "Jetjobs-Id"
	// MaxAttempts bounds the attempts of one job (decimal, >= 1).
	MaxAttempts = "Jetjobs-Max-Attempts"
	// Timeout bounds one attempt (a Go duration such as "30s").
	Timeout = "Jetjobs-Timeout"
	// EnqueuedAt is when the job was first enqueued (RFC 3339).
	EnqueuedAt = "Jetjobs-Enqueued-At"
	// Deadline is the time after which the job must not start (RFC 3339).
	Deadline = "Jetjobs-Deadline"
	// ReplayedAt is when a job was replayed from its dead letter (RFC 3339).
	ReplayedAt = "Jetjobs-Replayed-At"
	// NotBefore is the time before which the job must not start (RFC 3339).
	NotBefore = "Jetjobs-Not-Before"
	// UnservedSince is when a worker first found no handler for the job's
	// kind (RFC 3339); workers pass such a job on without charging an
	// attempt until it has waited their unserved limit.
	UnservedSince = "Jetjobs-Unserved-Since"
	// KeepResult asks workers to keep the job's state and result in the
	// namespace's state bucket, each record for this long after it was
	// written (a Go duration of at least 1s).
	KeepResult = "Jetjobs-Keep-Result"
	// AttemptBase counts attempts used by earlier messages of the same job.
	AttemptBase = "Jetjobs-Attempt-Base"
	// Schedule names the periodic schedule that fired the job.
	Schedule = "Jetjobs-Schedule"
	// TraceParent and TraceState carry W3C trace context.
	TraceParent = "traceparent"
	TraceState  = "tracestate"
)

// Headers a dead letter gains.
const (
	Reason   = "Jetjobs-Reason"
	Error    = "Jetjobs-Error"
	Attempts = "Jetjobs-Attempts"
	Subject  = "Jetjobs-Subject"
	FailedAt = "Jetjobs-Failed-At"
)

// Headers of the HTTP request the exec worker (`jetjobs worker --http`)
// sends for a job, besides ID and the trace headers.
const (
	HTTPKind    = "Jetjobs-Kind"
	HTTPQueue   = "Jetjobs-Queue"
	HTTPAttempt = "Jetjobs-Attempt"
)

// JetjobsPrefix starts every header jetjobs defines.
const JetjobsPrefix = "Jetjobs-"

// ReservedHeader reports whether name, in any case, starts with Nats- or
// Jetjobs-: headers an application may not set on a job.
func ReservedHeader(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, strings.ToLower(NatsPrefix)) || strings.HasPrefix(lower, strings.ToLower(JetjobsPrefix))
}

// Values of the Reason header of protocol v1.
const (
	ReasonFailed        = "failed"
	ReasonMaxDeliveries = "max-deliveries"
	ReasonDecode        = "decode"
	ReasonNoHandler     = "no-handler"
	ReasonCanceled      = "canceled"
	ReasonExpired       = "expired"
)

// Headers the server interprets (Nats-*). The ones nats.go exports are
// aliases of its constants.
const (
	// NatsPrefix starts every header the server interprets.
	NatsPrefix = "Nats-"
	// MsgID is the JetStream deduplication header.
	MsgID = jetstream.MsgIDHeader
	// ExpectedStream makes a publish fail unless that stream stores it.
	ExpectedStream = jetstream.ExpectedStreamHeader
	// Rollup asks the stream to keep only this message of its subject
	// (value RollupSubject).
	Rollup        = jetstream.MsgRollup
	RollupSubject = jetstream.MsgRollupSubject
	// ExpectedLastSubjectSeq makes a publish fail unless the subject's last
	// message has that sequence (compare-and-set).
	ExpectedLastSubjectSeq = jetstream.ExpectedLastSubjSeqHeader
	// MsgTTL is a message's own time to live (whole seconds, or a Go
	// duration).
	MsgTTL = jetstream.MsgTTLHeader
	// MarkerReason says why the server left a delete marker (a message
	// whose TTL ran out, a purge).
	MarkerReason = jetstream.MarkerReasonHeader
	// ScheduleSpec, ScheduleTarget and ScheduleTimeZone make a server
	// message schedule.
	ScheduleSpec     = jetstream.ScheduleHeader
	ScheduleTarget   = jetstream.ScheduleTargetHeader
	ScheduleTimeZone = jetstream.ScheduleTimeZoneHeader
	// PendingMessages says, on a 408 or 409 pull status, how many messages
	// of the request will not come.
	PendingMessages = "Nats-Pending-Messages"
)

// Status messages of a pull request: headers and codes. A status message
// has no payload and no acknowledgement subject.
const (
	Status      = "Status"
	Description = "Description"

	StatusIdleHeartbeat  = "100"
	StatusNoMessages     = "404"
	StatusRequestTimeout = "408"
	StatusConflict       = "409"
	StatusNoResponders   = "503"
)

// NoResponders reports whether m, the answer to a request, is the server's
// "no responders" status: nothing was subscribed to the request's subject.
func NoResponders(m *nats.Msg) bool {
	return len(m.Data) == 0 && m.Header.Get(Status) == StatusNoResponders
}

// CopyHeader returns a copy of h for a new message made from an old one
// (snooze, hand-back, relay, dead letter, replay): without the headers the
// server interprets (Nats-*), which would act again on the copy, and
// without drop. room is capacity for the headers the caller adds.
func CopyHeader(h nats.Header, room int, drop ...string) nats.Header {
	out := make(nats.Header, len(h)+room)
	for k, v := range h {
		if !strings.HasPrefix(k, NatsPrefix) && !slices.Contains(drop, k) {
			out[k] = v
		}
	}
	return out
}

// IDOf returns the ID of the job message with header h stored at seq in
// stream: its Jetjobs-Id, else its Nats-Msg-Id, else "<stream>-<seq>".
func IDOf(h nats.Header, stream string, seq uint64) string {
	if id := h.Get(ID); id != "" {
		return id
	}
	if id := h.Get(MsgID); id != "" {
		return id
	}
	return stream + "-" + strconv.FormatUint(seq, 10)
}

// The key-value protocol of nats.go's jetstream KeyValue, which the state
// and cancel buckets follow so that any client's KV API reads them: a
// bucket B is the stream KV_B, key K is the subject $KV.B.K, and a delete
// or purge is a message whose KV-Operation header says so.
const (
	// KVOperation marks a delete ("DEL") or purge ("PURGE") of a key.
	KVOperation = "KV-Operation"
	// KVPurge is the KVOperation of a purge.
	KVPurge = "PURGE"
)

// KVStream is the stream that holds bucket.
func KVStream(bucket string) string { return "KV_" + bucket }

// KVSubject is the subject of key in bucket.
func KVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }
