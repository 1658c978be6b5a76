package worker_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// env is one embedded server with a client and helpers for a test.
type env struct {
	t      *testing.T
	srv    *natstest.Server
	js     jetstream.JetStream
	client *job.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, js: js, client: c}
}

func testLogger() *slog.Logger { return pooltest.Logger() }

// pool creates a pool on e's server; register adds handlers; the pool is
// started and stopped at cleanup.
func (e *env) pool(cfg worker.Config, register func(p *worker.Pool)) *worker.Pool {
	e.t.Helper()
	return pooltest.Start(e.t, e.js, cfg, register)
}

func (e *env) enqueue(kind string, args any, opts ...job.Option) job.Result {
	e.t.Helper()
	r, err := e.client.Enqueue(context.Background(), kind, args, opts...)
	if err != nil {
		e.t.Fatalf("enqueue %s: %v", kind, err)
	}
	return r
}

func (e *env) deadLetters() []job.DeadLetter {
	e.t.Helper()
	dls, err := e.client.DeadLetters(context.Background(), job.DeadLetterFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return dls
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	natstest.Eventually(t, 15*time.Second, cond, msg, args...)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
