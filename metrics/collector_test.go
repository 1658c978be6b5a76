package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

func newCollector(t *testing.T, cfg metrics.Config) (*metrics.Collector, *prometheus.Registry) {
	t.Helper()
	c, err := metrics.New(nil, cfg)
	must(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return c, reg
}

func TestObserveCountsOutcomes(t *testing.T) {
	info := &job.Info{ID: "j1", Queue: "q", Kind: "k", Attempt: 1, MaxAttempts: 3}
	ran := 5 * time.Millisecond
	tests := []struct {
		name string
		ev   worker.Event
		want map[string]float64
	}{
		{"success", worker.Event{Info: info, Outcome: worker.OutcomeSucceeded, Duration: ran}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=succeeded}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:            0,
		}},
		{"failed attempt retried", worker.Event{Info: info, Outcome: worker.OutcomeRetried, Duration: ran, Err: errors.New("x"), Delay: time.Second}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=retried}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:          1,
		}},
		{"retried without a handler", worker.Event{Info: info, Outcome: worker.OutcomeRetried, Err: errors.New("no handler")}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=retried}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:          0,
		}},
		{"last attempt dead-lettered", worker.Event{Info: info, Outcome: worker.OutcomeDeadLettered, Reason: job.ReasonFailed, Duration: ran}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=dead_lettered}`:  1,
			`jetjobs_dead_letters_total{queue=q,kind=k,reason=failed}`:  1,
			`jetjobs_dead_letters_total{queue=q,kind=k,reason=expired}`: 0,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:                 1,
		}},
		{"canceled by ID while running", worker.Event{Info: info, Outcome: worker.OutcomeDeadLettered, Reason: job.ReasonCanceled, Duration: ran, Err: errors.New("canceled")}, map[string]float64{
			`jetjobs_dead_letters_total{queue=q,kind=k,reason=canceled}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:                  0,
		}},
		{"max deliveries", worker.Event{Info: info, Outcome: worker.OutcomeDeadLettered, Reason: job.ReasonMaxDeliveries}, map[string]float64{
			`jetjobs_dead_letters_total{queue=q,kind=k,reason=max-deliveries}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:                        0,
		}},
		{"snoozed", worker.Event{Info: info, Outcome: worker.OutcomeSnoozed, Duration: ran, Delay: time.Minute}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=snoozed}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:          0,
		}},
		{"interrupted by shutdown", worker.Event{Info: info, Outcome: worker.OutcomeInterrupted, Duration: ran, Err: context.Canceled}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=interrupted}`: 1,
			`jetjobs_jobs_failed_total{queue=q,kind=k}`:              0,
		}},
		{"outcome unknown to this package", worker.Event{Info: info, Outcome: "vanished"}, map[string]float64{
			`jetjobs_jobs_total{queue=q,kind=k,outcome=vanished}`:  1,
			`jetjobs_jobs_total{queue=q,kind=k,outcome=succeeded}`: 0,
		}},
		{"unreadable subject", worker.Event{Info: &job.Info{ID: "j2"}, Outcome: worker.OutcomeDeadLettered, Reason: job.ReasonDecode}, map[string]float64{
			`jetjobs_dead_letters_total{queue=_invalid,kind=_invalid,reason=decode}`: 1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, reg := newCollector(t, metrics.Config{})
			c.Observe(tt.ev)
			c.Observe(worker.Event{}) // no Info: ignored
			gather(t, reg).expect(t, tt.want)
		})
	}
}

func TestMaxKindsBoundsLabels(t *testing.T) {
	c, reg := newCollector(t, metrics.Config{MaxKinds: 2})
	for _, kind := range []string{"a", "b", "c", "d", "a"} {
		c.Observe(worker.Event{Info: &job.Info{Queue: "q", Kind: kind}, Outcome: worker.OutcomeSucceeded})
	}
	f := gather(t, reg)
	f.expect(t, map[string]float64{
		`jetjobs_jobs_total{queue=q,kind=a,outcome=succeeded}`:      2,
		`jetjobs_jobs_total{queue=q,kind=b,outcome=succeeded}`:      1,
		`jetjobs_jobs_total{queue=q,kind=_other,outcome=succeeded}`: 2,
		`jetjobs_jobs_total{queue=q,kind=c,outcome=succeeded}`:      -1,
	})
	if n := len(f["jetjobs_jobs_started_total"].GetMetric()); n != 3 {
		t.Errorf("started_total has %d series, want 3 (a, b, _other)", n)
	}
}

