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
	p       *Pool
	confirm bool
	inbox   string // confirmations arrive on inbox.<token>
	sub     *nats.Subscription
	wake    chan struct{}

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

func newAcker(p *Pool) (*acker, error) {
	a := &acker{p: p, confirm: !p.cfg.AckAsync, wake: make(chan struct{}, 1)}
	if a.confirm {
		nc := p.js.Conn()
		a.inbox = nc.NewInbox()
		sub, err := nc.Subscribe(a.inbox+".*", a.confirmed)
		if err != nil {
			return nil, err
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			_ = sub.Unsubscribe()
			return nil, err
		}
		a.sub = sub
	}
	return a, nil
}

// ack hands over the acknowledgement of a job that succeeded; ev is fired
// to the hooks once it is settled, and then the job counts as finished.
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
// Call it after the last job finished: it publishes nothing after ctx ends.
func (a *acker) loop(ctx context.Context) {
	defer a.p.background.Done()
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
	nc := a.p.js.Conn()
	for i := range batch {
		r := &batch[i]
		if !a.confirm {
			a.settled(r.ev, r.msg.Ack())
			continue
		}
		if err := nc.PublishRequest(r.msg.Reply(), a.replies[tokens[i]], ackAck); err != nil {
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
	if len(msg.Data) == 0 && msg.Header.Get("Status") == "503" {
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
		a.p.log.LogAttrs(context.Background(), slog.LevelWarn, "acknowledging a finished job failed; it may run again",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.String("error", err.Error()))
		ev.Err = fmt.Errorf("the job succeeded, but its acknowledgement was not confirmed and it may run again: %w", err)
	}
	a.p.cfg.Hooks.fire(ev, a.p.log)
	a.p.jobs.Done()
}
