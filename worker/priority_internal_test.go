package worker

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestArbiterStrictPriority(t *testing.T) {
	a := newArbiter(2)
	high := a.share("high", 1, 1, 2)
	low := a.share("low", 0, 1, 2)
	if !low.tryAcquire() || !low.tryAcquire() {
		t.Fatal("low could not take the two free slots")
	}
	if high.tryAcquire() || low.tryAcquire() {
		t.Fatal("took a slot beyond the budget")
	}
	got := make(chan string, 4)
	wait := func(s *share) {
		go func() {
			if s.acquire(context.Background()) {
				got <- s.name
			}
		}()
	}
	wait(low)
	waitFor(t, func() bool { return waiting(a, low) == 1 })
	wait(high)
	waitFor(t, func() bool { return waiting(a, high) == 1 })
	low.release()
	if name := <-got; name != "high" {
		t.Fatalf("freed slot went to %s, want high (it waited later but ranks higher)", name)
	}
	low.release()
	if name := <-got; name != "low" {
		t.Fatalf("second slot went to %s, want low", name)
	}
}

func TestArbiterWeightsShareSlots(t *testing.T) {
	// Both queues always want slots; as slots free up one at a time, the
	// holdings converge on the weights: 6 and 2 of 8.
	a := newArbiter(8)
	heavy := a.share("heavy", 0, 3, 8)
	light := a.share("light", 0, 1, 8)
	for heavy.tryAcquire() {
	}
	granted := make(chan *share, 16)
	for _, s := range []*share{heavy, light} {
		for range 2 {
			go func() {
				for s.acquire(t.Context()) {
					granted <- s
				}
			}()
		}
	}
	held := map[*share]int{heavy: 8}
	order := []*share{heavy, heavy, heavy, heavy, heavy, heavy, heavy, heavy}
	for range 400 {
		// Both queues have a loop waiting for a slot (a loop just granted
		// one may still be on its way back), so the arbiter ranks them.
		waitForWaiters(t, a, heavy, light)
		// Finish the oldest job, then wait for the slot to be granted.
		s := order[0]
		order = order[1:]
		held[s]--
		s.release()
		g := <-granted
		held[g]++
		order = append(order, g)
	}
	if held[heavy] != 6 || held[light] != 2 {
		t.Fatalf("holdings heavy %d light %d, want 6 and 2", held[heavy], held[light])
	}
}

func TestArbiterLimitAndCanceledWait(t *testing.T) {
	a := newArbiter(4)
	capped := a.share("capped", 5, 1, 1)
	other := a.share("other", 0, 1, 4)
	if !capped.tryAcquire() || capped.tryAcquire() {
		t.Fatal("the queue's own limit of 1 does not hold")
	}
	// A waiter at its limit does not block the slots of others.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- capped.acquire(ctx) }()
	waitFor(t, func() bool { return waiting(a, capped) == 1 })
	for range 3 {
		if !other.tryAcquire() {
			t.Fatal("other could not take a free slot")
		}
	}
	cancel()
	if <-done {
		t.Fatal("acquire returned true after its context ended")
	}
	if n := waiting(a, capped); n != 0 {
		t.Fatalf("%d waiters left after cancel", n)
	}
	capped.release()
	other.release()
	if a.free != 2 || capped.held != 0 || other.held != 2 {
		t.Fatalf("free %d, held %d and %d", a.free, capped.held, other.held)
	}
}

func waiting(a *arbiter, s *share) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(s.waiters)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// waitForWaiters waits until each share has a loop waiting in acquire.
func waitForWaiters(t *testing.T, a *arbiter, shares ...*share) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.mu.Lock()
		all := true
		for _, s := range shares {
			all = all && len(s.waiters) > 0
		}
		a.mu.Unlock()
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the queues' loops did not come back to wait for a slot")
		}
		runtime.Gosched()
	}
}
