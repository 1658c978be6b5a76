package wire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestCopyHeader(t *testing.T) {
	h := nats.Header{}
	h.Set(wire.MsgID, "a")
	h.Set(wire.ScheduleSpec, "@at x")
	h.Set(wire.ExpectedStream, "JOBS")
	h.Set(wire.ID, "a")
	h.Set(wire.Reason, "failed")
	h.Set("X-App", "v")
	got := wire.CopyHeader(h, 2, wire.Reason)
	if len(got) != 2 || got.Get(wire.ID) != "a" || got.Get("X-App") != "v" {
		t.Errorf("CopyHeader = %v, want Jetjobs-Id and X-App only", got)
	}
	got.Set("X-App", "changed")
	if h.Get("X-App") != "v" {
		t.Error("CopyHeader shares the header map")
	}
	if got := wire.CopyHeader(nil, 1); got == nil || len(got) != 0 {
		t.Errorf("CopyHeader(nil) = %v, want an empty header", got)
	}
}

func TestIDOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    nats.Header
		want string
	}{
		{"job ID", nats.Header{wire.ID: {"j"}, wire.MsgID: {"m"}}, "j"},
		{"message ID", nats.Header{wire.MsgID: {"m"}}, "m"},
		{"neither", nil, "JOBS-17"},
	} {
		if got := wire.IDOf(tc.h, "JOBS", 17); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReservedHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Nats-Msg-Id", true}, {"nats-anything", true}, {"Jetjobs-Id", true}, {"JETJOBS-X", true},
		{"X-Nats", false}, {"traceparent", false}, {"Natsy", false},
	} {
		if got := wire.ReservedHeader(tc.name); got != tc.want {
			t.Errorf("ReservedHeader(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNatsHeadersAreServerHeaders(t *testing.T) {
	for _, name := range []string{wire.MsgID, wire.ExpectedStream, wire.Rollup, wire.ScheduleSpec, wire.ScheduleTarget, wire.ScheduleTimeZone, wire.PendingMessages} {
		if !strings.HasPrefix(name, wire.NatsPrefix) {
			t.Errorf("%q does not start with %q", name, wire.NatsPrefix)
		}
	}
	for _, name := range []string{wire.ID, wire.MaxAttempts, wire.Timeout, wire.EnqueuedAt, wire.Deadline, wire.ReplayedAt, wire.NotBefore, wire.AttemptBase, wire.Schedule, wire.Reason, wire.Error, wire.Attempts, wire.Subject, wire.FailedAt, wire.HTTPKind, wire.HTTPQueue, wire.HTTPAttempt} {
		if !strings.HasPrefix(name, wire.JetjobsPrefix) {
			t.Errorf("%q does not start with %q", name, wire.JetjobsPrefix)
		}
	}
}

func TestDeadLetterMessage(t *testing.T) {
	stored := time.Unix(1767323045, 6)
	failed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := nats.Header{}
	h.Set(wire.MsgID, "order-1")
	h.Set("X-App", "v")
	base := wire.DeadLetter{
		Prefix: "jobs_dlq", Subject: "jobs.mail.email.send", Header: h, Data: []byte(`{"to":"a"}`),
		ID: "order-1", Queue: "mail", Kind: "email.send", Stream: "JOBS", Seq: 41, Stored: stored,
		Reason: wire.ReasonFailed, Cause: "line1\r\nline2", Attempts: 3, FailedAt: failed,
	}
	for _, tc := range []struct {
		name    string
		edit    func(*wire.DeadLetter)
		subject string
		header  map[string]string
	}{
		{"failed job", func(*wire.DeadLetter) {}, "jobs_dlq.mail.failed.order-1.email.send", map[string]string{
			wire.ID: "order-1", wire.Reason: "failed", wire.Error: "line1  line2", wire.Attempts: "3",
			wire.Subject: "jobs.mail.email.send", wire.FailedAt: "2026-01-02T03:04:05Z",
			wire.MsgID: "dlq:JOBS:41:1767323045000000006", "X-App": "v",
			// The job had no enqueue time but its stream timestamp: a
			// replay must not take the replay's for it.
			wire.EnqueuedAt: stored.UTC().Format(time.RFC3339Nano),
		}},
		{"enqueue time kept", func(d *wire.DeadLetter) {
			d.Header = nats.Header{wire.EnqueuedAt: {"2025-05-05T05:05:05Z"}}
		}, "jobs_dlq.mail.failed.order-1.email.send", map[string]string{wire.EnqueuedAt: "2025-05-05T05:05:05Z"}},
		{"job ID header kept", func(d *wire.DeadLetter) {
			d.Header = nats.Header{wire.ID: {"from-header"}}
		}, "jobs_dlq.mail.failed.order-1.email.send", map[string]string{wire.ID: "from-header"}},
		{"invalid queue", func(d *wire.DeadLetter) { d.Queue = "" }, "jobs_dlq._invalid.failed.order-1.email.send", nil},
		{"no kind", func(d *wire.DeadLetter) { d.Kind = "" }, "jobs_dlq.mail.failed.order-1._invalid", nil},
		{"reason", func(d *wire.DeadLetter) { d.Reason = wire.ReasonMaxDeliveries }, "jobs_dlq.mail.max-deliveries.order-1.email.send", map[string]string{wire.Reason: "max-deliveries"}},
		{"long cause", func(d *wire.DeadLetter) { d.Cause = strings.Repeat("x", 5000) }, "jobs_dlq.mail.failed.order-1.email.send", map[string]string{
			wire.Error: strings.Repeat("x", wire.MaxErrorLen) + "…",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.edit(&d)
			m := wire.DeadLetterMessage(d)
			if m.Subject != tc.subject {
				t.Errorf("subject %q, want %q", m.Subject, tc.subject)
			}
			if string(m.Data) != string(d.Data) {
				t.Errorf("data %q, want %q", m.Data, d.Data)
			}
			for k, v := range tc.header {
				if got := m.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if got := m.Header.Get(wire.MsgID); got != wire.DeadLetterID(d.Stream, d.Seq, d.Stored) {
				t.Errorf("message ID %q, want DeadLetterID", got)
			}
		})
	}
}

func TestDeadLetterMessageFailedAtDefaultsToNow(t *testing.T) {
	before := time.Now().Add(-time.Second)
	m := wire.DeadLetterMessage(wire.DeadLetter{Prefix: "d", Queue: "q", ID: "i"})
	at, err := time.Parse(time.RFC3339Nano, m.Header.Get(wire.FailedAt))
	if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("FailedAt %q (%v), want about now", m.Header.Get(wire.FailedAt), err)
	}
}
