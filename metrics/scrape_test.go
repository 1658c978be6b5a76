package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type order struct {
	ID int `json:"id"`
}

// TestScrapeCountsJobsRun runs jobs of every outcome through a pool
// instrumented with a Collector, scrapes /metrics over HTTP, and checks each
// counter against the jobs that ran.
func TestScrapeCountsJobsRun(t *testing.T) {
	e := newEnv(t)
	coll, err := metrics.New(e.js, metrics.Config{QueueStatsTTL: time.Nanosecond})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)

	var events atomic.Int64
	cfg := worker.Config{
		RetryPolicy: retry.Exponential{Initial: 10 * time.Millisecond, Jitter: retry.NoJitter},
		// Jobs of kinds nobody serves are dead-lettered at once.
		UnservedTimeout: time.Nanosecond,
		// An application hook already set: Instrument must keep it.
		Hooks: worker.Hooks{OnEvent: func(worker.Event) { events.Add(1) }},
	}
	coll.Instrument(&cfg)
	pool := e.pool(cfg, func(p *worker.Pool) {
		must(t, worker.Handle(p, "ok", func(ctx context.Context, j *job.Job[order]) error { return nil }))
		must(t, worker.Handle(p, "flaky", func(ctx context.Context, j *job.Job[order]) error {
			if j.Attempt == 1 {
				return errors.New("first attempt fails")
			}
			return nil
		}))
		must(t, worker.Handle(p, "bad", func(ctx context.Context, j *job.Job[order]) error {
			return job.Permanent(errors.New("never works"))
		}))
	})
	base := serve(t, metrics.NewHandler(metrics.HandlerConfig{Gatherer: reg, Ready: pool.Ready}))

	for i := range 5 {
		e.enqueue("ok", order{ID: i})
	}
	for i := range 3 {
		e.enqueue("flaky", order{ID: i})
	}
	for i := range 2 {
		e.enqueue("bad", order{ID: i})
	}
	e.enqueue("ok", []byte(`[1,2]`))                   // does not decode into order
	e.enqueue("unknown.kind", nil, job.MaxAttempts(1)) // no handler registered
	const settled = 5 + 3*2 + 2 + 1 + 1
	eventually(t, func() bool { return events.Load() == settled }, "%d deliveries settled, got %d", settled, events.Load())

	fams := scrape(t, base)
	fams.expect(t, map[string]float64{
		`jetjobs_jobs_total{queue=default,kind=ok,outcome=succeeded}`:               5,
		`jetjobs_jobs_total{queue=default,kind=ok,outcome=dead_lettered}`:           1,
		`jetjobs_jobs_total{queue=default,kind=ok,outcome=retried}`:                 0,
		`jetjobs_jobs_total{queue=default,kind=flaky,outcome=succeeded}`:            3,
		`jetjobs_jobs_total{queue=default,kind=flaky,outcome=retried}`:              3,
		`jetjobs_jobs_total{queue=default,kind=bad,outcome=dead_lettered}`:          2,
		`jetjobs_jobs_total{queue=default,kind=bad,outcome=succeeded}`:              0,
		`jetjobs_jobs_total{queue=default,kind=unknown.kind,outcome=dead_lettered}`: 1,

		`jetjobs_jobs_started_total{queue=default,kind=ok}`:    6,
		`jetjobs_jobs_started_total{queue=default,kind=flaky}`: 6,
		`jetjobs_jobs_started_total{queue=default,kind=bad}`:   2,
		// The unknown kind never reached a handler.
		`jetjobs_jobs_started_total{queue=default,kind=unknown.kind}`: 0,

		`jetjobs_jobs_failed_total{queue=default,kind=ok}`:           1,
		`jetjobs_jobs_failed_total{queue=default,kind=flaky}`:        3,
		`jetjobs_jobs_failed_total{queue=default,kind=bad}`:          2,
		`jetjobs_jobs_failed_total{queue=default,kind=unknown.kind}`: 0,

		`jetjobs_dead_letters_total{queue=default,kind=bad,reason=failed}`:              2,
		`jetjobs_dead_letters_total{queue=default,kind=ok,reason=decode}`:               1,
		`jetjobs_dead_letters_total{queue=default,kind=unknown.kind,reason=no-handler}`: 1,
		`jetjobs_dead_letters_total{queue=default,kind=bad,reason=max-deliveries}`:      0,

		`jetjobs_job_duration_seconds{queue=default,kind=ok}`:    6,
		`jetjobs_job_duration_seconds{queue=default,kind=flaky}`: 6,
		`jetjobs_job_duration_seconds{queue=default,kind=bad}`:   2,
		// First attempts only: a retry's wait is the retry delay, not queueing.
		`jetjobs_job_enqueue_to_start_seconds{queue=default,kind=flaky}`: 3,
		`jetjobs_job_enqueue_to_start_seconds{queue=default,kind=ok}`:    6,

		`jetjobs_jobs_running{queue=default,kind=ok}`: 0,
	})
	// Everything settled: the server agrees once the last Term landed.
	eventually(t, func() bool {
		f := scrape(t, base)
		return f.value("jetjobs_queue_running_jobs", "queue=default") == 0 &&
			f.value("jetjobs_queue_pending_jobs", "queue=default") == 0 &&
			f.value("jetjobs_queue_redelivered_jobs", "queue=default") == 0 &&
			f.value("jetjobs_queue_dead_letters", "queue=default") == 4
	}, "queue gauges: pending 0, ack pending 0, redelivered 0, dead letters 4")
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %+v", err, problems)
	}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "queue", "kind", "outcome", "reason", "le":
				default:
					t.Errorf("%s has label %s; only bounded labels are allowed", name, l.GetName())
				}
			}
		}
	}
}

