package worker

import (
	"context"
	"slices"
	"sync"
	"time"
)

// arbiter shares one budget of job slots (Config.Concurrency) among the
// queues of a pool. It satisfies the slots interface per queue (see share).
//
// A queue claims slots while its puller waits for a slot, or
// while it is busy (its last pull brought jobs, so more are likely). Every
// slot, when it frees up or is asked for, goes to the claimant ranked first:
// highest Priority; among equal priorities the lowest load after the grant,
// (slots in use + 1) / Weight, so busy queues converge on shares in
// proportion to their weights; among equals a waiting loop before a busy
// queue that is between pulls, and the longest waiting first. A slot
// ranked for a busy queue between pulls stays free for it: its loop comes
// back within briefFetchWait, because busy queues' pulls wait only that long
// (see slots.pulled). A queue never holds more than its own limit.
//
// Idle queues do not claim: an idle queue's puller asks for one job at a
// time (after a pull expired without a job), so an idle queue holds one slot
// while its pull waits for jobs. When a job arrives it runs in that slot,
// and the queue is then busy and ranks for the next free slots.
type arbiter struct {
	mu     sync.Mutex
	free   int
	shares []*share
	ticket uint64 // orders waiters by arrival
}

// briefFetchWait bounds the pulls of busy queues sharing slots.
const briefFetchWait = 50 * time.Millisecond

func newArbiter(slots int) *arbiter { return &arbiter{free: slots} }

// share is one queue's view of the arbiter.
type share struct {
	a        *arbiter
	name     string
	priority int
	weight   int
	limit    int // the queue's own Concurrency

	held    int       // slots in use: reserved for a pull or running a job
	busy    bool      // the last pull brought jobs
	waiters []*waiter // pullers blocked in acquire, oldest first
}

type waiter struct {
	ready   chan struct{} // closed when granted
	ticket  uint64
	granted bool
}

// share adds a queue to the arbiter.
func (a *arbiter) share(name string, priority, weight, limit int) *share {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := &share{a: a, name: name, priority: priority, weight: max(weight, 1), limit: limit}
	a.shares = append(a.shares, s)
	return s
}

// acquire blocks until the arbiter grants s a slot or ctx ends.
func (s *share) acquire(ctx context.Context) bool {
	a := s.a
	a.mu.Lock()
	if a.mayTake(s) {
		a.grant(s)
		a.mu.Unlock()
		return true
	}
	a.ticket++
	w := &waiter{ready: make(chan struct{}), ticket: a.ticket}
	s.waiters = append(s.waiters, w)
	a.dispatch() // s now claims: a free slot held for it is granted
	a.mu.Unlock()

	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	}
	a.mu.Lock()
	if w.granted {
		// Granted as ctx ended: hand the slot on.
		s.held--
		a.free++
	} else {
		s.waiters = slices.DeleteFunc(s.waiters, func(x *waiter) bool { return x == w })
	}
	a.dispatch()
	a.mu.Unlock()
	return false
}

// tryAcquire takes a free slot if s ranks first for it.
func (s *share) tryAcquire() bool {
	a := s.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mayTake(s) {
		a.grant(s)
		return true
	}
	a.dispatch() // the free slots are someone else's
	return false
}

// release gives a slot back and hands it to the claimant ranked first.
func (s *share) release() {
	a := s.a
	a.mu.Lock()
	s.held--
	a.free++
	a.dispatch()
	a.mu.Unlock()
}

// pulled records whether s is busy; a busy queue's next pull is brief.
func (s *share) pulled(got int) bool {
	a := s.a
	a.mu.Lock()
	defer a.mu.Unlock()
	s.busy = got > 0
	if !s.busy {
		a.dispatch() // slots held for s go to others
	}
	return s.busy
}

func (a *arbiter) grant(s *share) {
	a.free--
	s.held++
}

// mayTake reports whether s, asking for a slot now, gets a free one: no
// other claimant ranks before it. Called with mu held.
func (a *arbiter) mayTake(s *share) bool {
	if a.free == 0 || s.held >= s.limit {
		return false
	}
	for _, o := range a.shares {
		if o != s && o.claims() && o.before(s, true) {
			return false
		}
	}
	return true
}

// dispatch hands free slots to waiting pullers while the claimant
// ranked first is waiting. Called with mu held.
func (a *arbiter) dispatch() {
	for a.free > 0 {
		var best *share
		for _, s := range a.shares {
			if s.claims() && (best == nil || s.before(best, false)) {
				best = s
			}
		}
		if best == nil || len(best.waiters) == 0 {
			return // nobody claims, or the slot waits for a busy queue
		}
		w := best.waiters[0]
		best.waiters = best.waiters[1:]
		w.granted = true
		a.grant(best)
		close(w.ready)
	}
}

// claims reports whether s wants a slot now.
func (s *share) claims() bool {
	return s.held < s.limit && (s.busy || len(s.waiters) > 0)
}

// before reports whether claimant s ranks before o for the next slot.
// oAsking says o is asking right now (it counts as the newest waiter).
func (s *share) before(o *share, oAsking bool) bool {
	if s.priority != o.priority {
		return s.priority > o.priority
	}
	// Compare the load after the grant, (held+1)/weight, without division.
	if l, r := (s.held+1)*o.weight, (o.held+1)*s.weight; l != r {
		return l < r
	}
	sw, ow := len(s.waiters) > 0, oAsking || len(o.waiters) > 0
	switch {
	case sw != ow:
		return sw
	case !sw:
		return false
	case oAsking:
		return true // s has waited longer
	}
	return s.waiters[0].ticket < o.waiters[0].ticket
}
