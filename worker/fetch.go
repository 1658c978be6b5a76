package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fetchLoop pulls jobs of q for as long as ctx lives. Before each pull it
// reserves concurrency slots and asks for exactly that many jobs, so the
// pool never holds a job it has no free slot to run: jobs it cannot run now
// stay on the server for other workers. While the queue is idle (the last
// pull came back empty) it asks for one job at a time, so an idle queue does
// not hold slots that queues sharing them by priority could use.
func (p *Pool) fetchLoop(ctx context.Context, q *queue) {
	defer p.loops.Done()
	delay := time.Duration(0)
	idle, brief := true, false
	for {
		if !q.slots.acquire(ctx) {
			return
		}
		n := 1
		for !idle && n < p.cfg.FetchBatch && q.slots.tryAcquire() {
			n++
		}
		got, err := p.fetch(ctx, q, n, brief)
		idle = got == 0
		brief = q.slots.pulled(got)
		for range n - got {
			q.slots.release()
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			delay = 0
			continue
		}
		// The server is away, restarting, or the consumer is gone: back off
		// and try again; the connection reconnects on its own.
		delay = min(max(2*delay, 100*time.Millisecond), 5*time.Second)
		level := slog.LevelWarn
		if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, context.DeadlineExceeded) {
			level = slog.LevelDebug
		}
		p.log.LogAttrs(ctx, level, "pulling jobs failed; retrying",
			slog.String("queue", q.name), slog.String("error", err.Error()), slog.Duration("retry_in", delay))
		if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
			p.recreateConsumer(ctx, q)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// fetch asks for n jobs, waits up to FetchWait (briefFetchWait if brief)
// for them, and starts each one as it arrives. It returns how many arrived;
// each took one reserved slot.
func (p *Pool) fetch(ctx context.Context, q *queue, n int, brief bool) (int, error) {
	wait := p.cfg.FetchWait
	if brief {
		wait = briefFetchWait
	}
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	opts := []jetstream.FetchOpt{jetstream.FetchContext(fctx)}
	if !brief {
		opts = append(opts, jetstream.FetchHeartbeat(p.cfg.FetchWait/5))
	}
	batch, err := q.consumer().Fetch(n, opts...)
	if err != nil {
		return 0, err
	}
	got := 0
	for msg := range batch.Messages() {
		got++
		p.dispatch(q, msg)
	}
	err = batch.Error()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = nil // the pull expired without filling the batch
	}
	return got, err
}

// dispatch runs msg in its own goroutine, which releases msg's slot when
// the job is settled. A job that arrives after Stop began never starts: it
// is Nak'd for immediate redelivery.
func (p *Pool) dispatch(q *queue, msg jetstream.Msg) {
	if p.stopping.Load() {
		_ = msg.Nak()
		q.slots.release()
		return
	}
	p.jobs.Add(1)
	go func() {
		defer p.jobs.Done()
		defer q.slots.release()
		p.execute(msg)
	}()
}

func (p *Pool) recreateConsumer(ctx context.Context, q *queue) {
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return
	}
	cons, err := p.ensureConsumer(ctx, stream, q.name, p.cfg.Queues[q.name])
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "recreating queue consumer failed", slog.String("queue", q.name), slog.String("error", err.Error()))
		return
	}
	q.setConsumer(cons)
}
