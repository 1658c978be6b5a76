package bench

import (
	"github.com/prometheus/client_golang/prometheus"

	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jetjobs/jetjobs/metrics"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// framework is the jetjobs side: job.Client and worker.Pool.
type framework struct {
	*run
	client *job.Client
	pad    string
	opts   [][]job.Option // the Queue option of each queue (and KeepResult with Config.Results)
	reqs   []job.Request
	pool   *worker.Pool
	// awaiters are the goroutines that enqueue and await one job each in
	// the Latency scenario with Config.Results.
	awaiters sync.WaitGroup
}

// keepResultTTL is how long the benchmark keeps states with Config.Results.
const keepResultTTL = 10 * time.Minute

// benchResult is what the benchmark's handler returns with Config.Results.
type benchResult struct {
	N int `json:"n"`
}

func newFramework(r *run) (*framework, error) {
	client, err := job.NewClient(r.prodJS, job.ClientConfig{Topology: r.cfg.Topology})
	if err != nil {
		return nil, err
	}
	f := &framework{run: r, client: client, pad: padding(r.cfg.PayloadBytes)}
	for _, q := range r.queues {
		opts := []job.Option{job.Queue(q)}
		if r.cfg.Results {
			opts = append(opts, job.KeepResult(keepResultTTL))
		}
		f.opts = append(f.opts, opts)
	}
	return f, nil
}

func (f *framework) enqueueRange(ctx context.Context, from, to int) error {
	f.reqs = f.reqs[:0]
	for n := from; n < to; n++ {
		f.reqs = append(f.reqs, job.Request{Kind: kind, Args: newArgs(n, f.pad), Options: f.opts[n%len(f.opts)]})
	}
	results, err := f.client.EnqueueMany(ctx, f.reqs)
	if err != nil {
		return err
	}
	for _, res := range results {
		if res.Err != nil {
			return res.Err
		}
	}
	return nil
}

// publish enqueues job n without waiting, as an open-loop producer must:
// the framework's message, published asynchronously.
func (f *framework) publish(n int) error {
	if f.cfg.Results {
		f.awaiters.Add(1)
		go f.enqueueAndAwait(n)
		return nil
	}
	msg, _, err := f.client.Message(kind, newArgs(n, f.pad), f.opts[n%len(f.opts)]...)
	if err != nil {
		return err
	}
	_, err = f.prodJS.PublishMsgAsync(msg, stallWait)
	return err
}

// enqueueAndAwait enqueues job n keeping its result, awaits it, and
// records the time from before the enqueue to Await's return.
func (f *framework) enqueueAndAwait(n int) {
	defer f.awaiters.Done()
	ctx, cancel := context.WithTimeout(context.Background(), stallLimit)
	defer cancel()
	sent := time.Now()
	res, err := f.client.Enqueue(ctx, kind, newArgs(n, f.pad), f.opts[n%len(f.opts)]...)
	if err != nil {
		f.fail(err)
		return
	}
	st, err := f.client.Await(ctx, res.ID)
	if err == nil {
		_, err = job.ResultOf[benchResult](st)
	}
	if err != nil {
		f.fail(fmt.Errorf("await job %s: %w", res.ID, err))
		return
	}
	f.latencies.add(time.Since(sent))
}

func (f *framework) await(ctx context.Context) error {
	done := make(chan struct{})
	go func() { f.awaiters.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return f.awaitPublished(ctx)
}

func (f *framework) start(ctx context.Context) error {
	queues := make(map[string]worker.QueueConfig, len(f.queues))
	for _, q := range f.queues {
		queues[q] = worker.QueueConfig{Concurrency: f.cfg.Concurrency, Limit: f.cfg.Limit}
	}
	cfg := worker.Config{
		Queues:       queues,
		Topology:     f.cfg.Topology,
		SkipTopology: true,
		Logger:       f.cfg.Logger,
		AckAsync:     f.cfg.AckAsync,
		FetchBatch:   f.cfg.FetchBatch,
		Hooks: worker.Hooks{
			OnSuccess: func(ev worker.Event) { f.worked(ev.Info.Attempt) },
			OnEvent: func(ev worker.Event) {
				if ev.Outcome != worker.OutcomeSucceeded {
					f.fail(fmt.Errorf("job %s: %s: %w", ev.Info.ID, ev.Outcome, ev.Err))
				}
			},
		},
	}
	if f.cfg.Metrics {
		// The collector as an application would run it, scraped or not:
		// its middleware and hooks on every job.
		coll, err := metrics.New(nil, metrics.Config{Topology: f.cfg.Topology})
		if err != nil {
			return err
		}
		if err := prometheus.NewRegistry().Register(coll); err != nil {
			return err
		}
		coll.Instrument(&cfg)
	}
	pool, err := worker.New(f.workJS, cfg)
	if err != nil {
		return err
	}
	work := f.cfg.Work
	handle := func(ctx context.Context, j *job.Job[args]) error {
		if work > 0 {
			t := time.NewTimer(work)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	if f.cfg.Results {
		// The latency is the awaiter's in the Latency scenario, else the
		// start's as without results.
		awaited := f.scenario == Latency
		err = worker.HandleResult(pool, kind, func(ctx context.Context, j *job.Job[args]) (benchResult, error) {
			if !awaited {
				f.started(j.Args.Sent)
			}
			return benchResult{N: j.Args.N}, handle(ctx, j)
		})
	} else {
		err = worker.Handle(pool, kind, func(ctx context.Context, j *job.Job[args]) error {
			f.started(j.Args.Sent)
			return handle(ctx, j)
		})
	}
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	f.pool = pool
	return nil
}

func (f *framework) stop() error {
	if f.pool == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.pool.Stop(ctx); err != nil {
		return fmt.Errorf("stop the pool: %w", err)
	}
	return nil
}
