package worker

import "context"

// slots hands out a queue's concurrency: a puller acquires one slot per job
// it asks the server for, and a job releases its slot when its handler's
// outcome is handed over (a success to the acker, whose confirmation needs
// no slot; a failure once it is Nak'd or dead-lettered). A
// queue's own semaphore is the simple case; a pool-wide arbiter that shares
// slots among queues by priority satisfies the same interface.
type slots interface {
	// acquire blocks until a slot is free or ctx ends; false means ctx ended.
	acquire(ctx context.Context) bool
	// tryAcquire takes a free slot without blocking.
	tryAcquire() bool
	// release frees one slot.
	release()
	// pulled tells how many jobs the last pull brought and returns whether
	// the next pull should wait only briefly for jobs. Slots shared by
	// priority need that: a busy queue's pull must not hold slots long.
	pulled(got int) (brief bool)
}

// semaphore is a queue's own fixed number of slots.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

func (s semaphore) acquire(ctx context.Context) bool {
	select {
	case s <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s semaphore) tryAcquire() bool {
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s semaphore) release() { <-s }

func (s semaphore) pulled(int) bool { return false }
