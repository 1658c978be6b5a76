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

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

// Pool runs the jobs of one or more queues. Create it with New, register
// handlers with Handle or Register, then Start it (or Run it). A Pool is
// started once; after Stop, create a new one.
type Pool struct {
	js  jetstream.JetStream
	cfg Config
	// askedTopology is Config.Topology as given, before defaults: Start
	// applies only its explicit settings to existing streams.
	askedTopology job.Topology
	log           *slog.Logger

	mu      sync.Mutex
	kinds   map[string]*kindEntry
	state   int
	stopErr error

	queues    []*queue
	schedules bool // the schedule stream exists (for snooze)
	relays    []jetstream.ConsumeContext
	stopping  atomic.Bool
	hardStop  atomic.Bool
	// status mirrors state, and pullers are the started pool's, for Ready,
	// which must not wait for a Start in progress.
	status  atomic.Int32
	pullers atomic.Pointer[[]*puller]

	fetchCancel context.CancelFunc // stops pulling
	jobCtx      context.Context    // parent of every job's context
	jobCancel   context.CancelFunc // cancels running jobs at the shutdown deadline
	bgCancel    context.CancelFunc // stops heartbeats and the advisory listener
	loops       sync.WaitGroup     // fetch loops
	jobs        sync.WaitGroup     // running and settling jobs
	background  sync.WaitGroup     // heartbeat loop
	inflight    inflight
	runners     runners  // goroutines that run jobs
	acker       *acker   // acknowledges jobs that succeeded
	cancels     *cancels // nil without a cancel bucket
	presence    *presence
	stopped     chan struct{}
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
	p.runners.p = p
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
			p.queues = nil // a failed Start leaves the pool as New had it, to try again
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
	var pre []job.Middleware
	if !p.cfg.NoDefaultMiddleware {
		pre = append(pre, middleware.Logging(p.log))
	}
	for _, e := range p.kinds {
		e.chain = job.Chain(job.Chain(e.handler, e.middleware...), append(slices.Clone(pre), p.cfg.Middleware...)...)
		if e.policy == nil {
			e.policy = p.cfg.RetryPolicy
		}
	}
	if err := p.startRelays(ctx); err != nil {
		p.stopRelays()
		return err
	}
	p.jobCtx, p.jobCancel = context.WithCancel(context.Background())
	var fetchCtx, bgCtx context.Context
	fetchCtx, p.fetchCancel = context.WithCancel(context.Background())
	bgCtx, p.bgCancel = context.WithCancel(context.Background())
	err = p.listenMaxDeliveries(bgCtx)
	if err == nil {
		err = p.watchCancels(ctx, bgCtx)
	}
	if err != nil {
		p.jobCancel()
		p.fetchCancel()
		p.bgCancel()
		p.background.Wait()
		p.stopRelays()
		return err
	}
	pullers, err := p.startPulling()
	if err != nil {
		p.jobCancel()
		p.fetchCancel()
		p.bgCancel()
		p.background.Wait()
		p.stopRelays()
		return err
	}
	p.background.Add(2)
	go p.heartbeats(bgCtx)
	go p.acker.loop(bgCtx)
	for _, pl := range pullers {
		p.loops.Add(1)
		go pl.loop(fetchCtx)
	}
	p.pullers.Store(&pullers)
	p.presence = p.startPresence(context.Background())
	p.state = stateStarted
	p.status.Store(stateStarted)
	p.log.LogAttrs(ctx, slog.LevelInfo, "worker pool started",
		slog.Any("queues", slices.Sorted(maps.Keys(p.cfg.Queues))), slog.Int("kinds", len(p.kinds)),
		slog.String("stream", p.cfg.Topology.Stream))
	return nil
}

// Stop shuts the pool down gracefully: it stops pulling jobs, Naks jobs
// that arrived but never started, and lets running jobs finish until ctx
// ends. Then it cancels the contexts of the jobs still running and Naks each
// of them for immediate redelivery as its handler returns. Stop returns when
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
	p.fetchCancel()
	p.stopRelays()
	p.loops.Wait()

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
	p.presence.Stop()
	p.jobCancel()
	p.bgCancel()
	p.background.Wait()
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

// startPulling subscribes for the jobs of every queue and for the
// confirmations of acknowledgements; the pullers still have to be started.
func (p *Pool) startPulling() ([]*puller, error) {
	var pullers []*puller
	undo := func() {
		for _, pl := range pullers {
			_ = pl.sub.Unsubscribe()
		}
	}
	for _, q := range p.queues {
		pl, err := newPuller(p, q)
		if err != nil {
			undo()
			return nil, err
		}
		pullers = append(pullers, pl)
	}
	a, err := newAcker(p)
	if err != nil {
		undo()
		return nil, err
	}
	p.acker = a
	return pullers, nil
}

// Running returns how many jobs the pool is running now.
func (p *Pool) Running() int { return p.inflight.len() }
