package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// acker acknowledges the jobs that succeeded, in batches: a finished job
// hands its acknowledgement over and its runner moves on, and after
// ackDelay one goroutine publishes every acknowledgement gathered. The
// batch goes out in one write instead of one write per job, which on a
// busy pool halves what an acknowledgement costs the worker and the
// server alike; a job's acknowledgement waits at most ackDelay longer.
//
// A confirmed acknowledgement (the default) is published as a request
// whose reply comes to the acker's inbox, so no goroutine waits for it:
// the job's hooks fire and the job counts as finished (for Stop) when the
// server confirmed it, or after ackTimeout with a warning that the job may
// run again. With Config.AckAsync they fire when it is published.
type acker struct {
	nc      *nats.Conn
	confirm bool
	log     *slog.Logger
	finish  func(Event) // ends a job once its acknowledgement is settled
	inbox   string      // confirmations arrive on inbox.<token>
	sub     *nats.Subscription
	wake    chan struct{}
	loops   loops

	mu    sync.Mutex
	queue []ackRequest // gathered, not yet published
	spare []ackRequest
	// Acknowledgements published and awaiting confirmation, by token. A
	// token is reused once its confirmation came, so the reply subjects
	// stay few: the server's subject cache then knows them, and their
	// strings are made once.
	waiting []ackRequest // msg nil: the token is free
	replies []string     // reply subject of each token
	free    []uint64     // free tokens, the most recently freed last
	tokens  []uint64     // the tokens of the batch being published
}

// ackRequest is the acknowledgement of one job and the event its hooks get.
type ackRequest struct {
	msg  jetstream.Msg
	ev   Event
	sent time.Time
}

// ackDelay is how long the acker gathers acknowledgements before it
// publishes them.
const ackDelay = 200 * time.Microsecond

// newAcker returns an acker that acknowledges on nc, confirmed unless
// !confirm, and hands each job's event to finish once its acknowledgement
// is settled.
func newAcker(nc *nats.Conn, confirm bool, log *slog.Logger, finish func(Event)) *acker {
	return &acker{nc: nc, confirm: confirm, log: log, finish: finish, wake: make(chan struct{}, 1)}
}