func TestMiddlewareMeasuresAttempts(t *testing.T) {
	c, reg := newCollector(t, metrics.Config{})
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		if info.Attempt == 3 {
			panic("boom")
		}
		return nil
	}), c.Middleware())
	run := func(attempt int, enqueuedAt time.Time) {
		defer func() { _ = recover() }()
		_ = h.Handle(context.Background(), &job.Info{Queue: "q", Kind: "k", Attempt: attempt, EnqueuedAt: enqueuedAt})
	}
	run(1, time.Now().Add(-2*time.Second))
	run(1, time.Now().Add(time.Hour)) // a publisher clock ahead of ours
	run(2, time.Now().Add(-time.Hour))
	run(3, time.Now())
	run(1, time.Time{}) // no enqueue time known
	f := gather(t, reg)
	f.expect(t, map[string]float64{
		`jetjobs_jobs_started_total{queue=q,kind=k}`:           5,
		`jetjobs_job_duration_seconds{queue=q,kind=k}`:         5, // the panic included
		`jetjobs_job_enqueue_to_start_seconds{queue=q,kind=k}`: 2, // first attempts with a time
		`jetjobs_jobs_running{queue=q,kind=k}`:                 0,
	})
	lat := f.metric("jetjobs_job_enqueue_to_start_seconds").GetHistogram()
	if sum := lat.GetSampleSum(); sum < 2 || sum > 60 {
		t.Errorf("latency sum = %v, want about 2s (2s and a negative clamped to 0)", sum)
	}
}

func TestInstrumentChainsHooks(t *testing.T) {
	c, reg := newCollector(t, metrics.Config{})
	var seen []worker.Outcome
	mine := func(next job.Handler) job.Handler { return next }
	cfg := worker.Config{
		Middleware: []job.Middleware{mine},
		Hooks:      worker.Hooks{OnEvent: func(ev worker.Event) { seen = append(seen, ev.Outcome) }},
	}
	c.Instrument(&cfg)
	if len(cfg.Middleware) != 2 {
		t.Fatalf("middleware = %d, want the collector's before the application's", len(cfg.Middleware))
	}
	cfg.Hooks.OnEvent(worker.Event{Info: &job.Info{Queue: "q", Kind: "k"}, Outcome: worker.OutcomeSucceeded})
	if len(seen) != 1 {
		t.Errorf("application hook called %d times, want 1", len(seen))
	}
	if v := gather(t, reg).value("jetjobs_jobs_total", "outcome=succeeded"); v != 1 {
		t.Errorf("succeeded = %v, want 1", v)
	}
	// Hooks alone, for pools configured by hand.
	var cfg2 worker.Config
	cfg2.Hooks = c.Hooks()
	cfg2.Hooks.OnEvent(worker.Event{Info: &job.Info{Queue: "q", Kind: "k"}, Outcome: worker.OutcomeSucceeded})
	if v := gather(t, reg).value("jetjobs_jobs_total", "outcome=succeeded"); v != 2 {
		t.Errorf("succeeded = %v, want 2", v)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]metrics.Config{
		"queue name":    {Queues: []string{"_reserved"}},
		"negative TTL":  {QueueStatsTTL: -time.Second},
		"max kinds":     {MaxKinds: -1},
		"empty buckets": {DurationBuckets: []float64{}},
		"unsorted":      {LatencyBuckets: []float64{1, 0.5}},
		"duplicate":     {LatencyBuckets: []float64{1, 1}},
		"topology":      {Topology: job.Topology{Stream: "a.b"}},
	} {
		_, err := metrics.New(nil, cfg)
		if err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if name != "queue name" && name != "topology" && !errors.Is(err, job.ErrInvalidOption) {
			t.Errorf("%s: error %v does not wrap job.ErrInvalidOption", name, err)
		}
	}
	if _, err := metrics.New(nil, metrics.Config{Queues: []string{"q"}}); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestMetricsLint(t *testing.T) {
	c, _ := newCollector(t, metrics.Config{})
	c.Observe(worker.Event{Info: &job.Info{Queue: "q", Kind: "k"}, Outcome: worker.OutcomeSucceeded})
	problems, err := testutil.CollectAndLint(c)
	must(t, err)
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
