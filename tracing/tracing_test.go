package tracing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/tracing"
	"github.com/jetjobs/jetjobs/worker"
)

type email struct {
	To string `json:"to"`
}

// TestTraceFromEnqueueToWork checks one trace from the enqueuing request,
// through the producer span, to the attempt and the handler's own span.
func TestTraceFromEnqueueToWork(t *testing.T) {
	e := newEnv(t)
	client := e.client()
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[email]) error {
			_, span := trace.SpanFromContext(ctx).TracerProvider().Tracer("app").Start(ctx, "smtp")
			span.End()
			return nil
		}))
	})
	ctx, request := e.rec.tp.Tracer("app").Start(context.Background(), "POST /signup")
	res, err := client.Enqueue(ctx, "email.send", email{To: "ada@example.com"})
	must(t, err)
	request.End()

	smtp := e.rec.waitSpans(t, "smtp", 1)[0]
	req := e.rec.spans("POST /signup")[0]
	create := e.rec.spans("create jobs.default.email.send")
	process := e.rec.spans("process jobs.default.email.send")
	if len(create) != 1 || len(process) != 1 {
		t.Fatalf("create spans %d, process spans %d; want 1 each", len(create), len(process))
	}
	c, p := create[0], process[0]

	if c.Parent.SpanID() != req.SpanContext.SpanID() || c.SpanKind != trace.SpanKindProducer {
		t.Errorf("create span: parent %s kind %s; want child of the request, producer", c.Parent.SpanID(), c.SpanKind)
	}
	if p.SpanContext.TraceID() != req.SpanContext.TraceID() {
		t.Errorf("process span in trace %s, want the request's %s", p.SpanContext.TraceID(), req.SpanContext.TraceID())
	}
	if p.Parent.SpanID() != c.SpanContext.SpanID() || !p.Parent.IsRemote() {
		t.Errorf("process span parent = %s (remote %t), want the create span %s", p.Parent.SpanID(), p.Parent.IsRemote(), c.SpanContext.SpanID())
	}
	if len(p.Links) != 1 || p.Links[0].SpanContext.SpanID() != c.SpanContext.SpanID() {
		t.Errorf("process span links = %+v, want one to the create span", p.Links)
	}
	if smtp.Parent.SpanID() != p.SpanContext.SpanID() {
		t.Errorf("the handler's span is not a child of the attempt's span")
	}
	if p.SpanKind != trace.SpanKindConsumer || p.Status.Code != codes.Unset {
		t.Errorf("process span kind %s status %v; want consumer, unset", p.SpanKind, p.Status)
	}
	for key, want := range map[string]any{
		string(semconv.MessagingSystemKey):            "nats",
		string(semconv.MessagingOperationTypeKey):     "process",
		string(semconv.MessagingDestinationNameKey):   "jobs.default.email.send",
		string(semconv.MessagingConsumerGroupNameKey): "default",
		string(semconv.MessagingMessageIDKey):         res.ID,
		string(tracing.AttrQueue):                     "default",
		string(tracing.AttrKind):                      "email.send",
		string(tracing.AttrAttempt):                   int64(1),
		string(tracing.AttrMaxAttempts):               int64(job.DefaultMaxAttempts),
		string(semconv.MessagingMessageBodySizeKey):   int64(len(`{"to":"ada@example.com"}`)),
	} {
		if got := attr(p, attribute.Key(key)).AsInterface(); got != want {
			t.Errorf("process span %s = %v, want %v", key, got, want)
		}
	}
	for key, want := range map[string]any{
		string(semconv.MessagingSystemKey):          "nats",
		string(semconv.MessagingOperationTypeKey):   "create",
		string(semconv.MessagingDestinationNameKey): "jobs.default.email.send",
		string(semconv.MessagingMessageIDKey):       res.ID,
	} {
		if got := attr(c, attribute.Key(key)).AsInterface(); got != want {
			t.Errorf("create span %s = %v, want %v", key, got, want)
		}
	}
}

