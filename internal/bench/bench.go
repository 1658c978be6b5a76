package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Scenario names a benchmark scenario.
type Scenario string

// The scenarios.
const (
	// Enqueue stores Config.Jobs jobs through the enqueue-many API (raw:
	// asynchronous publish) and measures until every one is acknowledged.
	Enqueue Scenario = "enqueue"
	// Drain enqueues Config.Jobs jobs first, then measures working all of
	// them.
	Drain Scenario = "drain"
	// Concurrent enqueues and works Config.Jobs jobs at once and measures
	// until the last one is worked.
	Concurrent Scenario = "concurrent"
	// Latency runs an open-loop producer at Config.Rate jobs/s for
	// Config.Duration and measures enqueue-to-start latency.
	Latency Scenario = "latency"
)

// Scenarios lists every scenario in the order `jetjobs bench` runs them:
// latency last, so that it can run at half of the measured concurrent
// capacity.
var Scenarios = []Scenario{Enqueue, Drain, Concurrent, Latency}

// ParseScenario returns the scenario named s.
func ParseScenario(s string) (Scenario, error) {
	for _, sc := range Scenarios {
		if string(sc) == s {
			return sc, nil
		}
	}
	names := make([]string, len(Scenarios))
	for i, sc := range Scenarios {
		names[i] = string(sc)
	}
	return "", fmt.Errorf("unknown scenario %q; use one of %s", s, strings.Join(names, ", "))
}

// Side names the implementation that runs a scenario.
type Side string

// The sides.
const (
	// Jetjobs is the framework: job.Client and worker.Pool.
	Jetjobs Side = "jetjobs"
	// Raw is a plain nats.go program: PublishMsgAsync, Consume, Ack.
	Raw Side = "raw"
)

// Config sets up the scenarios. Zero values are replaced by the defaults
// documented on each field.
type Config struct {
	// Jobs is how many jobs Enqueue, Drain and Concurrent move; default
	// 100,000.
	Jobs int
	// Concurrency is how many jobs run at once per queue; default 128.
	Concurrency int
	// PayloadBytes is the size of each job's JSON arguments; default 128.
	PayloadBytes int
	// Queues spreads the jobs round-robin over this many queues, each
	// served with Concurrency; default 1.
	Queues int
	// Rate (jobs/s) and Duration drive the Latency scenario; defaults
	// 10,000/s and 10s.
	Rate     int
	Duration time.Duration
	// Work makes each handler wait this long, like an I/O-bound job; zero
	// is a no-op handler.
	Work time.Duration
	// AckAsync acknowledges jobs without waiting for the server's
	// confirmation (worker.Config.AckAsync); the raw side always Acks
	// without confirmation.
	AckAsync bool
	// Metrics instruments the pool with the Prometheus collector of package
	// metrics (its middleware and hooks), to measure what it costs.
	Metrics bool
	// RawHeaders makes the raw side publish the headers jetjobs puts on
	// every job that is not delayed (Jetjobs-Id, Nats-Msg-Id), to tell the
	// cost of the protocol from the cost of the client.
	RawHeaders bool
	// Results makes the framework side keep every job's state and result
	// (job.KeepResult, a handler returning a small result), to measure
	// what results cost per job; in the Latency scenario each job is then
	// enqueued and awaited (job.Client.Await) on its own goroutine, and the
	// latency is enqueue-to-await-return. The raw side is unchanged.
	Results bool
	// Limit bounds the jobs of a queue pending acknowledgement on the
	// server (the consumer's MaxAckPending, worker.QueueConfig.Limit), on
	// both sides; zero is unlimited.
	Limit int
	// FetchBatch caps one pull request of the pool
	// (worker.Config.FetchBatch); zero is the pool's default.
	FetchBatch int
	// EnqueueBatch is how many jobs one EnqueueMany call carries; default
	// 1,000.
	EnqueueBatch int
	// Topology is the namespace the runner creates and deletes; default
	// stream JETJOBS_BENCH on jetjobs_bench.>, file storage, 1 replica.
	Topology job.Topology
	// Logger receives the pool's logs (default middleware included); nil
	// discards them.
	Logger *slog.Logger
	// Progress, if set, is called about ten times a second from one
	// goroutine while jobs move, with the phase ("drain raw: enqueue",
	// "drain raw: work") and how many of its total jobs are done.
	Progress func(phase string, done, total int)
	// ProfileDir, if set, receives a CPU and a heap profile of each timed
	// phase: <scenario>-<side>.cpu.pprof and <scenario>-<side>.heap.pprof.
	ProfileDir string
	// Timer, if set, is started for each timed phase and stopped after it:
	// pass a stopped *testing.B so that its time and allocations count the
	// timed phases alone.
	Timer interface {
		StartTimer()
		StopTimer()
	}
	// Procs, if above zero, works the jobs of the Drain and Concurrent
	// scenarios in this many worker processes of their own, each with
	// Concurrency per queue and all bound to the same consumers, as an
	// installation scales out; this process only enqueues. CPU time,
	// allocations and peak RSS are then the sum of the worker processes'
	// and this one's. Spawn must be set with it.
	Procs int
	// Spawn returns the command of one worker process for side, serving
	// queues: a program that calls ServeWorker with this Config, connected
	// to the same server, and with its standard input and output as
	// ServeWorker's. The runner starts it and waits for its end.
	Spawn func(side Side, queues []string) *exec.Cmd
	// ServerPIDs are the processes of the server (or of a cluster's
	// servers) on this machine: their CPU time over each timed phase is
	// reported beside the client's (Linux only).
	ServerPIDs []int
}

