package worker

import (
	"context"
	"errors"
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

	mu      sync.Mutex
	queue   []ackRequest // gathered, not yet published
	spare   []ackRequest
	next    uint64
	waiting map[uint64]ackRequest // published, awaiting confirmation
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
	a := &acker{p: p, confirm: !p.cfg.AckAsync, wake: make(chan struct{}, 1), waiting: map[uint64]ackRequest{}}
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
	first := a.next + 1
	if a.confirm {
		now := time.Now()
		for i := range batch {
			batch[i].sent = now
			a.next++
			a.waiting[a.next] = batch[i]
		}
	}
	a.mu.Unlock()
	nc := a.p.js.Conn()
	reply := []byte(a.inbox + ".")
	for i := range batch {
		r := &batch[i]
		if !a.confirm {
			a.settled(r.ev, r.msg.Ack())
			continue
		}
		token := first + uint64(i)
		reply = strconv.AppendUint(reply[:len(a.inbox)+1], token, 10)
		if err := nc.PublishRequest(r.msg.Reply(), string(reply), ackAck); err != nil {
			a.mu.Lock()
			_, ok := a.waiting[token]
			delete(a.waiting, token)
			a.mu.Unlock()
			if ok {
				a.settled(r.ev, err)
			}
		}
	}
	clear(batch) // let the messages go
	a.mu.Lock()
	a.spare = batch
	a.mu.Unlock()
}

// confirmed receives the server's confirmation of an acknowledgement.
func (a *acker) confirmed(msg *nats.Msg) {
	token, err := strconv.ParseUint(msg.Subject[len(a.inbox)+1:], 10, 64)
	if err != nil {
		return
	}
	a.mu.Lock()
	r, ok := a.waiting[token]
	delete(a.waiting, token)
	a.mu.Unlock()
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
// never confirmed.
func (a *acker) expire(now time.Time) {
	cutoff := now.Add(-ackTimeout)
	var late []ackRequest
	a.mu.Lock()
	for token, r := range a.waiting {
		if r.sent.Before(cutoff) {
			late = append(late, r)
			delete(a.waiting, token)
		}
	}
	a.mu.Unlock()
	for _, r := range late {
		a.settled(r.ev, errAckTimeout)
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
	}
	a.p.cfg.Hooks.fire(ev)
	a.p.jobs.Done()
}
