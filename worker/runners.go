package worker

import (
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// runners runs jobs on long-lived goroutines. A job goes to the runner that
// went idle last, if one is idle, else to a new one; a runner idle for
// longer than AckWait/3 ends (the heartbeat loop reaps them). Compared with
// a goroutine per job this saves, above all, growing a fresh stack for
// every job: decoding JSON alone grows it several times. Runners never
// outnumber the slots.
type runners struct {
	work    func(msg jetstream.Msg) // runs a job and settles it
	mu      sync.Mutex
	idle    []*runner // by idle time, the most recently idle last
	stopped bool
	wg      sync.WaitGroup
}

// runner is one goroutine; work carries its next job.
type runner struct {
	work      chan delivery
	idleSince time.Time
}

// delivery is a job for a runner: the message and the puller of its queue,
// whose slot it holds.
type delivery struct {
	pl  *puller
	msg jetstream.Msg
}

// run hands d to an idle runner or starts one.
func (rs *runners) run(d delivery) {
	rs.mu.Lock()
	var r *runner
	if n := len(rs.idle); n > 0 {
		r = rs.idle[n-1]
		rs.idle[n-1] = nil
		rs.idle = rs.idle[:n-1]
	}
	rs.mu.Unlock()
	if r == nil {
		r = &runner{work: make(chan delivery, 1)}
		rs.wg.Add(1)
		go rs.loop(r)
	}
	r.work <- d
}

func (rs *runners) loop(r *runner) {
	defer rs.wg.Done()
	for d := range r.work {
		rs.work(d.msg)
		// Idle again before the slot is free: the job that slot brings
		// must find this runner rather than start another.
		rs.mu.Lock()
		stopped := rs.stopped
		if !stopped {
			r.idleSince = time.Now()
			rs.idle = append(rs.idle, r)
		}
		rs.mu.Unlock()
		d.pl.q.slots.release()
		d.pl.settled()
		if stopped {
			return
		}
	}
}

// reap ends the runners idle since before cutoff.
func (rs *runners) reap(cutoff time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for n < len(rs.idle) && rs.idle[n].idleSince.Before(cutoff) {
		close(rs.idle[n].work)
		n++
	}
	rs.idle = slices.Delete(rs.idle, 0, n)
}

// stop ends every runner and waits for them. Call it once every job is done
// and no more will be dispatched; a runner still on its way back to idle
// ends there.
func (rs *runners) stop() {
	rs.mu.Lock()
	rs.stopped = true
	rs.mu.Unlock()
	rs.reap(time.Now().Add(time.Hour))
	rs.wg.Wait()
}