// TestTraceAcrossRetry checks that every attempt joins the enqueuing trace,
// as a child of the same producer span, and that the failure is recorded.
func TestTraceAcrossRetry(t *testing.T) {
	e := newEnv(t)
	client := e.client()
	e.pool(worker.Config{RetryPolicy: retry.Exponential{Initial: 10 * time.Millisecond, Jitter: retry.NoJitter}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "flaky", func(ctx context.Context, j *job.Job[struct{}]) error {
			if j.Attempt == 1 {
				return errors.New("smtp: connection refused")
			}
			return nil
		}))
	})
	ctx, request := e.rec.tp.Tracer("app").Start(context.Background(), "request")
	_, err := client.Enqueue(ctx, "flaky", nil)
	must(t, err)
	request.End()

	attempts := e.rec.waitSpans(t, "process jobs.default.flaky", 2)
	create := e.rec.spans("create jobs.default.flaky")[0]
	for i, a := range attempts {
		if got := attr(a, tracing.AttrAttempt).AsInt64(); got != int64(i+1) {
			t.Errorf("span %d: attempt %d", i, got)
		}
		if a.Parent.SpanID() != create.SpanContext.SpanID() || a.SpanContext.TraceID() != create.SpanContext.TraceID() {
			t.Errorf("attempt %d is not a child of the create span", i+1)
		}
	}
	if attempts[0].SpanContext.SpanID() == attempts[1].SpanContext.SpanID() {
		t.Error("both attempts share one span; want one span per attempt")
	}
	failed := attempts[0]
	if failed.Status.Code != codes.Error || failed.Status.Description != "smtp: connection refused" {
		t.Errorf("first attempt status = %+v, want error", failed.Status)
	}
	if len(failed.Events) == 0 || failed.Events[0].Name != "exception" {
		t.Errorf("first attempt events = %+v, want the recorded error", failed.Events)
	}
	if attempts[1].Status.Code != codes.Unset {
		t.Errorf("second attempt status = %+v, want unset", attempts[1].Status)
	}
}

// TestForeignPublisherJoinsTrace publishes a job without the client, with a
// traceparent header, as a service in another language would.
func TestForeignPublisherJoinsTrace(t *testing.T) {
	e := newEnv(t)
	e.client() // creates the streams
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "report.build", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	msg := nats.NewMsg("jobs.default.report.build")
	// A foreign publisher's header case: NATS headers are case-sensitive.
	msg.Header.Set("Traceparent", "00-"+traceID+"-"+spanID+"-01")
	_, err := e.js.PublishMsg(context.Background(), msg)
	must(t, err)
	p := e.rec.waitSpans(t, "process jobs.default.report.build", 1)[0]
	if p.SpanContext.TraceID().String() != traceID || p.Parent.SpanID().String() != spanID {
		t.Errorf("process span trace %s parent %s; want %s %s", p.SpanContext.TraceID(), p.Parent.SpanID(), traceID, spanID)
	}
}

// TestJobWithoutTraceContextStartsTrace checks a job enqueued by an
// untraced client: its attempt is a root span with no links.
func TestJobWithoutTraceContextStartsTrace(t *testing.T) {
	e := newEnv(t)
	plain, err := job.NewClient(e.js, job.ClientConfig{})
	must(t, err)
	must(t, plain.EnsureTopology(context.Background()))
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	_, err = plain.Enqueue(context.Background(), "noop", nil)
	must(t, err)
	p := e.rec.waitSpans(t, "process jobs.default.noop", 1)[0]
	if p.Parent.IsValid() || len(p.Links) != 0 {
		t.Errorf("process span parent %v links %v; want a root without links", p.Parent, p.Links)
	}
}

// TestNewRootLinksInsteadOfParenting checks Config.NewRoot.
func TestNewRootLinksInsteadOfParenting(t *testing.T) {
	e := newEnv(t)
	client := e.client()
	e.cfg.NewRoot = true
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	_, err := client.Enqueue(context.Background(), "noop", nil)
	must(t, err)
	p := e.rec.waitSpans(t, "process jobs.default.noop", 1)[0]
	c := e.rec.spans("create jobs.default.noop")[0]
	if p.Parent.IsValid() || p.SpanContext.TraceID() == c.SpanContext.TraceID() {
		t.Errorf("NewRoot: process span parent %v in trace %s; want a new root", p.Parent, p.SpanContext.TraceID())
	}
	if len(p.Links) != 1 || p.Links[0].SpanContext.SpanID() != c.SpanContext.SpanID() {
		t.Errorf("NewRoot: links %+v, want one to the create span", p.Links)
	}
}

// TestTraceAcrossSchedule checks that a delayed job, which waits in the
// schedule stream and is fired by the server, keeps its trace.
func TestTraceAcrossSchedule(t *testing.T) {
	e := newEnv(t)
	client := e.client()
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "later", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	ctx, request := e.rec.tp.Tracer("app").Start(context.Background(), "request")
	_, err := client.Enqueue(ctx, "later", nil, job.In(time.Second))
	must(t, err)
	request.End()
	p := e.rec.waitSpans(t, "process jobs.default.later", 1)[0]
	creates := e.rec.spans("create jobs_sched.fire.default.later")
	if len(creates) != 1 {
		t.Fatalf("create spans of the delayed job: %d, want 1 named after its fire subject", len(creates))
	}
	if p.Parent.SpanID() != creates[0].SpanContext.SpanID() {
		t.Errorf("delayed job's attempt is not a child of its create span")
	}
}
