// Command testworker is the worker process of the fault suite in
// integration/: a jetjobs pool whose handlers record each job they start and
// finish in an append-only file, so a test can check the books after killing
// it. Every record is one write(2) on a file opened with O_APPEND, so a
// record is either whole or absent, even after SIGKILL.
//
// Kinds:
//
//	work          sleeps for the payload's "ms", records "done", succeeds
//	              (with "fail_first": records "fail" and fails attempt 1)
//	poison.panic  panics on every attempt
//	poison.exit   exits the process (status 3) on every attempt
//	poison.hang   blocks until its context ends (its timeout)
//	flow.step     records "done", succeeds with its job ID as its result
//	              (a job of a batch or a workflow task)
//
// With -crash-at point:jobID the process SIGKILLs itself when it reaches
// that point (internal/faultpoint) of the step that settles that job.
//
// It prints "ready" on stdout once the pool is started, and on SIGTERM or
// SIGINT stops the pool gracefully and exits 0 (1 if running jobs had to be
// interrupted at the shutdown deadline).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testworker:", err)
		os.Exit(1)
	}
}

type workArgs struct {
	MS int `json:"ms"`
	// FailFirst fails the job's first attempt, recorded as "fail".
	FailFirst bool `json:"fail_first,omitempty"`
}

func run() error {
	var (
		servers       = flag.String("server", nats.DefaultURL, "NATS server URLs, comma-separated")
		name          = flag.String("name", "w", "name written in every record")
		recordPath    = flag.String("record", "", "file to append start/done records to")
		queues        = flag.String("queues", job.DefaultQueue, "queues to serve, comma-separated")
		concurrency   = flag.Int("concurrency", 8, "jobs run at once per queue")
		ackWait       = flag.Duration("ack-wait", time.Second, "consumer AckWait")
		maxAttempts   = flag.Int("max-attempts", job.DefaultMaxAttempts, "attempts of jobs that set none")
		maxDeliver    = flag.Int("max-deliver", 0, "consumer MaxDeliver (0: the pool's default)")
		timeout       = flag.Duration("timeout", 0, "time limit of each attempt (0: none)")
		shutdown      = flag.Duration("shutdown-timeout", 10*time.Second, "how long running jobs may finish on SIGTERM")
		retryInitial  = flag.Duration("retry-initial", 100*time.Millisecond, "first retry delay")
		retryMax      = flag.Duration("retry-max", 500*time.Millisecond, "longest retry delay")
		replicas      = flag.Int("replicas", 1, "stream replicas (when the worker creates the streams)")
		skipTopology  = flag.Bool("skip-topology", false, "assume the streams exist (created by the test)")
		logLevel      = flag.String("log-level", "warn", "log level")
		noDiscovery   = flag.Bool("no-discovery", false, "ignore servers learned from the cluster (stay behind a proxy)")
		reconnectWait = flag.Duration("reconnect-wait", 100*time.Millisecond, "delay between reconnect attempts")
		pingInterval  = flag.Duration("ping-interval", 0, "client PING interval: a silent link is noticed after two unanswered (0: nats.go's 2m)")
		crashAt       = flag.String("crash-at", "", "point:jobID at which to SIGKILL this process (internal/faultpoint)")
	)
	flag.Parse()
	if *crashAt != "" {
		point, id, _ := strings.Cut(*crashAt, ":")
		faultpoint.Hook = func(p, jobID string) {
			if p == point && jobID == id {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal ends the process
			}
		}
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With(slog.String("worker", *name))

	rec, err := os.OpenFile(*recordPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer rec.Close()
	record := func(event string, info *job.Info) {
		// One write per record: whole or absent after a SIGKILL.
		line := fmt.Sprintf("%s %s %d %s %d\n", event, info.ID, info.Attempt, *name, time.Now().UnixNano())
		if _, err := rec.WriteString(line); err != nil {
			log.Error("record", slog.String("error", err.Error()))
		}
	}

	opts := []nats.Option{
		nats.Name("testworker " + *name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(*reconnectWait),
		nats.ReconnectJitter(0, 0),
		nats.Timeout(2 * time.Second),
	}
	if *pingInterval > 0 {
		opts = append(opts, nats.PingInterval(*pingInterval), nats.MaxPingsOutstanding(2))
	}
	if *noDiscovery {
		opts = append(opts, nats.IgnoreDiscoveredServers(), nats.DontRandomize())
	}
	nc, err := connect(*servers, opts)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	qs := map[string]worker.QueueConfig{}
	for q := range strings.SplitSeq(*queues, ",") {
		qs[q] = worker.QueueConfig{Concurrency: *concurrency}
	}
	cfg := worker.Config{
		Queues:          qs,
		Topology:        job.Topology{Replicas: *replicas},
		SkipTopology:    *skipTopology,
		Logger:          log,
		RetryPolicy:     retry.Exponential{Initial: *retryInitial, Max: *retryMax},
		MaxAttempts:     *maxAttempts,
		MaxDeliver:      *maxDeliver,
		Timeout:         *timeout,
		AckWait:         *ackWait,
		FetchWait:       2 * time.Second,
		ShutdownTimeout: *shutdown,
	}
	newPool := func() (*worker.Pool, error) {
		pool, err := worker.New(js, cfg)
		if err != nil {
			return nil, err
		}
		return pool, errors.Join(
			worker.Handle(pool, "work", func(ctx context.Context, j *job.Job[workArgs]) error {
				record("start", j.Info)
				if j.Args.MS > 0 {
					t := time.NewTimer(time.Duration(j.Args.MS) * time.Millisecond)
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return ctx.Err()
					}
				}
				if j.Args.FailFirst && j.Attempt == 1 {
					record("fail", j.Info)
					return errors.New("first attempt fails (fail_first)")
				}
				record("done", j.Info)
				return nil
			}),
			worker.Handle(pool, "poison.panic", func(ctx context.Context, j *job.Job[struct{}]) error {
				record("start", j.Info)
				panic("poison job: panics on every attempt")
			}),
			worker.Handle(pool, "poison.exit", func(ctx context.Context, j *job.Job[struct{}]) error {
				record("start", j.Info)
				os.Exit(3)
				return nil
			}),
			worker.HandleResult(pool, "flow.step", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
				record("start", j.Info)
				record("done", j.Info)
				return j.ID, nil
			}),
			worker.Handle(pool, "poison.hang", func(ctx context.Context, j *job.Job[struct{}]) error {
				record("start", j.Info)
				<-ctx.Done()
				return ctx.Err()
			}),
		)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	pool, err := startPool(startCtx, newPool)
	cancel()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	fmt.Println("ready")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), *shutdown)
	defer cancel()
	if err := pool.Stop(sctx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

// connect retries the first connection too: a worker started while its
// server restarts (or a cluster elects a leader) comes up once it can.
func connect(servers string, opts []nats.Option) (*nats.Conn, error) {
	opts = append(opts, nats.RetryOnFailedConnect(true))
	nc, err := nats.Connect(servers, opts...)
	if err != nil {
		return nil, err
	}
	return nc, nil
}

// startPool retries Start, each time with a new pool (a pool whose Start
// failed is not reused), while the server is unavailable: no JetStream
// leader yet, the connection still being established.
func startPool(ctx context.Context, newPool func() (*worker.Pool, error)) (*worker.Pool, error) {
	for {
		pool, err := newPool()
		if err != nil {
			return nil, err
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = pool.Start(tctx)
		cancel()
		if err == nil {
			return pool, nil
		}
		if errors.Is(err, job.ErrInvalidOption) || errors.Is(err, job.ErrTopologyMismatch) || ctx.Err() != nil {
			return nil, err
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}