const (
	defaultJobs         = 100_000
	defaultConcurrency  = 128
	defaultPayloadBytes = 128
	defaultRate         = 10_000
	defaultDuration     = 10 * time.Second
	defaultEnqueueBatch = 1000
)

func (c Config) withDefaults() Config {
	if c.Jobs == 0 {
		c.Jobs = defaultJobs
	}
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency
	}
	if c.PayloadBytes == 0 {
		c.PayloadBytes = defaultPayloadBytes
	}
	if c.Queues == 0 {
		c.Queues = 1
	}
	if c.Rate == 0 {
		c.Rate = defaultRate
	}
	if c.Duration == 0 {
		c.Duration = defaultDuration
	}
	if c.EnqueueBatch == 0 {
		c.EnqueueBatch = defaultEnqueueBatch
	}
	if c.Topology.Stream == "" && c.Topology.Prefix == "" {
		c.Topology.Stream, c.Topology.Prefix = "JETJOBS_BENCH", "jetjobs_bench"
	}
	c.Topology = c.Topology.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Jobs < 1:
		return fmt.Errorf("%w: jobs %d must be >= 1", job.ErrInvalidOption, c.Jobs)
	case c.Concurrency < 1:
		return fmt.Errorf("%w: concurrency %d must be >= 1", job.ErrInvalidOption, c.Concurrency)
	case c.PayloadBytes < MinPayloadBytes:
		return fmt.Errorf("%w: payload bytes %d must be >= %d (the arguments carry a counter and a timestamp)", job.ErrInvalidOption, c.PayloadBytes, MinPayloadBytes)
	case c.Queues < 1:
		return fmt.Errorf("%w: queues %d must be >= 1", job.ErrInvalidOption, c.Queues)
	case c.Rate < 1:
		return fmt.Errorf("%w: rate %d must be >= 1 job/s", job.ErrInvalidOption, c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %s must be positive", job.ErrInvalidOption, c.Duration)
	case c.Work < 0:
		return fmt.Errorf("%w: work %s must not be negative", job.ErrInvalidOption, c.Work)
	case c.EnqueueBatch < 1:
		return fmt.Errorf("%w: enqueue batch %d must be >= 1", job.ErrInvalidOption, c.EnqueueBatch)
	case c.Limit < 0:
		return fmt.Errorf("%w: limit %d must be >= 0", job.ErrInvalidOption, c.Limit)
	case c.FetchBatch < 0:
		return fmt.Errorf("%w: fetch batch %d must be >= 0", job.ErrInvalidOption, c.FetchBatch)
	case c.Procs < 0:
		return fmt.Errorf("%w: worker processes %d must be >= 0", job.ErrInvalidOption, c.Procs)
	case c.Procs > 0 && c.Spawn == nil:
		return fmt.Errorf("%w: worker processes %d need Spawn, the command that starts one", job.ErrInvalidOption, c.Procs)
	}
	return c.Topology.Validate()
}