func fmtVal(v float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(time.Duration(v).String(), "ns"), "s")
}

// TestQueueGaugesWhileRunning holds jobs in a handler and checks the
// running and server-side gauges while they wait.
func TestQueueGaugesWhileRunning(t *testing.T) {
	e := newEnv(t)
	coll, err := metrics.New(e.js, metrics.Config{QueueStatsTTL: time.Nanosecond, Queues: []string{"slow"}})
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	cfg := worker.Config{Queues: map[string]worker.QueueConfig{"slow": {Concurrency: 1}}}
	coll.Instrument(&cfg)
	e.pool(cfg, func(p *worker.Pool) {
		must(t, worker.Handle(p, "block", func(ctx context.Context, j *job.Job[struct{}]) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	})
	for range 3 {
		e.enqueue("block", nil, job.Queue("slow"))
	}
	want := map[string]float64{
		`jetjobs_jobs_running{queue=slow,kind=block}`:       1,
		`jetjobs_queue_pending_jobs{queue=slow}`:            2,
		`jetjobs_queue_running_jobs{queue=slow}`:            1,
		`jetjobs_queue_redelivered_jobs{queue=slow}`:        0,
		`jetjobs_queue_dead_letters{queue=slow}`:            0,
		`jetjobs_jobs_started_total{queue=slow,kind=block}`: 1,
	}
	eventually(t, func() bool { return matches(gather(t, reg), want) }, "gauges while one job runs: %v", want)
	if v := gather(t, reg).value("jetjobs_queue_pending_jobs", "queue=default"); v != -1 {
		t.Errorf("queue default is not configured but reported: %v", v)
	}
	once.Do(func() { close(release) })
	want = map[string]float64{
		`jetjobs_jobs_running{queue=slow,kind=block}`:                 0,
		`jetjobs_queue_pending_jobs{queue=slow}`:                      0,
		`jetjobs_queue_running_jobs{queue=slow}`:                      0,
		`jetjobs_jobs_total{queue=slow,kind=block,outcome=succeeded}`: 3,
	}
	eventually(t, func() bool { return matches(gather(t, reg), want) }, "gauges after the jobs ran: %v", want)
}

func matches(f families, want map[string]float64) bool {
	for key, w := range want {
		name, labels := parseKey(key)
		if f.value(name, labels...) != w {
			return false
		}
	}
	return true
}

// TestReadyzFollowsPool checks /readyz against a real pool's lifecycle and
// connection.
func TestReadyzFollowsPool(t *testing.T) {
	e := newEnv(t)
	p, err := worker.New(e.js, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	base := serve(t, metrics.NewHandler(metrics.HandlerConfig{Gatherer: prometheus.NewRegistry(), Ready: p.Ready}))

	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not started") {
		t.Fatalf("before Start: /readyz = %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d before Start; liveness must not depend on the pool", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Start(ctx))
	if code, body := get(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("running: /readyz = %d %q", code, body)
	}
	e.srv.Shutdown()
	eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusServiceUnavailable }, "not ready while the server is down")
	e.srv.Restart(t)
	eventually(t, func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK }, "ready again after reconnect")
	must(t, p.Stop(ctx))
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "stop") {
		t.Fatalf("after Stop: /readyz = %d %q", code, body)
	}
}
