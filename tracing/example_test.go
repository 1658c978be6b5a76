package tracing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/tracing"
	"github.com/jetjobs/jetjobs/worker"
)

// Example traces a job from the request that enqueues it to the handler
// that runs it. A program would pass its own tracer provider (or set the
// global one) and an exporter to its tracing backend.
func Example() {
	js, stop := natstest.ForExample()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer tp.Shutdown(ctx)
	cfg := tracing.Config{TracerProvider: tp}

	// Enqueue side: inject the trace context into every job.
	client, err := job.NewClient(js, job.ClientConfig{BeforePublish: tracing.BeforePublish(cfg)})
	if err != nil {
		panic(err)
	}
	// Worker side: one span per attempt, first in the middleware chain.
	done := make(chan struct{})
	pool, err := worker.New(js, worker.Config{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Middleware: []job.Middleware{tracing.Middleware(cfg)},
	})
	if err != nil {
		panic(err)
	}
	err = worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[struct{}]) error {
		defer close(done)
		return nil
	})
	if err != nil {
		panic(err)
	}
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}

	reqCtx, request := tp.Tracer("app").Start(ctx, "POST /signup")
	if _, err := client.Enqueue(reqCtx, "email.send", nil); err != nil {
		panic(err)
	}
	request.End()
	<-done
	if err := pool.Stop(ctx); err != nil { // ends the last span
		panic(err)
	}

	names := map[string]string{}
	for _, s := range exporter.GetSpans() {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, s := range exporter.GetSpans() {
		if parent := names[s.Parent.SpanID().String()]; parent != "" {
			fmt.Printf("%s (%s) is a child of %s\n", s.Name, s.SpanKind, parent)
		}
	}
	// Output:
	// create jobs.default.email.send (producer) is a child of POST /signup
	// process jobs.default.email.send (consumer) is a child of create jobs.default.email.send
}
