package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Pool runs the jobs of one or more queues. Create it with New, register
// handlers with Handle or Register, then Start it (or Run it). A Pool is
// started once; after Stop, create a new one.
//
// The pool is its parts (see docs/architecture.md): a puller per queue
// asks the server for as many jobs as the queue has free slots; runners run
// each job through execute, where decide (verdict.go) says what becomes of
// it and settle carries that out; the acker confirms successes in batches;
// and background services (relays, max-deliveries rescuer, cancel watch,
// heartbeats) run beside them. The parts know each other only through the
// functions the pool hands them.
type Pool struct {
	js  jetstream.JetStream
	cfg Config
	// askedTopology is Config.Topology as given, before defaults: Start
	// applies only its explicit settings to existing streams.
	askedTopology job.Topology
	log           *slog.Logger

	mu        sync.Mutex
	kinds     map[string]*kindEntry
	kindNames []string // sorted, fixed by Start
	state     int
	stopErr   error
	stopped   chan struct{}
	stopping  atomic.Bool
	hardStop  atomic.Bool
	// status mirrors state for Ready, which must not wait for a Start in
	// progress; pulling is the started pool's.
	status  atomic.Int32
	pulling atomic.Pointer[pulling]

	queues     []*queue
	partitions []*queue // one per partition of each queue's sequences (sequence.go)
	// The work stream's sequence partitions (sequence.go).
	seqPartitions int
	seqWatch      *sequenceWatch // stopped before the pullers: it adds some
	services      []service      // started by Start in order, stopped in reverse
	schedules     bool           // snoozes may use the schedule stream
	cancels       *cancels       // nil without a cancel bucket
	states        *states        // writes the state of jobs that keep their result
	flows         *flows         // advances batches and workflows
	acker         *acker
	unserved      unservedWarnings
	runners       runners
	inflight      inflight           // running jobs, for heartbeats
	jobs          jobCount           // dispatched jobs not yet finished
	jobCtx        context.Context    // parent of every job's context
	jobCancel     context.CancelFunc // cancels running jobs at the shutdown deadline
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// queue is one served queue: its consumer and its concurrency slots.
type queue struct {
	name        string
	concurrency int
	slots       slots

	// part is set on the queue values that pull a partition of the
	// queue's sequences (sequence.go).
	part *partition

	mu   sync.Mutex
	cons jetstream.Consumer
}

func (q *queue) consumer() jetstream.Consumer {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.cons
}

func (q *queue) setConsumer(c jetstream.Consumer) {
	q.mu.Lock()
	q.cons = c
	q.mu.Unlock()
}

// New returns a pool that works jobs through js with cfg. It validates cfg
// and does no I/O.
func New(js jetstream.JetStream, cfg Config) (*Pool, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: worker.New needs a jetstream.JetStream", job.ErrInvalidOption)
	}
	asked := cfg.Topology
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pool{js: js, cfg: cfg, askedTopology: asked, log: cfg.Logger, kinds: map[string]*kindEntry{}, stopped: make(chan struct{})}
	p.runners.work = p.execute
	p.states = &states{js: js, topo: cfg.Topology, worker: workerName(), log: cfg.Logger}
	client, err := job.NewClient(js, job.ClientConfig{Topology: cfg.Topology})
	if err != nil {
		return nil, err
	}
	p.flows = &flows{client: client, log: cfg.Logger}
	return p, nil
}

