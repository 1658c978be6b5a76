package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/retry"
)

// puller pulls the jobs of one queue into free slots. It holds one
// subscription to an inbox for the pool's life and sends the queue's
// consumer a pull request whenever slots are free: each request asks for
// exactly the slots reserved for it, so the pool never holds a job it has
// no slot to run, and several requests may wait on the server at once, so
// jobs keep arriving while others run. (One request at a time leaves the
// slots of a busy queue empty for a round trip after every batch.)
//
// The server answers a request with up to its batch of jobs and, if the
// request expires first, a 408 status saying how many it did not deliver;
// while a request waits, the server sends idle heartbeats. The puller frees
// the slots of jobs that will not come. A request lost on the way (a
// disconnect, a server restart) is noticed by a reconnect, by missing
// heartbeats or by its expiry passing unanswered, and its slots are freed
// too; a job that still arrives for it runs if a slot is free and is handed
// back for immediate redelivery otherwise.
//
// An idle queue (its last request expired without a job) asks for one job
// at a time, so that it does not hold slots that queues sharing them could
// use; its first job makes it busy. When slots are shared, a busy queue's
// requests expire after briefFetchWait (see slots.pulled).
type puller struct {
	pullerEdges
	q      *queue
	sub    *nats.Subscription
	refill int // with requests waiting, free slots gathered before asking again

	mu        sync.Mutex
	pending   int       // slots reserved by requests not yet filled or expired
	sent      []sentReq // requests that may still deliver, oldest first
	idle      bool      // no job since the last request expired: ask for one at a time
	brief     bool      // requests expire after briefFetchWait
	arrived   bool      // a job arrived since the last expiry
	lastHeard time.Time // last job or status received, as watch saw it
	heard     uint64    // jobs received (receive counts, watch dates)
	heardSeen uint64    // heard when watch last looked
	// failedSince is when pulling first failed since the server was last
	// heard from (zero: not failing), and failedWith the last failure: Ready
	// reports a queue that cannot pull.
	failedSince time.Time
	failedWith  error
	failure     error // what the loop must hear of: consumer gone, requests lost

	starved chan struct{} // pending fell to zero
	freed   chan struct{} // a job of the queue gave its slot back
	closed  chan struct{} // the subscription ended
}

// pullerEdges is all a puller knows of the rest of the pool.
type pullerEdges struct {
	nc        *nats.Conn
	next      string // the consumer's next-message API subject
	fetchWait time.Duration
	batch     int // most jobs one request asks for
	log       *slog.Logger
	// deliver runs a job that arrived for a reserved slot, which goes with
	// it.
	deliver func(pl *puller, msg jetstream.Msg)
	// refuse hands back a job that arrived with no slot for it.
	refuse func(msg jetstream.Msg)
	// recreate creates the queue's consumer again (it was deleted).
	recreate func(ctx context.Context, q *queue)
}

// pullBackoff spaces the tries of a puller whose requests fail.
var pullBackoff = retry.Exponential{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: retry.NoJitter}

// sentReq is a request sent at a time; watch uses it to find lost ones.
type sentReq struct {
	at time.Time
	n  int
}

func newPuller(e pullerEdges, q *queue) (*puller, error) {
	pl := &puller{
		pullerEdges: e,
		q:           q,
		refill:      max(1, min(q.concurrency, e.batch)/2),
		idle:        true,
		starved:     make(chan struct{}, 1),
		freed:       make(chan struct{}, 1),
		closed:      make(chan struct{}),
	}
	sub, err := e.nc.Subscribe(e.nc.NewInbox(), pl.receive)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: subscribe for the jobs of queue %s: %w", q.name, err)
	}
	var once sync.Once
	sub.SetClosedHandler(func(string) { once.Do(func() { close(pl.closed) }) })
	// Every job that arrives was asked for; the default pending limits
	// would drop jobs of a large queue silently.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	pl.sub = sub
	return pl, nil
}

