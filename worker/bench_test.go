package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type noopArgs struct {
	N int    `json:"n"`
	S string `json:"s"`
}

// BenchmarkDrain enqueues b.N jobs, then measures a pool working them to
// the end: no-op handler on typed args, default middleware, file storage.
func BenchmarkDrain(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  worker.Config
	}{
		{"confirmed-ack", worker.Config{}},
		{"async-ack", worker.Config{AckAsync: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := natstest.Start(b)
			_, js := srv.Connect(b)
			client, _ := job.NewClient(js, job.ClientConfig{})
			ctx := context.Background()
			if err := client.EnsureTopology(ctx); err != nil {
				b.Fatal(err)
			}
			const chunk = 10000
			reqs := make([]job.Request, 0, chunk)
			for i := 0; i < b.N; i += chunk {
				reqs = reqs[:0]
				for j := i; j < min(b.N, i+chunk); j++ {
					reqs = append(reqs, job.Request{Kind: "noop", Args: noopArgs{N: j, S: "payload"}})
				}
				if _, err := client.EnqueueMany(ctx, reqs); err != nil {
					b.Fatal(err)
				}
			}
			var done atomic.Int64
			all := make(chan struct{})
			cfg := bc.cfg
			cfg.Logger = testLogger()
			cfg.Queues = map[string]worker.QueueConfig{"default": {Concurrency: 128}}
			p, err := worker.New(js, cfg)
			if err != nil {
				b.Fatal(err)
			}
			worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[noopArgs]) error {
				if done.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			})
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			if err := p.Start(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case <-all:
			case <-time.After(5 * time.Minute):
				b.Fatalf("drained %d of %d", done.Load(), b.N)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
			p.Stop(ctx)
		})
	}
}