func (p *Pool) register(kind string, h job.Handler, opts []KindOption) error {
	if err := job.ValidateKind(kind); err != nil {
		return err
	}
	e := &kindEntry{kind: kind, handler: h}
	for _, opt := range opts {
		if err := opt(e); err != nil {
			return fmt.Errorf("kind %s: %w", kind, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateNew {
		return fmt.Errorf("%w: register %s before Start", ErrStarted, kind)
	}
	if _, dup := p.kinds[kind]; dup {
		return fmt.Errorf("%w: %s", ErrAlreadyRegistered, kind)
	}
	p.kinds[kind] = e
	return nil
}

// prepareKinds fixes the registered kinds for running jobs: their sorted
// names, and each kind's chain (its handler inside the kind's and the
// pool's middleware) and retry policy.
func (p *Pool) prepareKinds() {
	p.kindNames = slices.Sorted(maps.Keys(p.kinds))
	for _, e := range p.kinds {
		e.chain = job.Chain(job.Chain(e.handler, e.middleware...), p.cfg.Middleware...)
		if e.policy == nil {
			e.policy = p.cfg.RetryPolicy
		}
	}
}

// Kinds returns the registered kinds, sorted.
func (p *Pool) Kinds() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Sorted(maps.Keys(p.kinds))
}

// Start creates or checks the streams (unless Config.SkipTopology), creates
// or updates the consumer of each queue, and starts pulling jobs. It returns
// once the pool is running; ctx bounds only the set-up. Start fails if no
// kind is registered.
func (p *Pool) Start(ctx context.Context) (err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateNew {
		return ErrStarted
	}
	defer func() {
		if err != nil {
			p.queues, p.partitions = nil, nil // a failed Start leaves the pool as New had it, to try again
		}
	}()
	if len(p.kinds) == 0 {
		return fmt.Errorf("%w: register at least one kind with Handle or Register before Start", job.ErrInvalidOption)
	}
	if !p.cfg.SkipTopology {
		if err := p.askedTopology.Ensure(ctx, p.js); err != nil {
			return err
		}
	}
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return fmt.Errorf("jetjobs: work stream %s: %w", p.cfg.Topology.Stream, err)
	}
	if err := p.openQueues(ctx, stream); err != nil {
		return err
	}
	idleSequences, err := p.openSequences(ctx, stream)
	if err != nil {
		return err
	}
	p.prepareKinds()

	topo, names := p.cfg.Topology, p.queueNames()
	rel := &relays{js: p.js, topo: topo, queues: names, log: p.log}
	watch := &cancelWatch{js: p.js, topo: topo, log: p.log}
	p.acker = newAcker(p.js.Conn(), !p.cfg.AckAsync, p.log, p.finish)
	services := []service{
		rel,
		&maxDeliveries{js: p.js, topo: topo, queues: names, partitions: p.partitionConsumers(), log: p.log, fire: p.fire, states: p.states, flows: p.flows},
		watch,
		p.acker,
		&heartbeats{every: p.cfg.AckWait / 3, inflight: &p.inflight, reap: p.runners.reap},
		p.newPresence(),
	}
	if err := startServices(ctx, services); err != nil {
		return err
	}
	p.schedules, p.cancels = rel.available, watch.cancels
	p.jobCtx, p.jobCancel = context.WithCancel(context.Background())
	pg := &pulling{queues: append(slices.Clip(p.queues), p.partitions...), edges: p.pullerEdges}
	if err := pg.start(ctx); err != nil {
		p.jobCancel()
		stopServices(services)
		return err
	}
	p.pulling.Store(pg)
	if len(idleSequences) > 0 {
		watch := &sequenceWatch{pool: p, idle: idleSequences}
		if err := watch.start(ctx); err != nil {
			pg.stop()
			p.jobCancel()
			stopServices(services)
			return err
		}
		p.seqWatch = watch
	}
	p.services = services
	p.state = stateStarted
	p.status.Store(stateStarted)
	p.log.LogAttrs(ctx, slog.LevelInfo, "worker pool started",
		slog.Any("queues", names), slog.Int("kinds", len(p.kinds)),
		slog.String("stream", p.cfg.Topology.Stream))
	return nil
}

// openQueues creates or updates the consumer of each queue on stream, the
// work stream, and gives each queue its slots.
func (p *Pool) openQueues(ctx context.Context, stream jetstream.Stream) error {
	var shared *arbiter // slots shared by priority (Config.Concurrency)
	if p.cfg.Concurrency > 0 {
		shared = newArbiter(p.cfg.Concurrency)
	}
	for _, name := range slices.Sorted(maps.Keys(p.cfg.Queues)) {
		qc := p.cfg.Queues[name]
		cons, err := p.ensureConsumer(ctx, stream, name, qc)
		if err != nil {
			return err
		}
		var qs slots = newSemaphore(qc.Concurrency)
		if shared != nil {
			qs = shared.share(name, qc.Priority, qc.Weight, qc.Concurrency)
		}
		p.queues = append(p.queues, &queue{name: name, concurrency: qc.Concurrency, cons: cons, slots: qs})
	}
	return nil
}

func (p *Pool) queueNames() []string {
	names := make([]string, len(p.queues))
	for i, q := range p.queues {
		names[i] = q.name
	}
	return names
}

// pullerEdges is what the puller of q may use of the pool.
func (p *Pool) pullerEdges(q *queue) pullerEdges {
	return pullerEdges{
		nc:        p.js.Conn(),
		next:      wire.NextSubject(wire.APIPrefix(p.js), p.cfg.Topology.Stream, q.consumerName()),
		fetchWait: p.cfg.FetchWait,
		batch:     p.cfg.FetchBatch,
		log:       p.log,
		deliver:   p.dispatch,
		refuse:    p.handBackLater,
		recreate:  p.recreateConsumer,
	}
}

// dispatch runs msg on a runner. A job that arrives after Stop began never
// starts: it is handed back for immediate redelivery.
func (p *Pool) dispatch(pl *puller, msg jetstream.Msg) {
	if p.stopping.Load() {
		p.handBackLater(msg)
		pl.q.slots.release()
		return
	}
	p.jobs.Add(1)
	p.runners.run(delivery{pl: pl, msg: msg})
}

// finish ends a dispatched job once it is settled: its hooks fire and Stop
// no longer waits for it. Every dispatched job is finished exactly once, by
// settle or, for a success, by the acker.
func (p *Pool) finish(ev Event) {
	p.fire(ev)
	p.jobs.Done()
}

// fire calls the hooks with ev.
func (p *Pool) fire(ev Event) { p.cfg.Hooks.fire(ev, p.log) }

// Stop shuts the pool down gracefully: it stops pulling jobs, hands back
// jobs that arrived but never started, and lets running jobs finish until
// ctx ends. Then it cancels the contexts of the jobs still running and hands
// each of them back for immediate redelivery as its handler returns (it is
// republished with its attempts so far and acked; a Nak only if that
// publish fails). Stop returns when
// no goroutine of the pool is left, after flushing acknowledgements: a
// handler that ignores its context delays it. It returns ctx's error if jobs
// had to be canceled, nil otherwise. Calling Stop again returns the first
// call's result once that call has finished.
func (p *Pool) Stop(ctx context.Context) error {
	p.mu.Lock()
	switch p.state {
	case stateNew:
		p.state = stateStopped
		p.status.Store(stateStopped)
		close(p.stopped)
		p.mu.Unlock()
		return nil
	case stateStopped:
		p.mu.Unlock()
		<-p.stopped
		return p.stopErr
	}
	p.state = stateStopped
	p.status.Store(stateStopped)
	p.mu.Unlock()

	p.stopping.Store(true)
	if p.seqWatch != nil {
		p.seqWatch.stop()
	}
	p.pulling.Load().stop()

	done := make(chan struct{})
	go func() { p.jobs.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		// A job about to start is handed back rather than run past the
		// deadline. When no handler was running, none had to be canceled:
		// what is left (acknowledgements awaiting confirmation, hand-backs)
		// settles within its own timeouts, and Stop reports no error.
		running := p.inflight.len()
		if running > 0 {
			err = ctx.Err()
			p.log.LogAttrs(context.Background(), slog.LevelWarn, "shutdown deadline reached; canceling running jobs for redelivery",
				slog.Int("running", running))
		}
		p.hardStop.Store(true)
		p.jobCancel()
		<-done
	}
	p.runners.stop()
	p.jobCancel()
	stopServices(p.services)
	if ferr := p.js.Conn().FlushTimeout(5 * time.Second); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "flushing acknowledgements at shutdown failed", slog.String("error", ferr.Error()))
	}
	p.stopErr = err
	close(p.stopped)
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "worker pool stopped")
	return err
}

