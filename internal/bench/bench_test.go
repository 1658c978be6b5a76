package bench_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/jetjobs/jetjobs/internal/bench"
	"github.com/jetjobs/jetjobs/internal/natstest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(workerProcessEnv); spec != "" {
		os.Exit(serveWorkerProcess(spec))
	}
	goleak.VerifyTestMain(m)
}

func newServer(tb testing.TB) *natstest.Server { return natstest.Start(tb) }

func newRunner(tb testing.TB, cfg bench.Config) *bench.Runner {
	tb.Helper()
	return newRunnerOn(tb, newServer(tb), cfg)
}

func newRunnerOn(tb testing.TB, srv *natstest.Server, cfg bench.Config) *bench.Runner {
	tb.Helper()
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

// Close deletes every stream the runner created, the cancel bucket's
// included, and nothing else.
func TestCloseDeletesEverythingItCreated(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	connect := func() (*nats.Conn, error) { return nats.Connect(srv.URL()) }
	r, err := bench.NewRunner(ctx, connect, bench.Config{Jobs: 100, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Compare(ctx, bench.Drain, true, 1); err != nil {
		t.Fatal(err)
	}
	if names := streamNames(t, js); len(names) < 4 {
		t.Fatalf("while it runs the benchmark namespace has streams %v; want the work, dead-letter and cancel ones too", names)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if names := streamNames(t, js); len(names) != 1 || names[0] != "OTHER" {
		t.Errorf("after Close the server has streams %v, want only OTHER", names)
	}
}

func streamNames(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	l := js.StreamNames(t.Context())
	for name := range l.Name() {
		names = append(names, name)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
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

// The benchmarks run one scenario on one side with b.N jobs; b's timer and
// -benchmem count the timed phase alone (for drain: the work, not the
// enqueue before it). Allocations are the whole process's, the embedded
// server's included: the framework's own are the difference between the
// jetjobs and the raw sub-benchmarks. Each also reports jobs/s and CPU
// µs/job. For steady figures run them with -benchtime=100000x -count=5.

func benchmark(b *testing.B, sc bench.Scenario, cfg bench.Config) {
	b.Helper()
	for _, side := range []struct {
		name  string
		side  bench.Side
		async bool
	}{
		{"jetjobs", bench.Jetjobs, false},
		{"jetjobs-ack-async", bench.Jetjobs, true},
		{"raw", bench.Raw, false},
	} {
		if side.async && sc == bench.Enqueue {
			continue
		}
		b.Run(side.name, func(b *testing.B) {
			cfg := cfg
			cfg.Jobs = max(cfg.Jobs, b.N)
			cfg.Rate = max(cfg.Rate, b.N)
			cfg.AckAsync = side.async
			cfg.Timer = b
			r := newRunner(b, cfg)
			b.StopTimer()
			b.ReportAllocs()
			m, err := r.Measure(context.Background(), sc, side.side)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(m.JobsPerSec(), "jobs/s")
			b.ReportMetric(float64(m.CPU.Microseconds())/float64(m.Jobs), "cpu-µs/job")
			b.ReportMetric(float64(m.Allocs)/float64(m.Jobs), "allocs/job")
			b.ReportMetric(float64(m.PeakRSS)/(1<<20), "max-rss-MB")
			if m.Latency.Count > 0 {
				b.ReportMetric(float64(m.Latency.P50)/float64(time.Millisecond), "p50-ms")
				b.ReportMetric(float64(m.Latency.P99)/float64(time.Millisecond), "p99-ms")
			}
		})
	}
}

func BenchmarkEnqueue(b *testing.B)    { benchmark(b, bench.Enqueue, bench.Config{}) }
func BenchmarkDrain(b *testing.B)      { benchmark(b, bench.Drain, bench.Config{}) }
func BenchmarkConcurrent(b *testing.B) { benchmark(b, bench.Concurrent, bench.Config{}) }

// BenchmarkLatency offers b.N jobs over one second (-benchtime=20000x: at
// 20,000 jobs/s).
func BenchmarkLatency(b *testing.B) {
	benchmark(b, bench.Latency, bench.Config{Rate: 1, Duration: time.Second})
}

// BenchmarkBacklog drains backlogs of 100,000, 300,000 and 1,000,000 jobs
// (run it with -benchtime=1x; JETJOBS_BENCH_BACKLOG=100000,10000000 sets
// the sizes): throughput, CPU and allocations per job must stay flat as
// the backlog grows, and the peak RSS too (the embedded server's is
// included).
func BenchmarkBacklog(b *testing.B) {
	sizes := []int{100_000, 300_000, 1_000_000}
	if env := os.Getenv("JETJOBS_BENCH_BACKLOG"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				b.Fatalf("JETJOBS_BENCH_BACKLOG=%s: use job counts separated by commas", env)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchmark(b, bench.Drain, bench.Config{Jobs: n}) })
	}
}

// BenchmarkSleepyJobs runs 100,000 jobs that each wait 100ms, 10,000 at a
// time (-benchtime=1x): near 100,000 jobs/s if concurrency scales.
func BenchmarkSleepyJobs(b *testing.B) {
	benchmark(b, bench.Drain, bench.Config{Jobs: 100_000, Concurrency: 10_000, Work: 100 * time.Millisecond})
}
