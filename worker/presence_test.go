package worker_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// A started pool lists itself with its queues and running jobs; a stopped
// one disappears at once.
func TestPresenceListsRunningJobsAndGoesAwayOnStop(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	p := e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 3}, "mail": {Concurrency: 2}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "slow.work", func(ctx context.Context, j *job.Job[struct{}]) error {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
	})
	r := e.enqueue("slow.work", nil, job.ID("presence-job"))
	<-started
	var w job.WorkerInfo
	eventually(t, func() bool {
		ws, err := e.client.Workers(context.Background())
		if err != nil || len(ws) != 1 || len(ws[0].Running) != 1 {
			return false
		}
		w = ws[0]
		return true
	}, "the pool did not list its running job")
	close(release)
	host, _ := os.Hostname()
	if w.Host != host || w.PID != os.Getpid() || len(w.Queues) != 2 || w.StartedAt.IsZero() {
		t.Fatalf("presence = %+v", w)
	}
	if slots, busy := w.Slots(); slots != 5 || busy != 1 {
		t.Fatalf("slots, busy = %d, %d; want 5, 1", slots, busy)
	}
	rj := w.Running[0]
	if rj.ID != r.ID || rj.Queue != "default" || rj.Kind != "slow.work" || rj.Seq != r.Seq || rj.Attempt != 1 {
		t.Fatalf("running job = %+v, want ID %s seq %d", rj, r.ID, r.Seq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Stop(ctx))
	ws, err := e.client.Workers(ctx)
	must(t, err)
	if len(ws) != 0 {
		t.Fatalf("a stopped pool is still listed: %+v", ws)
	}
}
