package worker

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// inflight is the set of running jobs, for heartbeats. One pool-wide
// goroutine sends them, so a running job costs no timer or goroutine of its
// own for this. A job takes a slot of a table and gives it back: no map to
// hash into and no allocation per job once the table has grown to the
// jobs that run at once.
type inflight struct {
	mu    sync.Mutex
	slots []running // indexed by token
	free  []uint64  // tokens of unused slots
	n     int       // used slots
}

type running struct {
	msg   jetstream.Msg // nil: unused
	since time.Time
}

func (f *inflight) add(msg jetstream.Msg) uint64 {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	var token uint64
	if k := len(f.free); k > 0 {
		token = f.free[k-1]
		f.free = f.free[:k-1]
	} else {
		token = uint64(len(f.slots))
		f.slots = append(f.slots, running{})
	}
	f.slots[token] = running{msg: msg, since: now}
	f.n++
	return token
}

func (f *inflight) remove(token uint64) {
	f.mu.Lock()
	f.slots[token] = running{}
	f.free = append(f.free, token)
	f.n--
	f.mu.Unlock()
}

func (f *inflight) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// due returns the jobs that have run longer than age.
func (f *inflight) due(age time.Duration, now time.Time) []jetstream.Msg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []jetstream.Msg
	for _, r := range f.slots {
		if r.msg != nil && now.Sub(r.since) >= age {
			out = append(out, r.msg)
		}
	}
	return out
}

// heartbeats tells the server, every AckWait/3, that each job running for
// longer than that is still in progress, which restarts its AckWait. A live
// worker's long job is thus never redelivered; a dead worker's job is, one
// AckWait after its last heartbeat. The same tick ends runners idle for
// longer than that.
type heartbeats struct {
	every    time.Duration
	inflight *inflight
	reap     func(cutoff time.Time) // ends runners idle since before cutoff
	loops    loops
}

func (h *heartbeats) start(context.Context) error {
	h.loops.run(h.loop)
	return nil
}

func (h *heartbeats) stop() { h.loops.stop() }

func (h *heartbeats) loop(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, msg := range h.inflight.due(h.every/2, now) {
				_ = msg.InProgress()
			}
			h.reap(now.Add(-h.every))
		}
	}
}