// Run starts the pool, waits until ctx ends, then stops it with
// Config.ShutdownTimeout for running jobs to finish. It returns Start's
// error, or Stop's.
func (p *Pool) Run(ctx context.Context) error {
	if err := p.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), p.cfg.ShutdownTimeout)
	defer cancel()
	return p.Stop(sctx)
}

// pulling is the pool's pullers, one per queue, as a service: start
// subscribes for the jobs of every queue and starts the pull loops; stop
// ends them, handing back what arrives meanwhile.
type pulling struct {
	queues []*queue
	edges  func(q *queue) pullerEdges
	loops  loops

	mu      sync.Mutex
	pullers []*puller
	stopped bool
}

func (pg *pulling) start(context.Context) error { return pg.add(pg.queues) }

// add starts pulling queues as well, unless the pulling stopped.
func (pg *pulling) add(queues []*queue) error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.stopped {
		return errors.New("jetjobs: the pool is stopping")
	}
	var added []*puller
	for _, q := range queues {
		pl, err := newPuller(pg.edges(q), q)
		if err != nil {
			for _, pl := range added {
				_ = pl.sub.Unsubscribe()
			}
			return err
		}
		added = append(added, pl)
	}
	pg.pullers = append(pg.pullers, added...)
	for _, pl := range added {
		pg.loops.run(pl.loop)
	}
	return nil
}

func (pg *pulling) stop() {
	pg.mu.Lock()
	pg.stopped = true
	pg.mu.Unlock()
	pg.loops.stop()
}

// failing returns the failure of a queue that cannot pull, or nil.
func (pg *pulling) failing() error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	for _, pl := range pg.pullers {
		if err := pl.failing(); err != nil {
			return err
		}
	}
	return nil
}

// Running returns how many jobs the pool is running now.
func (p *Pool) Running() int { return p.inflight.len() }
