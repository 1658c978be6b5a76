package worker

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// inflight is the set of running jobs, for heartbeats. One pool-wide
// goroutine sends them, so a running job costs no timer or goroutine of its
// own for this.
type inflight struct {
	mu   sync.Mutex
	next uint64
	jobs map[uint64]running
}

type running struct {
	msg   jetstream.Msg
	since time.Time
}

func (f *inflight) add(msg jetstream.Msg) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs == nil {
		f.jobs = make(map[uint64]running)
	}
	f.next++
	f.jobs[f.next] = running{msg: msg, since: time.Now()}
	return f.next
}

func (f *inflight) remove(token uint64) {
	f.mu.Lock()
	delete(f.jobs, token)
	f.mu.Unlock()
}

func (f *inflight) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

// due returns the jobs that have run longer than age.
func (f *inflight) due(age time.Duration, now time.Time) []jetstream.Msg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []jetstream.Msg
	for _, r := range f.jobs {
		if now.Sub(r.since) >= age {
			out = append(out, r.msg)
		}
	}
	return out
}

// heartbeats tells the server, every AckWait/3, that each job running for
// longer than that is still in progress, which restarts its AckWait. A live
// worker's long job is thus never redelivered; a dead worker's job is, one
// AckWait after its last heartbeat.
func (p *Pool) heartbeats(ctx context.Context) {
	defer p.background.Done()
	every := p.cfg.AckWait / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, msg := range p.inflight.due(every/2, now) {
				_ = msg.InProgress()
			}
			p.runners.reap(now.Add(-every))
		}
	}
}
