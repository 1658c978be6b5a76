package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
	"github.com/nats-io/nats.go/jetstream"
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
			client, err := job.NewClient(js, job.ClientConfig{})
			if err != nil {
				b.Fatal(err)
			}
			drainBenchmark(b, js, client, bc.cfg, nil)
		})
	}
}

// drainBenchmark enqueues b.N no-op jobs through client (job j with
// options(j), if options is not nil), then times a pool of cfg (queue
// default, concurrency 128) working them to the end, and reports jobs/s
// and the process's CPU time per job (server and pool together).
func drainBenchmark(b *testing.B, js jetstream.JetStream, client *job.Client, cfg worker.Config, options func(j int) []job.Option) {
	ctx := context.Background()
	if err := client.EnsureTopology(ctx); err != nil {
		b.Fatal(err)
	}
	const chunk = 10000
	reqs := make([]job.Request, 0, chunk)
	for i := 0; i < b.N; i += chunk {
		reqs = reqs[:0]
		for j := i; j < min(b.N, i+chunk); j++ {
			r := job.Request{Kind: "noop", Args: noopArgs{N: j, S: "payload"}}
			if options != nil {
				r.Options = options(j)
			}
			reqs = append(reqs, r)
		}
		res, err := client.EnqueueMany(ctx, reqs)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	var done atomic.Int64
	all := make(chan struct{})
	cfg.Logger = testLogger()
	cfg.Queues = map[string]worker.QueueConfig{"default": {Concurrency: 128}}
	p, err := worker.New(js, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[noopArgs]) error {
		if done.Add(1) == int64(b.N) {
			close(all)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("drained %d of %d", done.Load(), b.N)
	}
	b.StopTimer()
	elapsed, used := time.Since(start), processCPU()-cpu
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/job")
	_ = p.Stop(ctx)
}
