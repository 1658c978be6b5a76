package worker

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
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
	// The job stays on the heartbeat list until its outcome is settled: a
	// dead-letter publish that retries through a slow server must not let
	// AckWait run out.
	token := p.inflight.add(msg)
	if err == nil && job.InFlow(info) && p.flows.alreadySettled(info) {
		p.ackSettled(msg, info, token)
		return
	}
	entry := p.kinds[info.Kind] // read-only once started
	sw := p.stateWriter(msg, info, entry)
	v, elapsed := p.work(info, err, entry, sw)
	p.settle(msg, info, token, v, elapsed, sw)
}

// stateWriter returns the state writer of a job that keeps its result
// (job.KeepResult, or its kind's WithKeepResult), and nil, which does
// nothing, for the others.
func (p *Pool) stateWriter(msg jetstream.Msg, info *job.Info, entry *kindEntry) *stateWriter {
	keep := info.KeepResult
	if keep == 0 && entry != nil {
		keep = entry.keepResult
	}
	if keep <= 0 {
		return nil
	}
	return p.states.writer(msg, info, keep)
}

// work decides whether the job of info (read with decodeErr; entry is its
// kind's registration, nil for a kind the pool does not serve) may start,
// runs it if so (sw, if not nil, records its state, progress and result),
// and returns the verdict on the attempt and how long the handler ran. It
// does no I/O but the cancel check and the handler's own: what the verdict
// means for the message is settle's.
func (p *Pool) work(info *job.Info, decodeErr error, entry *kindEntry, sw *stateWriter) (verdict, time.Duration) {
	if entry != nil && entry.maxAttempts > 0 && info.Header.Get(job.HeaderMaxAttempts) == "" {
		info.MaxAttempts = entry.maxAttempts
	}
	info.MaxAttempts = min(info.MaxAttempts, p.cfg.MaxDeliver)

	a := attempt{info: info, now: time.Now(), decodeErr: decodeErr, served: entry != nil, policy: p.cfg.RetryPolicy}
	if entry != nil {
		a.policy = entry.policy
	} else {
		a.registered = p.kindNames
		a.unservedLimit = p.cfg.UnservedTimeout
		a.unservedSince, _ = time.Parse(time.RFC3339Nano, info.Header.Get(wire.UnservedSince))
	}
	a.canceled = decodeErr == nil && p.cancels.canceledBeforeStart(info)
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
		sw.running()
		a.err = p.run(entry, info, sw)
		elapsed = time.Since(a.now) // a.now: a moment before the handler started
		a.ran = true
		a.interrupted = a.err != nil && p.hardStop.Load()
		v = decide(a)
	}
	return v, elapsed
}

// run calls the kind's handler chain with the job's context: the pool's job
// context (canceled at the shutdown deadline), the job's Info, its timeout,
// and canceled if the job is canceled by ID; sw, if not nil, receives the
// attempt's progress and result (job.Progress, job.RecordResult). A panic becomes a
// *job.PanicError carrying its stack; this is the one place the pool
// recovers panics.
func (p *Pool) run(entry *kindEntry, info *job.Info, sw *stateWriter) (err error) {
	ctx := job.WithInfo(p.jobCtx, info)
	if sw != nil {
		ctx = job.WithRecorder(ctx, sw)
	}
	if info.Header[wire.Workflow] != nil {
		ctx = job.WithFlowClient(ctx, p.flows.client)
	}
	ctx, tracked := p.cancels.track(ctx, info)
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
