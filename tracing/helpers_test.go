package tracing_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/tracing"
	"github.com/jetjobs/jetjobs/worker"
)

// recorder is a tracer provider that keeps every ended span in memory.
type recorder struct {
	tp  *sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &recorder{tp: tp, exp: exp}
}

// spans returns the ended spans named name, in the order they ended.
func (r *recorder) spans(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// waitSpans waits until n spans named name have ended and returns them.
func (r *recorder) waitSpans(t *testing.T, name string, n int) []tracetest.SpanStub {
	t.Helper()
	natstest.Eventually(t, 15*time.Second, func() bool { return len(r.spans(name)) >= n }, "%d spans named %q", n, name)
	return r.spans(name)
}

func attr(s tracetest.SpanStub, key attribute.Key) attribute.Value {
	i := slices.IndexFunc(s.Attributes, func(kv attribute.KeyValue) bool { return kv.Key == key })
	if i < 0 {
		return attribute.Value{}
	}
	return s.Attributes[i].Value
}

// env is an embedded server with a traced client and pool set-up.
type env struct {
	t   *testing.T
	srv *natstest.Server
	js  jetstream.JetStream
	rec *recorder
	cfg tracing.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	rec := newRecorder(t)
	return &env{t: t, srv: srv, js: js, rec: rec, cfg: tracing.Config{TracerProvider: rec.tp}}
}

// client returns a client whose enqueues are traced with e.cfg.
func (e *env) client() *job.Client {
	e.t.Helper()
	c, err := job.NewClient(e.js, job.ClientConfig{BeforePublish: tracing.BeforePublish(e.cfg)})
	must(e.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(e.t, c.EnsureTopology(ctx))
	return c
}

// pool starts a pool traced with e.cfg, stopped at cleanup.
func (e *env) pool(cfg worker.Config, register func(p *worker.Pool)) {
	e.t.Helper()
	cfg.Middleware = append([]job.Middleware{tracing.Middleware(e.cfg)}, cfg.Middleware...)
	pooltest.Start(e.t, e.js, cfg, register)
}

func testLogger() *slog.Logger { return pooltest.Logger() }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
