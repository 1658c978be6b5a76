package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// A publisher faster than the workers fills the work stream (MaxMsgs 100).
// Enqueue then fails with ErrQueueFull, a clear error, and the job is not
// stored; nothing accepted is dropped to make room, and as workers drain the
// queue enqueueing succeeds again.
func TestFaultPublisherFasterThanWorkers(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	const capacity = 100
	e := newFaultEnv(t, "queue full", srv.url(), job.Topology{MaxMsgs: capacity})
	e.worker("slow", "-skip-topology", "-ack-wait", "2s", "-concurrency", "2")

	const attempts = 1500
	reqs := workRequests("full", attempts, 10)
	var refused []string
	var fullErr error
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := 0; i < len(reqs); i += 50 {
		r, err := e.enqueueBooked(ctx, reqs[i:min(i+50, len(reqs))], job.ErrQueueFull)
		refused = append(refused, r...)
		if err != nil {
			fullErr = err
		}
	}
	publishFor := time.Since(start)
	e.books.accepted = e.ledger.list()
	if len(refused) == 0 {
		t.Fatal("the publisher never filled the queue")
	}
	if !strings.Contains(fullErr.Error(), "full") || !strings.Contains(fullErr.Error(), "MaxMsgs") {
		t.Errorf("the queue-full error does not say what happened and what to do: %v", fullErr)
	}
	// Once drained, the queue takes jobs again.
	waitFor(t, 60*time.Second, 20*time.Millisecond, func() bool { return e.books.streamEmpty(ctx) }, "the queue drained")
	drained := time.Since(start)
	if _, err := e.client.Enqueue(ctx, "work", map[string]int{"ms": 0}, job.ID("after-drain")); err != nil {
		t.Fatalf("enqueue after the queue drained: %v", err)
	}
	e.ledger.add("after-drain")
	e.books.accepted = e.ledger.list()
	s := e.books.settle(t, 60*time.Second)
	// Refused means not stored: none of the refused jobs ever ran.
	done := doneCounts(readRecords(t, e.recDir))
	for _, id := range refused {
		if done[id] > 0 {
			t.Errorf("job %s was refused with ErrQueueFull but ran", id)
		}
	}
	noneDead(t, s)
	report(t, "queue-full", s,
		fmt.Sprintf("%d enqueues in %s against MaxMsgs %d and one worker of 2 slots; %d refused with ErrQueueFull (%q), none of them ran",
			attempts, ms(publishFor), capacity, len(refused), firstLine(strings.TrimPrefix(fullErr.Error(), "jetjobs: "))),
		fmt.Sprintf("queue drained %s after the first enqueue; enqueue accepted again at once", ms(drained)))
}
