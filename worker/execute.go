package worker

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// ackTimeout bounds each confirmed acknowledgement and dead-letter publish.
const ackTimeout = 5 * time.Second

// execute runs one delivered job: decide says whether it may start; if so
// its handler runs and decide says what becomes of the attempt; settle
// carries that out and finishes the job.
func (p *Pool) execute(msg jetstream.Msg) {
	info, err := job.ReadInfo(p.cfg.Topology.Prefix, msg, p.cfg.MaxAttempts)
	if info == nil {
		// Not a JetStream message at all; nothing sensible can be done but
		// to keep it from coming back.
		p.log.LogAttrs(context.Background(), slog.LevelError, "received a message without JetStream metadata; terminating it",
			slog.String("subject", msg.Subject()), slog.String("error", err.Error()))
		_ = msg.Term()
		p.jobs.Done()
		return
	}
	entry := p.kinds[info.Kind] // read-only once started
	if entry != nil && entry.maxAttempts > 0 && info.Header.Get(job.HeaderMaxAttempts) == "" {
		info.MaxAttempts = entry.maxAttempts
	}
	info.MaxAttempts = min(info.MaxAttempts, p.cfg.MaxDeliver)

	// The job stays on the heartbeat list until its outcome is settled: a
	// dead-letter publish that retries through a slow server must not let
	// AckWait run out.
	token := p.inflight.add(msg)
	a := attempt{info: info, now: time.Now(), decodeErr: err, served: entry != nil, policy: p.cfg.RetryPolicy}
	if entry != nil {
		a.policy = entry.policy
	} else {
		a.registered = p.kindNames
	}
	a.canceled = err == nil && p.cancels.canceledBeforeStart(info)
	v := decide(a)
	var elapsed time.Duration
	if v.action == actRun {
		if info.Timeout == 0 {
			info.Timeout = entry.timeout
		}
		if info.Timeout == 0 {
			info.Timeout = p.cfg.Timeout
		}
		if p.cfg.MaxTimeout > 0 && (info.Timeout == 0 || info.Timeout > p.cfg.MaxTimeout) {
			info.Timeout = p.cfg.MaxTimeout
		}
		start := time.Now()
		a.err = p.run(entry, info)
		elapsed = time.Since(start)
		a.ran = true
		a.interrupted = a.err != nil && p.hardStop.Load()
		v = decide(a)
	}
	p.settle(msg, info, token, v, elapsed)
}

// run calls the kind's handler chain with the job's context: the pool's job
// context (canceled at the shutdown deadline), the job's Info, its timeout,
// and canceled if the job is canceled by ID. A panic becomes a
// *job.PanicError carrying its stack; this is the one place the pool
// recovers panics.
func (p *Pool) run(entry *kindEntry, info *job.Info) (err error) {
	ctx, tracked := p.cancels.track(job.WithInfo(p.jobCtx, info), info)
	defer func(ctx context.Context) { err = p.cancels.untrack(ctx, tracked, err) }(ctx) // after recover: a canceled job's panic is a cancel too
	if info.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, info.Timeout)
		defer cancel()
	}
	defer func() {
		if v := recover(); v != nil {
			err = &job.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return entry.chain.Handle(ctx, info)
}
