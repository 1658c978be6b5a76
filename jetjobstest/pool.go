package jetjobstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/inline"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// Pool is a worker pool running on a test server that records how each
// delivery it settled ended, so a test of a whole flow can wait until the
// work is done and look at what happened. Create it with StartPool.
type Pool struct {
	*worker.Pool
	s      *Server
	topo   job.Topology // the pool's, with defaults
	queues []string

	mu       sync.Mutex
	events   []worker.Event          // since the last Drain
	retrying map[string]pendingRetry // by job ID: jobs whose last attempt was retried
	notify   chan struct{}
}

// pendingRetry is a retried job waiting for its next delivery.
type pendingRetry struct {
	queue string
	due   time.Time
}

// StartPool creates a pool on s with cfg, lets register add its kinds,
// starts it and stops it when the test ends. Unless cfg says otherwise the
// pool uses s's namespace and a logger that discards. cfg.Hooks are called
// as usual. The pool should be the only one serving its queues on s while
// the test calls Drain.
func StartPool(tb testing.TB, s *Server, cfg worker.Config, register func(p *worker.Pool) error) *Pool {
	tb.Helper()
	if cfg.Topology == (job.Topology{}) {
		cfg.Topology = s.asked
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	p := &Pool{s: s, topo: cfg.Topology.WithDefaults(), retrying: map[string]pendingRetry{}, notify: make(chan struct{}, 1)}
	user := cfg.Hooks.OnEvent
	cfg.Hooks.OnEvent = func(ev worker.Event) {
		p.record(ev)
		if user != nil {
			user(ev)
		}
	}
	p.queues = slices.Sorted(maps.Keys(cfg.Queues))
	if len(p.queues) == 0 {
		p.queues = []string{job.DefaultQueue}
	}
	pool, err := worker.New(s.js, cfg)
	if err != nil {
		tb.Fatalf("jetjobstest: StartPool: %v", err)
		return nil
	}
	p.Pool = pool
	if err := register(pool); err != nil {
		tb.Fatalf("jetjobstest: StartPool: register: %v", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(tb.Context(), readTimeout)
	defer cancel()
	if err := pool.Start(ctx); err != nil {
		tb.Fatalf("jetjobstest: StartPool: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		defer cancel()
		_ = pool.Stop(ctx)
	})
	return p
}

func (p *Pool) record(ev worker.Event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	if ev.Outcome == worker.OutcomeRetried {
		p.retrying[ev.Info.ID] = pendingRetry{queue: ev.Info.Queue, due: time.Now().Add(ev.Delay)}
	} else {
		delete(p.retrying, ev.Info.ID)
	}
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Drain waits up to within for the pool's queues to become idle and
// returns the events of the deliveries the pool settled since it started
// or since the last Drain, in the order they were settled (a success once
// the server confirmed its acknowledgement, so not always the order the
// jobs ran in). Idle means: no
// job is waiting in the queues or running, every delivery is settled, and
// no retry, snooze or scheduled job of the queues comes due before the
// wait ends; jobs due later are left waiting. If the queues are not idle
// in time Drain fails the test, saying what is still going on. A job that
// waits in its queue for a later time (snoozed with
// worker.Config.SnoozeInQueue, or of a kind the pool has no handler for)
// is due at that time.
func (p *Pool) Drain(tb testing.TB, within time.Duration) []worker.Event {
	tb.Helper()
	horizon := time.Now().Add(within)
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	// Acknowledgements and relays change the consumers without an event:
	// look again now and then as well as after each event.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		busy, err := p.busy(tb.Context(), horizon)
		if err != nil {
			tb.Fatalf("jetjobstest: Drain: %v", err)
			return nil
		}
		if busy == "" {
			p.mu.Lock()
			evs := p.events
			p.events = nil
			p.mu.Unlock()
			return evs
		}
		select {
		case <-p.notify:
		case <-tick.C:
		case <-timeout.C:
			tb.Fatalf("jetjobstest: Drain: the queues %v are not idle after %s: %s", p.queues, within, busy)
			return nil
		}
	}
}

// busy says what keeps the queues from being idle until horizon, or
// returns "". It looks where a job passes, in the order it passes there
// (schedule, fired, queue, running), so a job that moves on while busy
// looks is seen in the next place; the pool's count of unfinished jobs
// comes last, as a job leaves the stream (acknowledged) before its hooks
// are called.
func (p *Pool) busy(ctx context.Context, horizon time.Time) (string, error) {
	if n := inline.Unfinished(p.Pool); n > 0 {
		return fmt.Sprintf("%d %s running or being settled", n, plural(n, "job")), nil
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	topo := p.topo
	var due []string
	err := eachMsg(ctx, p.s.js, topo.ScheduleStream, topo.SchedulePrefix+"."+wire.ScheduleAtToken+".>", func(m *jetstream.RawStreamMsg) {
		f := readJob(topo, wire.FiredJobSubject(topo.Prefix, topo.SchedulePrefix, m.Header.Get(wire.ScheduleTarget)), m)
		f.runAt = scheduledAt(m)
		if slices.Contains(p.queues, f.queue) && !f.runAt.After(horizon) {
			due = append(due, fmt.Sprintf("job %s is scheduled at %s", f.id, f.runAt.Format(time.RFC3339)))
		}
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return "", err
	}
	if len(due) > 0 {
		return strings.Join(due, "; "), nil
	}
	for _, q := range p.queues {
		fire, err := p.consumerInfo(ctx, topo.ScheduleStream, wire.FireConsumer(q))
		if err != nil {
			return "", err
		}
		if fire != nil && fire.NumPending+uint64(fire.NumAckPending) > 0 {
			return fmt.Sprintf("queue %s has fired jobs not yet moved into it", q), nil
		}
		// Every job left in the queue must wait for a time after horizon:
		// a retry's (from its event) or its not-before time (a snooze or an
		// unserved job waiting in the queue).
		p.mu.Lock()
		retrying := maps.Clone(p.retrying)
		p.mu.Unlock()
		err = eachMsg(ctx, p.s.js, topo.Stream, wire.JobSubject(topo.Prefix, q, ">"), func(m *jetstream.RawStreamMsg) {
			f := readJob(topo, m.Subject, m)
			at := f.info.NotBefore
			if r, ok := retrying[f.id]; ok && r.due.After(at) {
				at = r.due
			}
			switch {
			case at.IsZero():
				due = append(due, fmt.Sprintf("job %s of queue %s is waiting or running", f.id, q))
			case !at.After(horizon):
				due = append(due, fmt.Sprintf("job %s of queue %s comes due at %s", f.id, q, at.Format(time.RFC3339Nano)))
			}
		})
		if err != nil {
			return "", err
		}
		if len(due) > 0 {
			return strings.Join(due, "; "), nil
		}
	}
	if n := inline.Unfinished(p.Pool); n > 0 {
		return fmt.Sprintf("%d %s running or being settled", n, plural(n, "job")), nil
	}
	return "", nil
}

// consumerInfo returns the info of consumer name of stream, nil if either
// does not exist.
func (p *Pool) consumerInfo(ctx context.Context, stream, name string) (*jetstream.ConsumerInfo, error) {
	c, err := p.s.js.Consumer(ctx, stream, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s of %s: %w", name, stream, err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer %s of %s: %w", name, stream, err)
	}
	return ci, nil
}
