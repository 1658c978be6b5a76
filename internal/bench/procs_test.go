package bench_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/bench"
)

// workerProcessEnv makes the test binary a worker process of
// Config.Procs (see TestMain): its value is a workerProcessSpec in JSON.
const workerProcessEnv = "JETJOBS_BENCH_WORKER_PROCESS"

type workerProcessSpec struct {
	URL         string     `json:"url"`
	Side        bench.Side `json:"side"`
	Queues      []string   `json:"queues"`
	Concurrency int        `json:"concurrency"`
	AckAsync    bool       `json:"ack_async"`
}

// serveWorkerProcess runs the test binary as a worker process and returns
// its exit code.
func serveWorkerProcess(spec string) int {
	var s workerProcessSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() (*nats.Conn, error) { return nats.Connect(s.URL) }
	cfg := bench.Config{Concurrency: s.Concurrency, AckAsync: s.AckAsync}
	if err := bench.ServeWorker(ctx, connect, cfg, s.Side, s.Queues, os.Stdin, os.Stdout); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	return 0
}

// spawner returns a Config.Spawn that runs this test binary as a worker
// process against url, with side replaced by override if it is set.
func spawner(t *testing.T, url string, concurrency int, override bench.Side) func(bench.Side, []string) *exec.Cmd {
	return func(side bench.Side, queues []string) *exec.Cmd {
		if override != "" {
			side = override
		}
		spec, err := json.Marshal(workerProcessSpec{URL: url, Side: side, Queues: queues, Concurrency: concurrency})
		if err != nil {
			t.Error(err)
		}
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), workerProcessEnv+"="+string(spec))
		c.Stderr = os.Stderr
		return c
	}
}

func TestWorkerProcessesWorkEveryJob(t *testing.T) {
	srv := newServer(t)
	const jobs, procs = 3000, 2
	r := newRunnerOn(t, srv, bench.Config{
		Jobs: jobs, Concurrency: 16, Queues: 2, EnqueueBatch: 500,
		Procs: procs, Spawn: spawner(t, srv.URL(), 16, ""),
	})
	for _, sc := range []bench.Scenario{bench.Drain, bench.Concurrent} {
		res, err := r.Compare(context.Background(), sc, true, 1)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		for _, m := range []bench.Measurement{res.Jetjobs, *res.RawRun} {
			// Every job was counted from the processes' progress (the run
			// ends only then, and checks that the consumers hold nothing
			// pending), and every process reported its figures.
			if m.Jobs != jobs || m.Procs != procs || m.Redelivered != 0 {
				t.Errorf("%s %s: jobs %d procs %d redelivered %d, want %d, %d, 0", sc, m.Side, m.Jobs, m.Procs, m.Redelivered, jobs, procs)
			}
			// The processes' CPU and allocations are added to this one's:
			// a thousand jobs cannot be worked without either.
			if m.CPU <= 0 || m.Allocs < jobs || m.Elapsed <= 0 {
				t.Errorf("%s %s: CPU %s, allocs %d, elapsed %s", sc, m.Side, m.CPU, m.Allocs, m.Elapsed)
			}
		}
	}
}

func TestAFailedWorkerProcessFailsTheRun(t *testing.T) {
	srv := newServer(t)
	r := newRunnerOn(t, srv, bench.Config{
		Jobs: 100, Concurrency: 4, Procs: 2, Spawn: spawner(t, srv.URL(), 4, "nope"),
	})
	_, err := r.Measure(context.Background(), bench.Drain, bench.Jetjobs)
	if err == nil || !strings.Contains(err.Error(), "worker process") || !strings.Contains(err.Error(), `unknown side "nope"`) {
		t.Fatalf("Measure with failing worker processes: %v, want the process's error", err)
	}
}

func TestWorkerProcessesRefuseLatency(t *testing.T) {
	srv := newServer(t)
	r := newRunnerOn(t, srv, bench.Config{Jobs: 10, Procs: 1, Spawn: spawner(t, srv.URL(), 4, "")})
	if _, err := r.Measure(context.Background(), bench.Latency, bench.Jetjobs); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Fatalf("latency with worker processes: %v, want an error", err)
	}
}
