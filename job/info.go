package job

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// DefaultMaxAttempts is the attempt limit of a job that names none.
const DefaultMaxAttempts = 25

// maxAttemptBase bounds the Jetjobs-Attempt-Base a job may carry: far more
// attempts than any consumer delivers, and far from overflowing the
// attempt count (a base near the largest int made attempts negative, and a
// job with two allowed attempts ran a hundred times).
const maxAttemptBase = 1 << 20

// ReadInfo decodes the protocol-v1 envelope of a job message: queue and kind
// from its subject, ID and limits from its headers, the attempt from its
// delivery count. maxAttempts is the limit to use when the job names none.
// A malformed subject or header is reported with ErrDecode; Info is then
// still filled as far as it could be read (for the dead letter).
func ReadInfo(prefix string, msg jetstream.Msg, maxAttempts int) (*Info, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("%w: message has no JetStream metadata: %w", ErrDecode, err)
	}
	return readInfo(prefix, msg.Subject(), msg.Headers(), msg.Data(), meta, maxAttempts)
}

func readInfo(prefix, subject string, h nats.Header, data []byte, meta *jetstream.MsgMetadata, maxAttempts int) (*Info, error) {
	info := &Info{
		Subject:     subject,
		Header:      h,
		Payload:     data,
		Seq:         meta.Sequence.Stream,
		Attempt:     int(meta.NumDelivered),
		MaxAttempts: maxAttempts,
		EnqueuedAt:  meta.Timestamp,
	}
	info.ID = IDOf(h, meta.Stream, meta.Sequence.Stream)
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	queue, kind, err := ParseSubject(prefix, subject)
	if err != nil {
		fail(fmt.Errorf("%w: %w", ErrDecode, err))
	}
	info.Queue, info.Kind = queue, kind
	info.Sequence, _, _ = wire.ParseSequence(prefix, subject)
	if len(h) == 0 {
		return info, firstErr
	}
	if v := h.Get(HeaderAttemptBase); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxAttemptBase {
			fail(fmt.Errorf("%w: header %s=%q is not a count from 0 to %d", ErrDecode, HeaderAttemptBase, clip(v), maxAttemptBase))
		} else {
			info.Attempt += n
		}
	}
	if v := h.Get(HeaderMaxAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			fail(fmt.Errorf("%w: header %s=%q is not a whole number >= 1", ErrDecode, HeaderMaxAttempts, clip(v)))
		} else {
			info.MaxAttempts = n
		}
	}
	if v := h.Get(HeaderTimeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fail(fmt.Errorf("%w: header %s=%q is not a positive Go duration such as 30s", ErrDecode, HeaderTimeout, clip(v)))
		} else {
			info.Timeout = d
		}
	}
	if v := h.Get(HeaderEnqueuedAt); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fail(fmt.Errorf("%w: header %s=%q is not an RFC 3339 time", ErrDecode, HeaderEnqueuedAt, clip(v)))
		} else {
			info.EnqueuedAt = t
		}
	}
	if v := h.Get(HeaderNotBefore); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fail(fmt.Errorf("%w: header %s=%q is not an RFC 3339 time", ErrDecode, HeaderNotBefore, clip(v)))
		} else {
			info.NotBefore = t
			// The first delivery of a message stored before its time came
			// early and was handed back: a wait, not an attempt. (Had a
			// backlog held it past its time, that delivery ran, and this
			// grants the job one attempt more than it was due.)
			if meta.NumDelivered > 1 && meta.Timestamp.Before(t) {
				info.Attempt--
			}
		}
	}
	if v := h.Get(HeaderKeepResult); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < minKeepResult {
			fail(fmt.Errorf("%w: header %s=%q is not a Go duration of at least 1s such as 1h", ErrDecode, HeaderKeepResult, clip(v)))
		} else {
			info.KeepResult = d
		}
	}
	if v := h.Get(HeaderDeadline); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			fail(fmt.Errorf("%w: header %s=%q is not an RFC 3339 time", ErrDecode, HeaderDeadline, clip(v)))
		} else {
			info.Deadline = t
		}
	}
	return info, firstErr
}

// clip shortens a foreign header value quoted in an error, so a huge value
// neither floods logs nor the dead letter's error header.
func clip(v string) string {
	const limit = 64
	if len(v) <= limit {
		return v
	}
	return v[:limit] + "…"
}