// Measurement is one run of one scenario on one side.
type Measurement struct {
	Scenario Scenario
	Side     Side
	// Jobs is how many jobs the timed phase moved.
	Jobs int
	// Elapsed is the timed phase's wall-clock time.
	Elapsed time.Duration
	// Latency is enqueue-to-start latency (Concurrent and Latency only).
	Latency Latencies
	// ProducerLag is how far the open-loop producer of Latency fell behind
	// its schedule at worst.
	ProducerLag time.Duration
	// PeakRSS is the process's peak resident set size during the timed
	// phase, in bytes (zero where the platform cannot tell). It includes
	// an embedded server.
	PeakRSS uint64
	// Allocs counts heap allocations of the whole process during the timed
	// phase (an embedded server's included).
	Allocs uint64
	// CPU is the process's user and system CPU time during the timed phase
	// (an embedded server's included). On a shared machine it is steadier
	// than throughput: CPU per job is what the framework costs.
	CPU time.Duration
	// ServerCPU is the CPU time of the processes Config.ServerPIDs during
	// the timed phase (zero without them).
	ServerCPU time.Duration
	// Redelivered counts jobs that ran more than once.
	Redelivered int
	// Procs is how many worker processes worked the jobs (Config.Procs);
	// zero when they were worked in this process.
	Procs int
}

// JobsPerSec is the measured throughput.
func (m Measurement) JobsPerSec() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Jobs) / m.Elapsed.Seconds()
}

// Runner runs scenarios against one server. Create it with NewRunner and
// Close it to delete its namespace.
type Runner struct {
	connect func() (*nats.Conn, error)
	cfg     Config
	admin   *nats.Conn
	js      jetstream.JetStream
	runs    int
}

// NewRunner validates cfg, connects with connect (called again for each
// side of each run: producers and workers get connections of their own)
// and creates the namespace, emptying it if a previous run left it behind.
func NewRunner(ctx context.Context, connect func() (*nats.Conn, error), cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	nc, err := connect()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	r := &Runner{connect: connect, cfg: cfg, admin: nc, js: js}
	if err := r.deleteStreams(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if err := cfg.Topology.Ensure(ctx, js); err != nil {
		nc.Close()
		return nil, fmt.Errorf("create the benchmark streams: %w", err)
	}
	return r, nil
}

// Config returns the runner's configuration with defaults applied.
func (r *Runner) Config() Config { return r.cfg }

// SetRate changes the Latency scenario's rate for the following runs.
func (r *Runner) SetRate(rate int) {
	if rate > 0 {
		r.cfg.Rate = rate
	}
}

// Close deletes the namespace and closes the runner's connection.
func (r *Runner) Close(ctx context.Context) error {
	err := r.deleteStreams(ctx)
	r.admin.Close()
	return err
}

// deleteStreams deletes everything Topology.Ensure creates for the
// namespace: its streams (worker presence and flow counters too) and its
// cancel, state and flow buckets (streams KV_<bucket>).
func (r *Runner) deleteStreams(ctx context.Context) error {
	t := r.cfg.Topology
	for _, name := range []string{t.Stream, t.DeadLetterStream, t.ScheduleStream, t.WorkerStream(), t.CounterStream} {
		if err := r.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete benchmark stream %s: %w", name, err)
		}
	}
	if err := r.js.DeleteKeyValue(ctx, t.CancelBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("delete benchmark cancel bucket %s: %w", t.CancelBucket, err)
	}
	if err := r.js.DeleteKeyValue(ctx, t.StateBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("delete benchmark state bucket %s: %w", t.StateBucket, err)
	}
	if err := r.js.DeleteKeyValue(ctx, t.FlowBucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("delete benchmark flow bucket %s: %w", t.FlowBucket, err)
	}
	return nil
}

// Measure runs scenario sc once on side.
func (r *Runner) Measure(ctx context.Context, sc Scenario, side Side) (Measurement, error) {
	r.runs++
	queues := make([]string, r.cfg.Queues)
	for i := range queues {
		queues[i] = fmt.Sprintf("r%d-%s-q%d", r.runs, side, i)
	}
	run := &run{Runner: r, scenario: sc, side: side, queues: queues, failed: make(chan struct{})}
	defer run.cleanup()
	if err := run.open(); err != nil {
		return Measurement{}, err
	}
	var impl implementation
	switch side {
	case Jetjobs:
		f, err := newFramework(run)
		if err != nil {
			return Measurement{}, err
		}
		impl = f
	case Raw:
		impl = newRawSide(run)
	default:
		return Measurement{}, fmt.Errorf("unknown side %q", side)
	}
	if r.cfg.Procs > 0 {
		switch sc {
		case Drain, Concurrent:
			p := newProcs(run, impl)
			defer p.kill()
			impl = p
		case Latency:
			return Measurement{}, fmt.Errorf("%w: the latency scenario runs its workers in this process; leave worker processes out", job.ErrInvalidOption)
		}
	}
	switch sc {
	case Enqueue:
		return run.enqueue(ctx, impl)
	case Drain:
		return run.drain(ctx, impl)
	case Concurrent:
		return run.concurrent(ctx, impl)
	case Latency:
		return run.latency(ctx, impl)
	}
	return Measurement{}, fmt.Errorf("unknown scenario %q", sc)
}

