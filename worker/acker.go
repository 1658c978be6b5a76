package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/replies"
	"github.com/jetjobs/jetjobs/internal/wire"
)

// acker acknowledges the jobs that succeeded, in batches: a finished job
// hands its acknowledgement over and its runner moves on, and after
// ackDelay one goroutine publishes every acknowledgement gathered. The
// batch goes out in one write instead of one write per job, which on a
// busy pool halves what an acknowledgement costs the worker and the
// server alike; a job's acknowledgement waits at most ackDelay longer.
//
// A confirmed acknowledgement (the default) is confirmed by the server
// per consumer and batch: of a batch's acknowledgements to one consumer,
// the last is published as a request whose reply comes to the acker's
// inbox (so no goroutine waits for it), the others as plain Acks before
// it. The server processes the acknowledgements of a consumer in the
// order they arrive on a connection (one queue per consumer, and on a
// cluster one replicated log), and answers a request after it has
// processed it, so its answer to the last confirms every one before it;
// an answer that does not come (a lost connection, a deleted consumer)
// leaves all of them unconfirmed, as one request each would. This saves
// the server a reply and the worker a received message per job. The jobs'
// hooks fire and the jobs count as finished (for Stop) when the server
// confirmed them, or after ackTimeout with a warning that a job may run
// again. With Config.AckAsync they fire when the Acks are published.
type acker struct {
	nc      *nats.Conn
	confirm bool
	log     *slog.Logger
	finish  func(Event) // ends a job once its acknowledgement is settled
	sub     *nats.Subscription
	wake    chan struct{}
	loops   loops

	// The loop's own scratch for grouping a batch by consumer.
	groups []ackBatchGroup
	group  []int // group index of each request of the batch

	mu    sync.Mutex
	queue []ackRequest // gathered, not yet published
	spare []ackRequest
	// Groups of acknowledgements published and awaiting confirmation.
	waiting *replies.Tokens[ackWait]
	// Slices of confirmed groups, empty, for the next batches' groups:
	// gathering each group in a new slice cost a fifth of the bytes the
	// pool allocated per job.
	recycled [][]ackRequest
}

// maxRecycled bounds the slices the acker keeps for reuse.
const maxRecycled = 8

// ackRequest is the acknowledgement of one job and the event its hooks get.
type ackRequest struct {
	msg jetstream.Msg
	ev  Event
}

// ackWait is the acknowledgements one confirmation settles.
type ackWait struct {
	reqs []ackRequest
	sent time.Time
}

// ackBatchGroup is the acknowledgements of a batch to one consumer.
type ackBatchGroup struct {
	consumer string       // the ack subject's prefix naming the consumer
	last     int          // index in the batch of the one confirmed
	reqs     []ackRequest // published so far, the confirmed one last
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
		a.waiting = replies.New[ackWait](a.nc.NewInbox())
		sub, err := a.nc.Subscribe(a.waiting.Inbox()+".*", a.confirmed)
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
	a.mu.Unlock()
	if a.confirm {
		a.publishConfirmed(batch)
	} else {
		for i := range batch {
			r := &batch[i]
			a.settled(r.ev, a.nc.Publish(r.msg.Reply(), wire.AckAck))
		}
	}
	clear(batch) // let the messages go
	a.mu.Lock()
	a.spare = batch
	a.mu.Unlock()
}

// publishConfirmed publishes batch in order, each consumer's last
// acknowledgement as a request that confirms the consumer's others. Each
// consumer's group is gathered in a slice of an earlier, confirmed group.
func (a *acker) publishConfirmed(batch []ackRequest) {
	groups, group := a.groups[:0], a.group[:0]
	for i := range batch {
		consumer := ackConsumer(batch[i].msg.Reply())
		g := 0
		for g < len(groups) && groups[g].consumer != consumer {
			g++
		}
		if g == len(groups) {
			a.mu.Lock()
			reqs := a.reuse()
			a.mu.Unlock()
			groups = append(groups, ackBatchGroup{consumer: consumer, reqs: reqs})
		}
		groups[g].last = i
		group = append(group, g)
	}
	nc := a.nc
	for i := range batch {
		r := &batch[i]
		g := &groups[group[i]]
		if i != g.last {
			if err := nc.Publish(r.msg.Reply(), wire.AckAck); err != nil {
				a.settled(r.ev, err)
				continue
			}
			g.reqs = append(g.reqs, *r)
			continue
		}
		g.reqs = append(g.reqs, *r)
		a.mu.Lock()
		token, reply := a.waiting.Take(ackWait{reqs: g.reqs, sent: time.Now()})
		a.mu.Unlock()
		g.reqs = nil // the confirmation owns them now
		if err := nc.PublishRequest(r.msg.Reply(), reply, wire.AckAck); err != nil {
			if reqs, ok := a.done(token); ok {
				for _, r := range reqs {
					a.settled(r.ev, err)
				}
			}
		}
	}
	clear(groups)
	a.groups, a.group = groups[:0], group[:0]
}

// reuse returns a recycled slice, or nil. Called with mu held.
func (a *acker) reuse() []ackRequest {
	k := len(a.recycled)
	if k == 0 {
		return nil
	}
	reqs := a.recycled[k-1]
	a.recycled[k-1] = nil
	a.recycled = a.recycled[:k-1]
	return reqs
}

// recycle keeps reqs, a group whose acknowledgements are all settled, for
// reuse.
func (a *acker) recycle(reqs []ackRequest) {
	clear(reqs)
	a.mu.Lock()
	if len(a.recycled) < maxRecycled {
		a.recycled = append(a.recycled, reqs[:0])
	}
	a.mu.Unlock()
}

// ackConsumer returns the part of an acknowledgement subject that names
// the consumer: "$JS.ACK.<stream>.<consumer>" of
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>,
// and "$JS.ACK.<domain>.<account>.<stream>.<consumer>" of the longer form
// with a domain and account. Anything else is its own consumer.
func ackConsumer(reply string) string {
	dots := strings.Count(reply, ".")
	keep := 4 // tokens
	switch {
	case dots == 8:
	case dots >= 10:
		keep = 6
	default:
		return reply
	}
	n := 0
	for i := 0; i < len(reply); i++ {
		if reply[i] == '.' {
			n++
			if n == keep {
				return reply[:i]
			}
		}
	}
	return reply
}

// done takes the acknowledgements waiting on token, if any.
func (a *acker) done(token int) ([]ackRequest, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.waiting.Done(token)
	return w.reqs, ok
}

// confirmed receives the server's confirmation of a group of
// acknowledgements.
func (a *acker) confirmed(msg *nats.Msg) {
	a.mu.Lock()
	w, ok := a.waiting.Answer(msg.Subject)
	a.mu.Unlock()
	if !ok {
		return // not ours, or expired already
	}
	reqs := w.reqs
	var err error
	if wire.NoResponders(msg) {
		err = nats.ErrNoResponders
	}
	for _, r := range reqs {
		a.settled(r.ev, err)
	}
	a.recycle(reqs)
}

// expire settles the acknowledgements sent before now-ackTimeout that were
// never confirmed. Their tokens are reused only once a late confirmation
// comes.
func (a *acker) expire(now time.Time) {
	if a.waiting == nil {
		return
	}
	cutoff := now.Add(-ackTimeout)
	var late [][]ackRequest
	a.mu.Lock()
	a.waiting.Waiting(func(token int, w ackWait) bool {
		if w.sent.Before(cutoff) {
			late = append(late, w.reqs)
			a.waiting.Forget(token)
		}
		return true
	})
	a.mu.Unlock()
	for _, reqs := range late {
		for _, r := range reqs {
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
