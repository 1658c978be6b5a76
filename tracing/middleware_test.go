package tracing_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/tracing"
)

func TestHeaderCarrier(t *testing.T) {
	h := nats.Header{"Traceparent": {"a"}, "Other": {"x"}}
	c := tracing.HeaderCarrier(h)
	if got := c.Get("traceparent"); got != "a" {
		t.Errorf("Get ignores case: %q, want a", got)
	}
	if got := c.Get("tracestate"); got != "" {
		t.Errorf("Get of a missing key = %q", got)
	}
	c.Set("traceparent", "b")
	if _, ok := h["Traceparent"]; ok || h.Get("traceparent") != "b" {
		t.Errorf("Set left a case variant: %v", h)
	}
	keys := c.Keys()
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"Other", "traceparent"}) {
		t.Errorf("Keys = %v", keys)
	}
	var _ propagation.TextMapCarrier = c
}

// attempt runs h through the middleware as the worker would, with the
// headers of a message a traced client published.
func attempt(t *testing.T, cfg tracing.Config, h job.HandlerFunc) (panicked any, err error) {
	t.Helper()
	msg := nats.NewMsg("jobs.default.k")
	tracing.BeforePublish(cfg)(context.Background(), msg)
	info := &job.Info{ID: "j", Queue: "default", Kind: "k", Subject: msg.Subject, Attempt: 1, MaxAttempts: 3, Header: msg.Header}
	defer func() { panicked = recover() }()
	return nil, tracing.Middleware(cfg)(h).Handle(context.Background(), info)
}

func TestPanicIsRecordedAndRaised(t *testing.T) {
	rec := newRecorder(t)
	cfg := tracing.Config{TracerProvider: rec.tp}
	v, _ := attempt(t, cfg, func(context.Context, *job.Info) error { panic("boom") })
	if v != "boom" {
		t.Fatalf("panic value %v; the middleware must re-raise it for the pool", v)
	}
	s := rec.spans("process jobs.default.k")
	if len(s) != 1 || s[0].Status.Code != codes.Error || s[0].Status.Description != "panic: boom" {
		t.Fatalf("spans %+v, want one ended with the panic as error", s)
	}
	if got := attr(s[0], "error.type").AsString(); got != "panic" {
		t.Errorf("error.type = %q, want panic", got)
	}
}

func TestSnoozeIsNotAnError(t *testing.T) {
	rec := newRecorder(t)
	cfg := tracing.Config{TracerProvider: rec.tp}
	_, err := attempt(t, cfg, func(context.Context, *job.Info) error { return job.Snooze(time.Minute) })
	if err == nil {
		t.Fatal("the snooze error must reach the pool")
	}
	s := rec.spans("process jobs.default.k")[0]
	if s.Status.Code != codes.Unset || len(s.Events) != 1 || s.Events[0].Name != "snoozed" {
		t.Errorf("status %+v events %+v; want unset and a snoozed event", s.Status, s.Events)
	}
	if d := s.Events[0].Attributes[0].Value.AsFloat64(); d != 60 {
		t.Errorf("snooze delay %v, want 60", d)
	}
}

func TestPermanentErrorIsRecorded(t *testing.T) {
	rec := newRecorder(t)
	cfg := tracing.Config{TracerProvider: rec.tp}
	_, _ = attempt(t, cfg, func(context.Context, *job.Info) error { return job.Permanent(context.DeadlineExceeded) })
	s := rec.spans("process jobs.default.k")[0]
	if s.Status.Code != codes.Error || attr(s, "error.type").AsString() == "" {
		t.Errorf("status %+v error.type %q; want error with a type", s.Status, attr(s, "error.type").AsString())
	}
}

// TestBeforePublishKeepsExplicitParent checks that a traceparent set on the
// job (job.Header) is the parent when the enqueue's context has no span.
func TestBeforePublishKeepsExplicitParent(t *testing.T) {
	rec := newRecorder(t)
	cfg := tracing.Config{TracerProvider: rec.tp}
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	msg := nats.NewMsg("jobs.default.k")
	msg.Header.Set("traceparent", parent)
	tracing.BeforePublish(cfg)(context.Background(), msg)
	c := rec.spans("create jobs.default.k")[0]
	if c.Parent.SpanID().String() != "00f067aa0ba902b7" || c.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("create span parent %s trace %s; want the header's", c.Parent.SpanID(), c.SpanContext.TraceID())
	}
	if got := msg.Header.Get("traceparent"); got == parent || got == "" {
		t.Errorf("traceparent = %q; want the create span's context", got)
	}
}
