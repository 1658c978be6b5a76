//go:build unix

package worker_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// BenchmarkSequences drains b.N no-op jobs enqueued beforehand: unordered
// jobs, and the same jobs as sequences over 1,000 keys (job i in key
// i%1000) with 16 (the default) and 64 partitions. One embedded server,
// file storage, confirmed acks, queue concurrency 128; it reports jobs/s
// and the process's CPU time per job (server and pool together).
//
//	go test -run '^$' -bench BenchmarkSequences -benchtime 20000x ./worker/
func BenchmarkSequences(b *testing.B) {
	for _, bc := range []struct {
		name       string
		keys       int
		partitions int
	}{
		{"unordered", 0, 0},
		{"keys-1000/partitions-16", 1000, 16},
		{"keys-1000/partitions-64", 1000, 64},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := natstest.Start(b)
			_, js := srv.Connect(b)
			topo := job.Topology{SequencePartitions: bc.partitions}
			client, err := job.NewClient(js, job.ClientConfig{Topology: topo})
			if err != nil {
				b.Fatal(err)
			}
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
					if bc.keys > 0 {
						r.Options = []job.Option{job.Sequence(fmt.Sprintf("key-%d", j%bc.keys))}
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
			p, err := worker.New(js, worker.Config{
				Topology: topo,
				Logger:   testLogger(),
				Queues:   map[string]worker.QueueConfig{"default": {Concurrency: 128}},
			})
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
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
