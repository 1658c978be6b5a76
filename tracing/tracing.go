package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// ScopeName is the instrumentation scope of the spans this package starts.
const ScopeName = "github.com/jetjobs/jetjobs/tracing"

// Attributes jetjobs adds to the messaging semantic conventions.
const (
	AttrQueue       = attribute.Key("jetjobs.job.queue")
	AttrKind        = attribute.Key("jetjobs.job.kind")
	AttrAttempt     = attribute.Key("jetjobs.job.attempt")
	AttrMaxAttempts = attribute.Key("jetjobs.job.max_attempts")
	// AttrSnoozeDelay is set, in seconds, on the event an attempt that
	// snoozed records.
	AttrSnoozeDelay = attribute.Key("jetjobs.job.snooze_delay_seconds")
)

// messagingSystem is the messaging.system of every span: NATS has no value
// of its own in the conventions' list, which allows others.
var messagingSystem = semconv.MessagingSystemKey.String("nats")

// Config configures BeforePublish and Middleware. Its zero value uses the
// global tracer provider and W3C trace context.
type Config struct {
	// TracerProvider starts the spans; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator writes and reads the trace context in job headers; nil
	// means propagation.TraceContext, the traceparent and tracestate
	// headers of the wire protocol. Pass otel.GetTextMapPropagator() to use
	// the application's global choice (with baggage, say).
	Propagator propagation.TextMapPropagator
	// NewRoot starts each attempt's span as the root of a trace of its own,
	// linked to the enqueuing span, instead of as its child. Use it when
	// jobs retry for hours or fan out from one request, so that one trace
	// does not grow with every attempt.
	NewRoot bool
}

func (c Config) tracer() trace.Tracer {
	tp := c.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName)
}

func (c Config) propagator() propagation.TextMapPropagator {
	if c.Propagator == nil {
		return propagation.TraceContext{}
	}
	return c.Propagator
}

// BeforePublish returns a function for job.ClientConfig.BeforePublish. For
// each job it starts and ends a PRODUCER span named "create <subject>",
// child of the span in the enqueue's context (or, when there is none, of a
// traceparent header already set on the job), and writes that span's
// context into the job's headers. A delayed job's span names the subject the
// server fires it to.
func BeforePublish(cfg Config) func(ctx context.Context, msg *nats.Msg) {
	tracer, prop := cfg.tracer(), cfg.propagator()
	return func(ctx context.Context, msg *nats.Msg) {
		if msg.Header == nil {
			msg.Header = nats.Header{}
		}
		carrier := HeaderCarrier(msg.Header)
		if !trace.SpanContextFromContext(ctx).IsValid() {
			ctx = prop.Extract(ctx, carrier)
		}
		dest := msg.Subject
		if target := msg.Header.Get(wire.ScheduleTarget); target != "" {
			dest = target
		}
		_, span := tracer.Start(ctx, "create "+dest,
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(
				messagingSystem,
				semconv.MessagingOperationTypeCreate,
				semconv.MessagingOperationName("create"),
				semconv.MessagingDestinationName(dest),
				semconv.MessagingMessageID(msg.Header.Get(job.HeaderID)),
				semconv.MessagingMessageBodySize(len(msg.Data)),
			))
		prop.Inject(trace.ContextWithSpan(ctx, span), carrier)
		span.End()
	}
}

// Middleware returns job middleware that runs each attempt in a CONSUMER
// span named "process <subject>". The span continues the trace found in the
// job's headers, as a child of the enqueuing span and linked to it (see
// Config.NewRoot), and is in the handler's context, so spans the handler
// starts are its children. An error other than a snooze marks the span
// failed and is recorded on it; a panic is recorded and re-raised.
//
// Put it first in worker.Config.Middleware, so that the other middleware run
// inside the span. Jobs that never reach a handler (undecodable headers, no
// handler registered, expired) get no span.
func Middleware(cfg Config) job.Middleware {
	tracer, prop, newRoot := cfg.tracer(), cfg.propagator(), cfg.NewRoot
	return func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) (err error) {
			ctx = prop.Extract(ctx, HeaderCarrier(info.Header))
			opts := []trace.SpanStartOption{
				trace.WithSpanKind(trace.SpanKindConsumer),
				trace.WithAttributes(
					messagingSystem,
					semconv.MessagingOperationTypeProcess,
					semconv.MessagingOperationName("process"),
					semconv.MessagingDestinationName(info.Subject),
					semconv.MessagingConsumerGroupName(info.Queue),
					semconv.MessagingMessageID(info.ID),
					semconv.MessagingMessageBodySize(len(info.Payload)),
					AttrQueue.String(info.Queue),
					AttrKind.String(info.Kind),
					AttrAttempt.Int(info.Attempt),
					AttrMaxAttempts.Int(info.MaxAttempts),
				),
			}
			if enq := trace.SpanContextFromContext(ctx); enq.IsValid() && enq.IsRemote() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: enq}))
			}
			if newRoot {
				opts = append(opts, trace.WithNewRoot())
			}
			ctx, span := tracer.Start(ctx, "process "+info.Subject, opts...)
			defer func() {
				if v := recover(); v != nil {
					perr := fmt.Errorf("panic: %v", v)
					span.RecordError(perr, trace.WithStackTrace(true))
					span.SetAttributes(semconv.ErrorTypeKey.String("panic"))
					span.SetStatus(codes.Error, perr.Error())
					span.End()
					panic(v) // the pool recovers it as a failed attempt
				}
				endSpan(span, err)
			}()
			return next.Handle(ctx, info)
		})
	}
}

// endSpan records the attempt's result on span and ends it.
func endSpan(span trace.Span, err error) {
	var snooze *job.SnoozeError
	switch {
	case err == nil:
	case errors.As(err, &snooze):
		span.AddEvent("snoozed", trace.WithAttributes(AttrSnoozeDelay.Float64(snooze.Delay.Seconds())))
	default:
		span.RecordError(err)
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
