package wire

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// MaxErrorLen bounds the Jetjobs-Error header of a dead letter; a longer
// cause is cut and ends in "…".
const MaxErrorLen = 2048

// DeadLetterHeadroom is the most a dead letter adds to its job: the reason,
// the error (at most MaxErrorLen), the attempts, the original subject, the
// time and a message ID. A job is at most the server's max_payload less
// this, or its dead letter could not be stored.
const DeadLetterHeadroom = 4096

// DeadLetter holds what the dead letter of a job message is made of.
type DeadLetter struct {
	// Prefix is the dead-letter subject prefix (Topology.DeadLetterPrefix).
	Prefix string
	// Subject, Header and Data are the job message's.
	Subject string
	Header  nats.Header
	Data    []byte
	// ID, Queue and Kind are the job's; an empty or invalid Queue files the
	// dead letter under InvalidQueue, an empty or invalid Kind under
	// InvalidKind (DeadLetterSubject).
	ID, Queue, Kind string
	// Stream, Seq and Stored identify the job message: the stream it was
	// stored in, its sequence there and when the server stored it. They
	// make the dead letter's Nats-Msg-Id (DeadLetterID).
	Stream string
	Seq    uint64
	Stored time.Time
	// Reason, Cause and Attempts say why and after how many attempts.
	Reason   string
	Cause    string
	Attempts int
	// FailedAt is when the job died; zero means now.
	FailedAt time.Time
}

// DeadLetterMessage builds the dead letter d describes: the original
// payload and headers (less the server's Nats-* ones; Jetjobs-Enqueued-At
// from Stored if the job had none) plus the protocol-v1 dead-letter
// headers, on DeadLetterSubject, with Nats-Msg-Id DeadLetterID.
func DeadLetterMessage(d DeadLetter) *nats.Msg {
	out := CopyHeader(d.Header, 8)
	if out.Get(ID) == "" {
		out.Set(ID, d.ID)
	}
	// A replay stores the job again: it keeps the time of its first enqueue,
	// which a job without the header had only as its stream timestamp.
	// (Stored is unknown when zero or, from package job, the Unix epoch.)
	if out.Get(EnqueuedAt) == "" && d.Stored.Unix() > 0 {
		out.Set(EnqueuedAt, d.Stored.UTC().Format(time.RFC3339Nano))
	}
	cause := d.Cause
	if len(cause) > MaxErrorLen {
		cause = cause[:MaxErrorLen] + "…"
	}
	failedAt := d.FailedAt
	if failedAt.IsZero() {
		failedAt = time.Now()
	}
	out.Set(Reason, d.Reason)
	out.Set(Error, strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, cause))
	out.Set(Attempts, strconv.Itoa(d.Attempts))
	out.Set(Subject, d.Subject)
	out.Set(FailedAt, failedAt.UTC().Format(time.RFC3339Nano))
	out.Set(MsgID, DeadLetterID(d.Stream, d.Seq, d.Stored))
	return &nats.Msg{
		Subject: DeadLetterSubject(d.Prefix, d.Queue, d.Reason, d.ID, d.Kind),
		Header:  out,
		Data:    d.Data,
	}
}
