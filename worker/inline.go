package worker

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/inline"
	"github.com/jetjobs/jetjobs/job"
)

// The inline hooks let package jetjobstest run one delivery through the
// pool's own path (work: decide, run, decide) without a server, so a test
// of a handler sees the verdict a pool would reach.
func init() {
	inline.NewPool = func(cfg any) (any, error) { return newInlinePool(cfg.(Config)) }
	inline.Work = func(ctx context.Context, pool any, msg jetstream.Msg) inline.Outcome {
		return pool.(*Pool).workInline(ctx, msg)
	}
	inline.Unfinished = func(pool any) int { return pool.(*Pool).jobs.len() }
}

// jobCount is a WaitGroup of the pool's dispatched jobs that also says how
// many there are, so a test can tell when every delivery has been settled
// and its hooks called (jetjobstest's Pool.Drain).
type jobCount struct {
	wg sync.WaitGroup
	n  atomic.Int64
}

func (c *jobCount) Add(delta int) { c.n.Add(int64(delta)); c.wg.Add(delta) }
func (c *jobCount) Done()         { c.n.Add(-1); c.wg.Done() }
func (c *jobCount) Wait()         { c.wg.Wait() }
func (c *jobCount) len() int      { return int(c.n.Load()) }

// newInlinePool returns a pool with cfg that has no server: kinds can be
// registered on it and workInline runs deliveries on it. It must never be
// started (it has no connection); jetjobstest keeps it to itself.
func newInlinePool(cfg Config) (*Pool, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Pool{cfg: cfg, log: cfg.Logger, kinds: map[string]*kindEntry{}, stopped: make(chan struct{})}, nil
}

// workInline reads msg as execute does and works it, with ctx as the
// parent of the job's context, and reports what settle would do with the
// verdict. The first call closes registration, as Start does.
func (p *Pool) workInline(ctx context.Context, msg jetstream.Msg) inline.Outcome {
	p.mu.Lock()
	if p.state == stateNew {
		p.prepareKinds()
		p.state = stateStarted
	}
	p.jobCtx = ctx
	p.mu.Unlock()
	info, err := job.ReadInfo(p.cfg.Topology.Prefix, msg, p.cfg.MaxAttempts)
	if info == nil {
		return inline.Outcome{Err: err}
	}
	v, elapsed := p.work(info, err, p.kinds[info.Kind], nil)
	return inline.Outcome{Outcome: inlineOutcome(v.action), Reason: v.reason, Delay: v.delay, Err: v.err, Duration: elapsed, Info: info}
}

// inlineOutcome is the Outcome settle reports for a verdict's action, and
// "waiting" for a job that is not due yet and "unserved" for one of a kind
// the pool has no handler for (no attempt, no event).
func inlineOutcome(a action) string {
	switch a {
	case actAck:
		return string(OutcomeSucceeded)
	case actRetry:
		return string(OutcomeRetried)
	case actSnooze:
		return string(OutcomeSnoozed)
	case actHandBack:
		return string(OutcomeInterrupted)
	case actDeadLetter:
		return string(OutcomeDeadLettered)
	case actWait:
		return "waiting"
	case actPass:
		return "unserved"
	}
	return ""
}
