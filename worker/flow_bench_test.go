package worker_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// BenchmarkWorkflowFan measures the cost of a task over a plain job that
// keeps its result: each iteration runs a workflow of 1,002 tasks (root ->
// 1,000 chunks -> summary) and, for comparison, 1,002 plain jobs with
// KeepResult through the same pool. ns/task and allocs/task are reported
// for both.
func BenchmarkWorkflowFan(b *testing.B) {
	const n = 1000
	srv := natstest.Start(b)
	_, js := srv.Connect(b)
	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := client.EnsureTopology(ctx); err != nil {
		b.Fatal(err)
	}
	var done, target atomic.Int64
	all := make(chan struct{}, 1)
	finished := func() {
		if done.Add(1) == target.Load() {
			all <- struct{}{}
		}
	}
	p, err := worker.New(js, worker.Config{Logger: testLogger(), Queues: map[string]worker.QueueConfig{"default": {Concurrency: 64}}})
	if err != nil {
		b.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(worker.HandleResult(p, "chunk", func(ctx context.Context, j *job.Job[int]) (int, error) {
		finished()
		return j.Args, nil
	}))
	must(worker.Handle(p, "summary", func(ctx context.Context, j *job.Job[int]) error {
		finished()
		return nil
	}))
	must(p.Start(ctx))
	defer p.Stop(ctx)
	wait := func() {
		select {
		case <-all:
		case <-time.After(2 * time.Minute):
			b.Fatalf("%d of %d tasks done", done.Load(), target.Load())
		}
	}
	b.Run("workflow", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := processCPU()
		for range b.N {
			done.Store(0)
			target.Store(n + 2)
			must(client.StartWorkflow(ctx, fanWorkflow(fmt.Sprintf("bench-%d", benchWorkflows.Add(1)), n)))
			wait()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+2)), "ns/task")
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N*(n+2)), "cpu-µs/task")
	})
	b.Run("plain-keep-result", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := processCPU()
		reqs := make([]job.Request, n+2)
		for range b.N {
			done.Store(0)
			target.Store(n + 2)
			for k := range reqs {
				reqs[k] = job.Request{Kind: "chunk", Args: k, Options: []job.Option{job.KeepResult(time.Hour)}}
			}
			if _, err := client.EnqueueMany(ctx, reqs); err != nil {
				b.Fatal(err)
			}
			wait()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+2)), "ns/task")
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N*(n+2)), "cpu-µs/task")
	})
}

// benchWorkflows numbers the benchmark's workflows: each needs its own ID.
var benchWorkflows atomic.Int64
