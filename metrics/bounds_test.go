package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

// A queue named twice in Config.Queues counts once: collecting its gauges
// twice would fail every scrape.
func TestDuplicateConfiguredQueueCountsOnce(t *testing.T) {
	e := newEnv(t)
	coll, err := metrics.New(e.js, metrics.Config{Queues: []string{"default", "default"}})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("Config.Queues with a duplicate was accepted, and Gather fails: %v", err)
	}
}

// A job that snoozes on its first attempt runs again as attempt 1 (a snooze
// keeps the attempt count); the enqueue-to-start histogram observes the
// job's first start only, as documented.
func TestSnoozeObservesEnqueueLatencyOnce(t *testing.T) {
	e := newEnv(t)
	coll, err := metrics.New(nil, metrics.Config{})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	var runs, succeeded atomic.Int64
	cfg := worker.Config{Hooks: worker.Hooks{OnSuccess: func(worker.Event) { succeeded.Add(1) }}}
	coll.Instrument(&cfg)
	e.pool(cfg, func(p *worker.Pool) {
		must(t, worker.Handle(p, "nap", func(ctx context.Context, j *job.Job[struct{}]) error {
			if runs.Add(1) == 1 {
				time.Sleep(200 * time.Millisecond) // the job's work
				return job.Snooze(0)               // back of the queue, same attempt
			}
			return nil
		}))
	})
	e.enqueue("nap", nil)
	eventually(t, func() bool { return succeeded.Load() == 1 }, "job succeeded after its snooze")
	f := gather(t, reg)
	if got := f.value("jetjobs_jobs_started_total", "queue=default", "kind=nap"); got != 2 {
		t.Fatalf("started = %v, want 2", got)
	}
	h := f.metric("jetjobs_job_enqueue_to_start_seconds", "queue=default", "kind=nap").GetHistogram()
	if h.GetSampleCount() != 1 {
		t.Errorf("one job, enqueue-to-start observed %d times (sum %.3fs): a snoozed job's re-run at attempt 1 counts again",
			h.GetSampleCount(), h.GetSampleSum())
	}
}

// Kinds invented by a foreign publisher (no handler) that arrive first fill
// MaxKinds; a kind the pool really serves still gets series of its own.
func TestForeignKindsDoNotEvictServedKind(t *testing.T) {
	e := newEnv(t)
	coll, err := metrics.New(nil, metrics.Config{MaxKinds: 2})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	var events atomic.Int64
	// Jobs of kinds nobody serves are dead-lettered at once.
	cfg := worker.Config{UnservedTimeout: time.Nanosecond, Hooks: worker.Hooks{OnEvent: func(worker.Event) { events.Add(1) }}}
	coll.Instrument(&cfg)
	for i := range 2 {
		e.enqueue(fmt.Sprintf("invented%d", i), nil, job.MaxAttempts(1))
	}
	e.pool(cfg, func(p *worker.Pool) {
		must(t, worker.Handle(p, "real", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	eventually(t, func() bool { return events.Load() == 2 }, "invented kinds dead-lettered")
	e.enqueue("real", nil)
	eventually(t, func() bool { return events.Load() == 3 }, "real job settled")
	f := gather(t, reg)
	if got := f.value("jetjobs_jobs_total", "queue=default", "kind=real", "outcome=succeeded"); got != 1 {
		t.Errorf("served kind real: succeeded = %v (-1: no series), _other = %v; foreign kinds evicted a registered one",
			got, f.value("jetjobs_jobs_total", "queue=default", "kind=_other", "outcome=succeeded"))
	}
}

// Without Config.Queues every queue found in the work stream gets its gauge
// series, and a foreign publisher can invent queues: MaxQueues bounds them.
func TestForeignQueuesGaugeCardinalityIsBounded(t *testing.T) {
	e := newEnv(t)
	const queues = 300
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range queues {
		if _, err := e.js.Publish(ctx, fmt.Sprintf("jobs.inv%d.k", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	// One dead letter makes each read count dead letters per queue.
	if _, err := e.js.Publish(ctx, "jobs_dlq.default.x1", nil); err != nil {
		t.Logf("dead letter publish: %v", err)
	}
	coll, err := metrics.New(e.js, metrics.Config{})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	start := time.Now()
	f := gather(t, reg)
	took := time.Since(start)
	n := 0
	for _, mf := range f {
		if strings.HasPrefix(mf.GetName(), "jetjobs_queue_") && mf.GetName() != "jetjobs_queue_stats_errors_total" {
			n += len(mf.GetMetric())
		}
	}
	t.Logf("%d invented queues: %d queue series, read took %s, errors %v", queues, n, took, f.value("jetjobs_queue_stats_errors_total"))
	if want := 7 * 100; n != want {
		t.Errorf("%d queue gauge series from %d queues, want %d (the default MaxQueues of 100, 7 gauges each)", n, queues, want)
	}
}
