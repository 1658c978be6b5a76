package metrics_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

// BenchmarkInstrumentation measures what the collector adds to one job in
// the worker: the middleware around the handler and the outcome hook.
func BenchmarkInstrumentation(b *testing.B) {
	c, err := metrics.New(nil, metrics.Config{})
	must(b, err)
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }), c.Middleware())
	info := &job.Info{ID: "id", Queue: "default", Kind: "email.send", Attempt: 1, MaxAttempts: 25, EnqueuedAt: time.Now()}
	ev := worker.Event{Info: info, Outcome: worker.OutcomeSucceeded, Duration: time.Millisecond}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = h.Handle(ctx, info)
			c.Observe(ev)
		}
	})
}

// BenchmarkPoolThroughput works a backlog of b.N jobs through a pool on an
// embedded server, bare and instrumented, so that the ratio of the two is
// the collector's cost end to end (jetjobs bench reports the same with and
// without --metrics).
func BenchmarkPoolThroughput(b *testing.B) {
	for _, instrumented := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%t", instrumented), func(b *testing.B) {
			e := newEnv(b)
			reqs := make([]job.Request, 0, 1000)
			for i := 0; i < b.N; i += len(reqs) {
				reqs = reqs[:0]
				for j := i; j < min(i+1000, b.N); j++ {
					reqs = append(reqs, job.Request{Kind: "noop"})
				}
				_, err := e.client.EnqueueMany(context.Background(), reqs)
				must(b, err)
			}
			var done atomic.Int64
			cfg := worker.Config{
				Logger:   testLogger(),
				AckAsync: true,
				Queues:   map[string]worker.QueueConfig{"default": {Concurrency: 256}},
			}
			if instrumented {
				c, err := metrics.New(e.js, metrics.Config{})
				must(b, err)
				prometheus.NewRegistry().MustRegister(c)
				c.Instrument(&cfg)
			}
			p, err := worker.New(e.js, cfg)
			must(b, err)
			must(b, worker.Handle(p, "noop", func(context.Context, *job.Job[struct{}]) error {
				done.Add(1)
				return nil
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			b.ResetTimer()
			must(b, p.Start(ctx))
			t := time.NewTicker(time.Millisecond)
			for done.Load() < int64(b.N) {
				<-t.C
			}
			b.StopTimer()
			t.Stop()
			must(b, p.Stop(ctx))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
	}
}