// loop sends pull requests until ctx ends, then drains the subscription.
func (pl *puller) loop(ctx context.Context) {
	defer pl.drain()
	reconnected := pl.nc.StatusChanged(nats.CONNECTED)
	defer pl.nc.RemoveStatusListener(reconnected)
	watch := time.NewTicker(pl.fetchWait / 5)
	defer watch.Stop()
	failures := 0
	for {
		n, ok := pl.reserve(ctx, reconnected, watch.C)
		if !ok {
			return
		}
		err := pl.request(n)
		if err == nil {
			err = pl.takeFailure()
		}
		if err == nil {
			failures = 0
			continue
		}
		// The server is away, restarting, or the consumer is gone: back off
		// and try again; the connection reconnects on its own.
		failures++
		delay := pullBackoff.Delay(failures)
		level := slog.LevelWarn
		if errors.Is(err, errLostRequests) {
			level = slog.LevelDebug // after a reconnect, as expected
		} else {
			pl.mu.Lock()
			if pl.failedSince.IsZero() {
				pl.failedSince = time.Now()
			}
			pl.failedWith = err
			pl.mu.Unlock()
		}
		pl.log.LogAttrs(ctx, level, "pulling jobs failed; retrying",
			slog.String("queue", pl.q.name), slog.String("error", err.Error()), slog.Duration("retry_in", delay))
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, errLostRequests) {
			// Requests to a consumer that is gone vanish unanswered.
			pl.recreate(ctx, pl.q)
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

// reserve waits until a request is due and reserves its slots. A request
// is due when none waits and a slot is free, or when refill slots are free:
// a busy queue asks in batches while its earlier requests still deliver.
// While it waits, reserve watches the requests waiting (see watch).
func (pl *puller) reserve(ctx context.Context, reconnected <-chan nats.Status, watch <-chan time.Time) (int, bool) {
	n := 0
	for {
		pl.mu.Lock()
		pending, idle := pl.pending, pl.idle
		pl.mu.Unlock()
		limit := pl.batch
		if idle {
			limit = 1
		}
		for n < limit && (!idle || pending == 0) && pl.q.slots.tryAcquire() {
			n++
		}
		switch {
		case n > 0 && (pending == 0 || !idle && n >= pl.refill):
			return n, true
		case n == 0 && pending == 0:
			if !pl.q.slots.acquire(ctx) {
				return 0, false
			}
			n = 1
			continue
		}
		select {
		case <-pl.starved:
		case <-pl.freed:
		case <-reconnected:
			pl.giveUp(true, 0) // requests waiting on the old connection are gone
		case now := <-watch:
			pl.watch(ctx, now)
		case <-ctx.Done():
			pl.releaseN(n)
			return 0, false
		}
	}
}

// watch gives up requests that can no longer deliver: every request when
// neither a job nor a status came for two heartbeat intervals (the
// connection or the server was lost; if the connection no longer answers
// either, it is reconnected), and requests whose expiry passed unanswered
// (the server dropped them).
func (pl *puller) watch(ctx context.Context, now time.Time) {
	hb := pl.fetchWait / 5
	pl.mu.Lock()
	if pl.heard != pl.heardSeen {
		// Dated here rather than per job: reading the clock for every
		// job cost more than the rest of receive.
		pl.heardSeen, pl.lastHeard = pl.heard, now
	}
	silent := pl.pending > 0 && now.Sub(pl.lastHeard) > 2*hb && !pl.brief
	// Requests end by their expiry, in any order; so only the slots of
	// requests sent since the cutoff may still be pending.
	cutoff := now.Add(-pl.fetchWait - hb)
	i := 0
	for i < len(pl.sent) && pl.sent[i].at.Before(cutoff) {
		i++
	}
	pl.sent = append(pl.sent[:0], pl.sent[i:]...)
	stale := pl.pending
	for _, r := range pl.sent {
		stale -= r.n
	}
	pl.mu.Unlock()
	switch {
	case silent:
		pl.giveUp(true, 0)
		reconnectIfSilent(ctx, pl.nc, max(2*hb, time.Second), pl.log)
	case stale > 0:
		pl.giveUp(true, stale)
	}
}

// errLostRequests reports pull requests that got neither jobs nor an
// answer: the connection or the server was lost on the way.
var errLostRequests = errors.New("jetjobs: pull requests lost")

// request asks the server for n jobs, whose slots are reserved.
func (pl *puller) request(n int) error {
	wait, hb := pl.fetchWait, pl.fetchWait/5
	pl.mu.Lock()
	if pl.brief {
		wait, hb = briefFetchWait, 0
	}
	now := time.Now()
	if pl.pending == 0 {
		pl.lastHeard = now // silence counts from the first request
	}
	pl.pending += n
	if k := len(pl.sent) - 1; k >= 0 && now.Sub(pl.sent[k].at) < 100*time.Millisecond {
		// Merged into the last record, dated now: watch may then give
		// them up later, never too early.
		pl.sent[k].n += n
		pl.sent[k].at = now
	} else {
		pl.sent = append(pl.sent, sentReq{at: now, n: n})
	}
	pl.mu.Unlock()
	// {"batch":n,"expires":ns[,"idle_heartbeat":ns]}
	body := make([]byte, 0, 80)
	body = strconv.AppendInt(append(body, `{"batch":`...), int64(n), 10)
	body = strconv.AppendInt(append(body, `,"expires":`...), int64(wait), 10)
	if hb > 0 {
		body = strconv.AppendInt(append(body, `,"idle_heartbeat":`...), int64(hb), 10)
	}
	body = append(body, '}')
	if err := pl.nc.PublishRequest(pl.next, pl.sub.Subject, body); err != nil {
		pl.giveUp(false, n)
		return err
	}
	return nil
}

// receive handles what arrives on the inbox, jobs and statuses, on the
// subscription's goroutine. It never blocks.
func (pl *puller) receive(msg *nats.Msg) {
	// A status from the server has no data and no acknowledgement subject;
	// a job always has the latter, even one whose publisher gave it a
	// Status header and no payload.
	if len(msg.Data) == 0 && len(msg.Header) > 0 && !strings.HasPrefix(msg.Reply, wire.AckPrefix) {
		if code := msg.Header.Get(wire.Status); code != "" {
			pl.status(code, msg)
			return
		}
	}
	pl.mu.Lock()
	pl.heard++
	pl.failedSince = time.Time{}
	pl.arrived = true
	wasIdle := pl.idle
	pl.idle = false
	reserved := pl.pending > 0
	if reserved {
		pl.pending--
		if pl.pending == 0 {
			signal(pl.starved)
		}
	}
	pl.mu.Unlock()
	if wasIdle {
		brief := pl.q.slots.pulled(1)
		pl.mu.Lock()
		pl.brief = brief
		pl.mu.Unlock()
	}
	m := newMessage(msg, pl.nc)
	if !reserved && !pl.q.slots.tryAcquire() {
		pl.refuse(m) // a job of a request given up on, and no slot for it
		return
	}
	pl.deliver(pl, m)
}

// status handles a status message from the server.
func (pl *puller) status(code string, msg *nats.Msg) {
	switch code {
	case wire.StatusIdleHeartbeat:
		pl.mu.Lock()
		pl.lastHeard = time.Now()
		pl.failedSince = time.Time{}
		pl.mu.Unlock()
		return
	case wire.StatusRequestTimeout, wire.StatusConflict:
		// A request ended; the pending header says how many of its jobs
		// will not come. A 409 without it ends every request (consumer
		// deleted, leader changed).
		left := msg.Header.Get(wire.PendingMessages)
		if left == "" {
			break
		}
		n, _ := strconv.Atoi(left)
		pl.mu.Lock()
		pl.lastHeard = time.Now()
		nowIdle := code == wire.StatusRequestTimeout && !pl.arrived && !pl.idle
		if code == wire.StatusRequestTimeout {
			pl.idle = pl.idle || !pl.arrived
			pl.arrived = false
		}
		pl.mu.Unlock()
		if nowIdle {
			brief := pl.q.slots.pulled(0)
			pl.mu.Lock()
			pl.brief = brief
			pl.mu.Unlock()
		}
		pl.giveUp(false, n)
		return
	}
	err := fmt.Errorf("jetjobs: pull request: %s %s", code, msg.Header.Get(wire.Description))
	switch {
	case code == wire.StatusNoResponders:
		err = fmt.Errorf("%w: %w", nats.ErrNoResponders, err)
	case msg.Header.Get(wire.Description) == "Consumer Deleted":
		err = fmt.Errorf("%w: %w", jetstream.ErrConsumerDeleted, err)
	}
	pl.giveUp(false, 0)
	pl.mu.Lock()
	if pl.failure == nil || errors.Is(pl.failure, errLostRequests) {
		pl.failure = err
	}
	pl.mu.Unlock()
}

// giveUp frees the slots of n requested jobs (all if n is 0) that will not
// come. lost says they were lost on the way; the loop hears of it.
func (pl *puller) giveUp(lost bool, n int) {
	pl.mu.Lock()
	if n == 0 || n > pl.pending {
		n = pl.pending
	}
	pl.pending -= n
	if lost && n > 0 && pl.failure == nil {
		pl.failure = errLostRequests
	}
	pl.mu.Unlock()
	pl.releaseN(n)
	signal(pl.starved)
}

func (pl *puller) takeFailure() error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	err := pl.failure
	pl.failure = nil
	return err
}

func (pl *puller) releaseN(n int) {
	for range n {
		pl.q.slots.release()
	}
}

// failing returns the failure of a queue that has not been able to pull
// since the server was last heard from, or nil.
func (pl *puller) failing() error {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if pl.failedSince.IsZero() {
		return nil
	}
	return fmt.Errorf("queue %s: pulling jobs has failed since %s: %w", pl.q.name, pl.failedSince.Format(time.RFC3339), pl.failedWith)
}

// settled is called when a job of the queue gave its slot back.
func (pl *puller) settled() { signal(pl.freed) }

// drain ends the subscription: the server stops delivering to it, and what
// is already on its way is received and, the pool stopping, handed back.
// Then the slots of requests still waiting are freed.
func (pl *puller) drain() {
	if !pl.nc.IsConnected() {
		// Nothing more can arrive, and a drain would wait for a reconnect:
		// what the server sent this pool comes back after AckWait.
		_ = pl.sub.Unsubscribe()
	} else if err := pl.sub.Drain(); err == nil {
		t := time.NewTimer(5 * time.Second)
		select {
		case <-pl.closed:
		case <-t.C:
			_ = pl.sub.Unsubscribe()
		}
		t.Stop()
	}
	pl.giveUp(false, 0)
}

// signal wakes the receiver of c without blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
