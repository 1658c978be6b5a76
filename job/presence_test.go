package job_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// A presence lives for its TTL: a worker that stops refreshing it (killed)
// disappears by itself.
func TestPresenceExpiresAfterTTL(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	w := job.WorkerInfo{ID: "w1", Host: "h", PID: 7, TTL: time.Second,
		Queues: []job.WorkerQueue{{Name: "a", Concurrency: 2}, {Name: "b", Concurrency: 1}}}
	if err := c.PublishPresence(ctx, w); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishPresence(ctx, job.WorkerInfo{ID: "w2", Host: "h", PID: 8, Queues: []job.WorkerQueue{{Name: "a"}}}); err != nil {
		t.Fatal(err)
	}
	ws, err := c.Workers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].ID != "w1" || len(ws[0].Queues) != 2 || ws[1].ID != "w2" {
		t.Fatalf("workers = %+v; want w1 (two queues, listed once) and w2", ws)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		ws, err := c.Workers(ctx)
		return err == nil && len(ws) == 1 && ws[0].ID == "w2"
	}, "w1 did not expire after its TTL")
}

func TestPresenceBadInput(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	err := c.PublishPresence(context.Background(), job.WorkerInfo{ID: "x"})
	if !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
}
