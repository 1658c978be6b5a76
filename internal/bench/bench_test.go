package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/jetjobs/jetjobs/internal/bench"
	"github.com/jetjobs/jetjobs/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newRunner(tb testing.TB, cfg bench.Config) *bench.Runner {
	tb.Helper()
	srv := natstest.Start(tb)
	connect := func() (*nats.Conn, error) { return nats.Connect(srv.URL()) }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := bench.NewRunner(ctx, connect, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return r
}

func TestEveryScenarioOnBothSides(t *testing.T) {
	for _, ack := range []bool{false, true} {
		var progressed int
		r := newRunner(t, bench.Config{
			Jobs: 2000, Concurrency: 16, Queues: 2, Rate: 2000, Duration: 250 * time.Millisecond,
			EnqueueBatch: 300, AckAsync: ack,
			Progress: func(string, int, int) { progressed++ },
		})
		for _, sc := range bench.Scenarios {
			res, err := r.Compare(context.Background(), sc, true, 1)
			if err != nil {
				t.Fatalf("%s (ack async %v): %v", sc, ack, err)
			}
			want := 2000
			if sc == bench.Latency {
				want = 500
			}
			if res.Jobs != want || res.JobsPerSec <= 0 || res.RawJobsPerSec == nil || *res.RawJobsPerSec <= 0 || res.Ratio == nil {
				t.Errorf("%s: %+v", sc, res)
			}
			hasLatency := sc == bench.Concurrent || sc == bench.Latency
			if (res.P50ms != nil) != hasLatency || (res.RawP99ms != nil) != hasLatency {
				t.Errorf("%s: latency reported %v, want %v", sc, res.P50ms != nil, hasLatency)
			}
			if hasLatency && (*res.P50ms <= 0 || *res.P99ms < *res.P50ms || *res.MaxMs < *res.P99ms) {
				t.Errorf("%s: latencies out of order: p50 %v p99 %v max %v", sc, *res.P50ms, *res.P99ms, *res.MaxMs)
			}
			if res.Redelivered != 0 {
				t.Errorf("%s: %d jobs redelivered", sc, res.Redelivered)
			}
		}
		if progressed == 0 {
			t.Error("Progress was never called")
		}
	}
}

func TestWorkRunsJobsConcurrently(t *testing.T) {
	// 200 jobs of 50ms at concurrency 100 take about 100ms when they
	// overlap, 10s when they do not.
	r := newRunner(t, bench.Config{Jobs: 200, Concurrency: 100, Work: 50 * time.Millisecond})
	res, err := r.Compare(context.Background(), bench.Drain, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Seconds > 2 || *res.RawJobsPerSec < 100 {
		t.Errorf("200 jobs of 50ms at concurrency 100: jetjobs %.2fs, raw %.0f jobs/s", res.Seconds, *res.RawJobsPerSec)
	}
}

func TestConfigValidation(t *testing.T) {
	srv := natstest.Start(t)
	connect := func() (*nats.Conn, error) { return nats.Connect(srv.URL()) }
	for _, cfg := range []bench.Config{
		{Jobs: -1}, {Concurrency: -1}, {PayloadBytes: 10}, {Queues: -2}, {Rate: -1}, {Duration: -time.Second}, {Work: -time.Second},
	} {
		if _, err := bench.NewRunner(context.Background(), connect, cfg); err == nil {
			t.Errorf("NewRunner(%+v) accepted an invalid config", cfg)
		}
	}
	if _, err := bench.ParseScenario("drain"); err != nil {
		t.Error(err)
	}
	if _, err := bench.ParseScenario("nope"); err == nil {
		t.Error(`ParseScenario("nope") did not fail`)
	}
}