// start subscribes for confirmations and starts the loop. Stop it once the
// last job finished: it publishes nothing after that.
func (a *acker) start(context.Context) error {
	if a.confirm {
		a.inbox = a.nc.NewInbox()
		sub, err := a.nc.Subscribe(a.inbox+".*", a.confirmed)
		if err != nil {
			return fmt.Errorf("jetjobs: subscribe for acknowledgement confirmations: %w", err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			_ = sub.Unsubscribe()
			return err
		}
		a.sub = sub
	}
	a.loops.run(a.loop)
	return nil
}

// stop publishes what was gathered, settles what awaits confirmation, and
// ends the loop.
func (a *acker) stop() { a.loops.stop() }

// ack hands over the acknowledgement of a job that succeeded; ev goes to
// finish once it is settled.
func (a *acker) ack(msg jetstream.Msg, ev Event) {
	a.mu.Lock()
	a.queue = append(a.queue, ackRequest{msg: msg, ev: ev})
	first := len(a.queue) == 1
	a.mu.Unlock()
	if first {
		signal(a.wake)
	}
}

// loop publishes what was gathered, ackDelay after the first of a batch
// arrived, and expires confirmations that did not come, until ctx ends.
func (a *acker) loop(ctx context.Context) {
	delay := time.NewTimer(ackDelay)
	delay.Stop()
	expiry := time.NewTicker(time.Second)
	defer expiry.Stop()
	for {
		select {
		case <-a.wake:
			delay.Reset(ackDelay)
			select {
			case <-delay.C:
			case <-ctx.Done():
				delay.Stop()
			}
			a.publish()
		case now := <-expiry.C:
			a.expire(now)
		case <-ctx.Done():
			a.publish()
			a.expire(time.Now().Add(time.Hour))
			if a.sub != nil {
				_ = a.sub.Unsubscribe()
			}
			return
		}
	}
}

// publish sends every acknowledgement gathered.
func (a *acker) publish() {
	a.mu.Lock()
	batch := a.queue
	a.queue = a.spare[:0]
	tokens := a.tokens[:0]
	if a.confirm {
		now := time.Now()
		for i := range batch {
			batch[i].sent = now
			token := a.take()
			a.waiting[token] = batch[i]
			tokens = append(tokens, token)
		}
	}
	a.mu.Unlock()
	nc := a.nc
	for i := range batch {
		r := &batch[i]
		if !a.confirm {
			a.settled(r.ev, r.msg.Ack())
			continue
		}
		if err := nc.PublishRequest(r.msg.Reply(), a.replies[tokens[i]], wire.AckAck); err != nil {
			if r, ok := a.done(tokens[i], true); ok {
				a.settled(r.ev, err)
			}
		}
	}
	clear(batch) // let the messages go
	a.mu.Lock()
	a.spare, a.tokens = batch, tokens
	a.mu.Unlock()
}

// take returns a free token, making one if none is free. Called with mu
// held.
func (a *acker) take() uint64 {
	if k := len(a.free); k > 0 {
		token := a.free[k-1]
		a.free = a.free[:k-1]
		return token
	}
	token := uint64(len(a.waiting))
	a.waiting = append(a.waiting, ackRequest{})
	a.replies = append(a.replies, a.inbox+"."+strconv.FormatUint(token, 10))
	return token
}

// done takes the acknowledgement waiting on token, if any, and frees the
// token if reuse (a late confirmation of an expired one could otherwise
// be taken for that of the token's next acknowledgement).
func (a *acker) done(token uint64, reuse bool) (ackRequest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if token >= uint64(len(a.waiting)) || a.waiting[token].msg == nil {
		return ackRequest{}, false
	}
	r := a.waiting[token]
	a.waiting[token] = ackRequest{}
	if reuse {
		a.free = append(a.free, token)
	}
	return r, true
}

// confirmed receives the server's confirmation of an acknowledgement.
func (a *acker) confirmed(msg *nats.Msg) {
	token, err := strconv.ParseUint(msg.Subject[len(a.inbox)+1:], 10, 64)
	if err != nil {
		return
	}
	r, ok := a.done(token, true)
	if !ok {
		return // expired already
	}
	if len(msg.Data) == 0 && msg.Header.Get(wire.Status) == wire.StatusNoResponders {
		a.settled(r.ev, nats.ErrNoResponders)
		return
	}
	a.settled(r.ev, nil)
}

// expire settles the acknowledgements sent before now-ackTimeout that were
// never confirmed. Their tokens are not reused.
func (a *acker) expire(now time.Time) {
	cutoff := now.Add(-ackTimeout)
	var late []uint64
	a.mu.Lock()
	for token, r := range a.waiting {
		if r.msg != nil && r.sent.Before(cutoff) {
			late = append(late, uint64(token))
		}
	}
	a.mu.Unlock()
	for _, token := range late {
		if r, ok := a.done(token, false); ok {
			a.settled(r.ev, errAckTimeout)
		}
	}
}

var errAckTimeout = errors.New("jetjobs: no confirmation of the acknowledgement from the server")

// settled ends a job whose acknowledgement went out (err nil) or failed.
func (a *acker) settled(ev Event, err error) {
	if err != nil {
		// The job succeeded but the server may not know: it will be
		// redelivered after AckWait and run again (docs/semantics.md).
		info := ev.Info
		a.log.LogAttrs(context.Background(), slog.LevelWarn, "acknowledging a finished job failed; it may run again",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.String("error", err.Error()))
		ev.Err = fmt.Errorf("the job succeeded, but its acknowledgement was not confirmed and it may run again: %w", err)
	}
	a.finish(ev)
}