// implementation is one side's way to enqueue and to work jobs.
type implementation interface {
	// enqueueRange stores jobs from..to-1 the side's bulk way: the
	// framework with one EnqueueMany call that returns once the server
	// stored them all, the raw side with asynchronous publishes that await
	// collects.
	enqueueRange(ctx context.Context, from, to int) error
	// publish stores job n without waiting for the acknowledgement.
	publish(n int) error
	// await waits for every acknowledgement outstanding and reports the
	// first publish that failed.
	await(ctx context.Context) error
	// start begins working jobs; every job worked calls run.worked. stop
	// stops working, waiting for jobs in progress.
	start(ctx context.Context) error
	stop() error
}

// run is one Measure call: its queues, connections and counters.
type run struct {
	*Runner
	scenario Scenario
	side     Side
	queues   []string

	prod, work     *nats.Conn
	prodJS, workJS jetstream.JetStream

	target      int // jobs to work before the timed phase ends
	done        atomic.Int64
	redelivered atomic.Int64
	recordLast  bool         // a worker process: keep when the last job was worked
	last        atomic.Int64 // with recordLast, Unix nanoseconds
	finished    chan struct{}
	latencies   *recorder
	pubErr      atomic.Pointer[error] // first asynchronous publish that failed
	failure     atomic.Pointer[error] // first job that did not succeed
	failOnce    sync.Once
	failed      chan struct{}
}

func (r *run) open() error {
	var err error
	if r.prod, err = r.connect(); err != nil {
		return err
	}
	if r.work, err = r.connect(); err != nil {
		return err
	}
	r.prodJS, err = jetstream.New(r.prod, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, msg *nats.Msg, err error) {
		err = fmt.Errorf("publish to %s: %w", msg.Subject, err)
		r.pubErr.CompareAndSwap(nil, &err)
	}))
	if err != nil {
		return err
	}
	r.workJS, err = jetstream.New(r.work)
	return err
}

