package worker

import (
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// runners runs jobs on long-lived goroutines. Delivered jobs wait in one
// queue; a runner that finishes a job takes the next waiting one itself,
// and an idle runner (the one that went idle last) or a new one is woken
// only while fewer than one per processor are already on their way to the
// queue. A woken runner that leaves jobs waiting wakes the next. So a
// burst of short jobs is run by as many runners as there are processors
// to run them, each job after another without a wake-up, while jobs that
// wait on I/O still each get a runner of their own within a wake-up or
// two; a runner idle for longer than AckWait/3 ends (the heartbeat loop
// reaps them). Compared with a goroutine per job this saves, above all,
// growing a fresh stack for every job: decoding JSON alone grows it
// several times. Runners never outnumber the jobs in flight by more than
// the processors.
type runners struct {
	work func(msg jetstream.Msg) // runs a job and settles it

	mu      sync.Mutex
	queue   []delivery // waiting, from head on
	head    int
	idle    []*runner // by idle time, the most recently idle last
	waking  int       // runners woken or started, not yet at the queue
	maxWake int       // the most of them at once: GOMAXPROCS when first used
	stopped bool
	wg      sync.WaitGroup
}

// runner is one goroutine; a value on wake sends it to the queue.
type runner struct {
	wake      chan struct{}
	idleSince time.Time
}

// delivery is a job for a runner: the message and the puller of its queue,
// whose slot it holds.
type delivery struct {
	pl  *puller
	msg jetstream.Msg
}

// run queues d and, unless enough runners are on their way, wakes one.
func (rs *runners) run(d delivery) {
	rs.mu.Lock()
	rs.queue = append(rs.queue, d)
	if rs.maxWake == 0 {
		rs.maxWake = runtime.GOMAXPROCS(0)
	}
	if rs.waking < rs.maxWake {
		rs.wakeOne()
	}
	rs.mu.Unlock()
}

// wakeOne sends the runner that went idle last, or a new one, to the
// queue. Called with mu held.
func (rs *runners) wakeOne() {
	rs.waking++
	if n := len(rs.idle); n > 0 {
		r := rs.idle[n-1]
		rs.idle[n-1] = nil
		rs.idle = rs.idle[:n-1]
		r.wake <- struct{}{} // never blocks: an idle runner's is empty
		return
	}
	r := &runner{wake: make(chan struct{}, 1)}
	r.wake <- struct{}{}
	rs.wg.Add(1)
	go rs.loop(r)
}

func (rs *runners) loop(r *runner) {
	defer rs.wg.Done()
	for range r.wake {
		rs.mu.Lock()
		rs.waking--
		d, ok, exit := rs.next(r)
		rs.mu.Unlock()
		for ok {
			rs.work(d.msg)
			var next delivery
			rs.mu.Lock()
			next, ok, exit = rs.next(r)
			rs.mu.Unlock()
			// Taken the next job or gone idle before the slot is free: the
			// job that slot brings must find this runner rather than wake
			// another.
			d.pl.q.slots.release()
			d.pl.settled()
			d = next
		}
		if exit {
			return
		}
	}
}

// next takes the job waiting longest, waking another runner if more wait;
// with none waiting, r goes idle, or reports exit once the runners are
// stopped. Called with mu held.
func (rs *runners) next(r *runner) (d delivery, ok, exit bool) {
	if rs.head < len(rs.queue) {
		d = rs.queue[rs.head]
		rs.queue[rs.head] = delivery{}
		rs.head++
		switch {
		case rs.head == len(rs.queue):
			rs.queue, rs.head = rs.queue[:0], 0
			return d, true, false
		case rs.head >= 256 && 2*rs.head >= len(rs.queue):
			// Never empty for long: move the waiting ones to the front
			// so that the queue does not grow with every job.
			n := copy(rs.queue, rs.queue[rs.head:])
			clear(rs.queue[n:])
			rs.queue, rs.head = rs.queue[:n], 0
		}
		if rs.waking < rs.maxWake {
			rs.wakeOne()
		}
		return d, true, false
	}
	if rs.stopped {
		return d, false, true
	}
	r.idleSince = time.Now()
	rs.idle = append(rs.idle, r)
	return d, false, false
}

// reap ends the runners idle since before cutoff.
func (rs *runners) reap(cutoff time.Time) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := 0
	for n < len(rs.idle) && rs.idle[n].idleSince.Before(cutoff) {
		close(rs.idle[n].wake)
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
