package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestReadyFollowsLifecycleAndConnection(t *testing.T) {
	e := newEnv(t)
	p, err := worker.New(e.js, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	if err := p.Ready(); !errors.Is(err, worker.ErrNotReady) {
		t.Fatalf("before Start: Ready() = %v, want ErrNotReady", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Start(ctx))
	if err := p.Ready(); err != nil {
		t.Fatalf("started: Ready() = %v", err)
	}
	e.srv.Shutdown()
	eventually(t, func() bool { return errors.Is(p.Ready(), worker.ErrNotReady) }, "not ready while the server is down")
	e.srv.Restart(t)
	eventually(t, func() bool { return p.Ready() == nil }, "ready after reconnecting")
	must(t, p.Stop(ctx))
	if err := p.Ready(); !errors.Is(err, worker.ErrNotReady) {
		t.Fatalf("after Stop: Ready() = %v, want ErrNotReady", err)
	}
}