// cleanup closes the run's connections and deletes its consumers and jobs,
// so that the next run starts from an empty stream.
func (r *run) cleanup() {
	if r.prod != nil {
		r.prod.Close()
	}
	if r.work != nil {
		r.work.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t := r.cfg.Topology
	for _, q := range r.queues {
		_ = r.js.DeleteConsumer(ctx, t.Stream, q)
		_ = r.js.DeleteConsumer(ctx, t.ScheduleStream, wire.FireConsumer(q))
	}
	if s, err := r.js.Stream(ctx, t.Stream); err == nil {
		_ = s.Purge(ctx)
	}
}

// awaitPublished waits until every asynchronous publish is acknowledged
// and returns the first that failed.
func (r *run) awaitPublished(ctx context.Context) error {
	select {
	case <-r.prodJS.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := r.pubErr.Load(); err != nil {
		return *err
	}
	return nil
}

// stallWait lets an asynchronous publish wait for room in the window of
// unacknowledged publishes as long as a loaded server needs, instead of
// failing after nats.go's default of 200ms: the producers here measure
// throughput, and back-pressure is part of it.
var stallWait = jetstream.WithStallWait(stallLimit)

// subject is the subject of job n.
func (r *run) subject(n int) string {
	return job.Subject(r.cfg.Topology.Prefix, r.queues[n%len(r.queues)], kind)
}

// worked records that a job finished; attempt > 1 marks a redelivery.
func (r *run) worked(attempt int) {
	if attempt > 1 {
		r.redelivered.Add(1)
	}
	if r.recordLast {
		r.last.Store(time.Now().UnixNano())
	}
	if r.done.Add(1) == int64(r.target) {
		close(r.finished)
	}
}

// workedN records that n more jobs finished in worker processes.
func (r *run) workedN(n int64) {
	if n <= 0 {
		return
	}
	if d := r.done.Add(n); d >= int64(r.target) && d-n < int64(r.target) {
		close(r.finished)
	}
}

// prepare readies impl for a timed phase (starts worker processes) if it
// needs that, outside the timing.
func prepare(ctx context.Context, impl implementation) error {
	if p, ok := impl.(*procs); ok {
		return p.prepare(ctx)
	}
	return nil
}

// adjust adds what worker processes measured to m.
func adjust(impl implementation, m *Measurement) {
	if p, ok := impl.(*procs); ok {
		p.adjust(m)
	}
}

// started records the enqueue-to-start latency of a job enqueued at sent
// (Unix nanoseconds).
func (r *run) started(sent int64) {
	if r.latencies != nil {
		r.latencies.add(time.Duration(time.Now().UnixNano() - sent))
	}
}

// fail records that a job did not succeed, which ends the run with err.
func (r *run) fail(err error) {
	r.failOnce.Do(func() {
		r.failure.Store(&err)
		close(r.failed)
	})
}

// expect arms the counters for a timed phase that ends after n jobs.
func (r *run) expect(n int) {
	r.target = n
	r.done.Store(0)
	r.finished = make(chan struct{})
}

// wait blocks until the armed number of jobs is worked, reporting
// progress, or fails after limit without progress.
func (r *run) wait(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last, lastChange := int64(-1), time.Now()
	for {
		select {
		case <-r.finished:
			r.progress()
			return nil
		case <-r.failed:
			return *r.failure.Load()
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			r.progress()
			if d := r.done.Load(); d != last {
				last, lastChange = d, now
			} else if now.Sub(lastChange) > stallLimit+r.cfg.Work {
				return fmt.Errorf("%s %s: no job finished for %s; %d of %d done", r.side, r.scenario, stallLimit, d, r.target)
			}
		}
	}
}

// stallLimit fails a run that makes no progress for this long.
const stallLimit = 30 * time.Second

func (r *run) progress() {
	if r.cfg.Progress != nil {
		r.cfg.Progress(fmt.Sprintf("%s %s: work", r.scenario, r.side), int(r.done.Load()), r.target)
	}
}

// enqueueAll stores jobs 0..n-1 in EnqueueBatch chunks, reporting progress
// if report (only one goroutine may report).
func (r *run) enqueueAll(ctx context.Context, impl implementation, n int, report bool) error {
	for i := 0; i < n; i += r.cfg.EnqueueBatch {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := impl.enqueueRange(ctx, i, min(i+r.cfg.EnqueueBatch, n)); err != nil {
			return err
		}
		if report && r.cfg.Progress != nil {
			r.cfg.Progress(fmt.Sprintf("%s %s: enqueue", r.scenario, r.side), min(i+r.cfg.EnqueueBatch, n), n)
		}
	}
	return impl.await(ctx)
}

// timed measures the phase fn, including the process's peak RSS and heap
// allocations over it.
func (r *run) timed(jobs int, fn func() error) (Measurement, error) {
	debug.FreeOSMemory() // what earlier phases left must not count
	resetPeakRSS()
	stopProfile, err := r.startProfile()
	if err != nil {
		return Measurement{}, err
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, server0 := cpuTime(), processCPU(r.cfg.ServerPIDs)
	if r.cfg.Timer != nil {
		r.cfg.Timer.StartTimer()
	}
	start := time.Now()
	err = fn()
	elapsed := time.Since(start)
	if r.cfg.Timer != nil {
		r.cfg.Timer.StopTimer()
	}
	cpu, server := cpuTime()-cpu0, processCPU(r.cfg.ServerPIDs)-server0
	runtime.ReadMemStats(&after)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	m := Measurement{
		Scenario: r.scenario, Side: r.side, Jobs: jobs, Elapsed: elapsed,
		PeakRSS: peakRSS(), Allocs: after.Mallocs - before.Mallocs, CPU: cpu, ServerCPU: server,
		Redelivered: int(r.redelivered.Load()),
	}
	return m, err
}

// startProfile starts a CPU profile of the timed phase if
// Config.ProfileDir is set; the function it returns stops it and writes a
// heap profile.
func (r *run) startProfile() (func() error, error) {
	if r.cfg.ProfileDir == "" {
		return func() error { return nil }, nil
	}
	base := filepath.Join(r.cfg.ProfileDir, fmt.Sprintf("%s-%s", r.scenario, r.side))
	cpu, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		err := cpu.Close()
		heap, herr := os.Create(base + ".heap.pprof")
		if herr != nil {
			return errors.Join(err, herr)
		}
		return errors.Join(err, pprof.WriteHeapProfile(heap), heap.Close())
	}, nil
}

func (r *run) enqueue(ctx context.Context, impl implementation) (Measurement, error) {
	n := r.cfg.Jobs
	r.target = n
	return r.timed(n, func() error { return r.enqueueAll(ctx, impl, n, true) })
}

func (r *run) drain(ctx context.Context, impl implementation) (Measurement, error) {
	n := r.cfg.Jobs
	if err := r.enqueueAll(ctx, impl, n, true); err != nil {
		return Measurement{}, err
	}
	r.expect(n)
	if err := prepare(ctx, impl); err != nil {
		return Measurement{}, err
	}
	m, err := r.timed(n, func() error {
		if err := impl.start(ctx); err != nil {
			return err
		}
		return r.wait(ctx)
	})
	if serr := impl.stop(); err == nil {
		err = serr
	}
	adjust(impl, &m)
	if err == nil {
		err = r.checkEmpty(ctx)
	}
	return m, err
}

func (r *run) concurrent(ctx context.Context, impl implementation) (Measurement, error) {
	n := r.cfg.Jobs
	r.expect(n)
	r.latencies = newRecorder(n)
	if err := prepare(ctx, impl); err != nil {
		return Measurement{}, err
	}
	m, err := r.timed(n, func() error {
		if err := impl.start(ctx); err != nil {
			return err
		}
		return r.produceWhileWorking(ctx, func(ctx context.Context) error {
			return r.enqueueAll(ctx, impl, n, false)
		})
	})
	m.Latency = r.latencies.summary()
	if serr := impl.stop(); err == nil {
		err = serr
	}
	adjust(impl, &m)
	if err == nil {
		err = r.checkEmpty(ctx)
	}
	return m, err
}

func (r *run) latency(ctx context.Context, impl implementation) (Measurement, error) {
	n := max(1, int(float64(r.cfg.Rate)*r.cfg.Duration.Seconds()))
	r.expect(n)
	r.latencies = newRecorder(n)
	if err := impl.start(ctx); err != nil {
		return Measurement{}, errors.Join(err, impl.stop())
	}
	var lag time.Duration
	m, err := r.timed(n, func() error {
		return r.produceWhileWorking(ctx, func(ctx context.Context) error {
			var err error
			lag, err = r.openLoop(ctx, impl, n)
			return err
		})
	})
	m.Latency = r.latencies.summary()
	m.ProducerLag = lag
	if serr := impl.stop(); err == nil {
		err = serr
	}
	if err == nil {
		err = r.checkEmpty(ctx)
	}
	return m, err
}

// openLoop publishes n jobs at Config.Rate on a fixed schedule, whatever
// the workers do: it wakes about every 100µs and publishes every job whose
// time has come. It returns how far behind schedule it fell at worst.
func (r *run) openLoop(ctx context.Context, impl implementation, n int) (time.Duration, error) {
	interval := time.Second / time.Duration(r.cfg.Rate)
	start := time.Now()
	var lag time.Duration
	for i := 0; i < n; {
		now := time.Now()
		due := min(n, int(now.Sub(start)/interval)+1)
		if due > i {
			lag = max(lag, now.Sub(start.Add(time.Duration(i)*interval)))
		}
		for ; i < due; i++ {
			if err := impl.publish(i); err != nil {
				return lag, err
			}
		}
		if i < n {
			next := start.Add(time.Duration(i) * interval)
			select {
			case <-ctx.Done():
				return lag, ctx.Err()
			case <-time.After(max(time.Until(next), 100*time.Microsecond)):
			}
		}
	}
	return lag, impl.await(ctx)
}

// checkEmpty verifies that the run's consumers have nothing pending or
// unacknowledged: every job was worked and acknowledged exactly as counted.
func (r *run) checkEmpty(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		left := uint64(0)
		for _, q := range r.queues {
			c, err := r.js.Consumer(ctx, r.cfg.Topology.Stream, q)
			if err != nil {
				return fmt.Errorf("%s %s: consumer %s: %w", r.side, r.scenario, q, err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			left += info.NumPending + uint64(info.NumAckPending)
		}
		if left == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %d jobs still pending or unacknowledged after the run", r.side, r.scenario, left)
		case <-t.C:
		}
	}
}

// produceWhileWorking runs produce in its own goroutine while waiting for
// the run's jobs to be worked; a failed run ends the producer too, and a
// failed producer ends the run.
func (r *run) produceWhileWorking(ctx context.Context, produce func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := produce(gctx)
		if err != nil {
			r.fail(err)
		}
		return err
	})
	g.Go(func() error { return r.wait(gctx) })
	return g.Wait()
}
