package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Poison jobs among ordinary ones: one panics on every attempt and one
// hangs past its timeout on every attempt (queue default); two kill their
// worker process with os.Exit on every attempt (queue crash, served by
// workers of its own, so a crash cannot take a default job's attempt with
// it). Each poison job ends in dead letters with the right reason after its
// attempts, the killed workers are replaced as a supervisor would, and
// every ordinary job of both queues completes meanwhile.
//
// The first exit job has 3 attempts; its 4th delivery is dead-lettered
// without running (reason max-deliveries). The second sets 10 attempts,
// capped to the consumer's MaxDeliver of 4: the server stops delivering it
// after the 4th death and its MAX_DELIVERIES advisory moves it to dead
// letters.
func TestFaultPoisonJobs(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "poison", srv.url(), job.Topology{})
	opts := []string{"-skip-topology", "-ack-wait", "1s", "-max-attempts", "3", "-max-deliver", "4"}
	// Workers of queue crash run one job at a time, so an exit kills only
	// the job that called it: with more, the jobs running beside it lose an
	// attempt with each crash and can run out of attempts too.
	queueOf := []string{"default", "default", "crash", "crash"}
	concurrencyOf := []string{"4", "4", "1", "1"}
	workerOpts := func(i int) []string {
		return append(opts, "-queues", queueOf[i], "-concurrency", concurrencyOf[i])
	}
	ws := make([]*workerProc, len(queueOf))
	for i := range queueOf {
		ws[i] = e.worker(fmt.Sprintf("p%d", i), workerOpts(i)...)
	}
	crash := job.Queue("crash")
	poison := []job.Request{
		{Kind: "poison.panic", Options: []job.Option{job.ID("poison-panic")}},
		{Kind: "poison.hang", Options: []job.Option{job.ID("poison-hang"), job.Timeout(300 * time.Millisecond)}},
		{Kind: "poison.exit", Options: []job.Option{crash, job.ID("poison-exit")}},
		{Kind: "poison.exit", Options: []job.Option{crash, job.ID("poison-exit-advisory"), job.MaxAttempts(10)}},
	}
	want := map[string]job.Reason{
		"poison-panic": job.ReasonFailed, "poison-hang": job.ReasonFailed,
		"poison-exit": job.ReasonMaxDeliveries, "poison-exit-advisory": job.ReasonMaxDeliveries,
	}
	const ordinary = 300
	reqs := append(poison, workRequests("ok", ordinary/2, 20)...)
	reqs = append(reqs, workRequests("ok-crash", ordinary/2, 20, crash)...)
	start := time.Now()
	enqueued := e.enqueueInBackground(reqs, 50, 100*time.Millisecond)
	e.awaitEnqueued(enqueued)

	// Supervise: replace each worker that died, as systemd or Kubernetes would.
	deaths := 0
	var exitCodes []int
	supervise := func() {
		for i, w := range ws {
			if code, exited := w.wait(0); exited {
				deaths++
				exitCodes = append(exitCodes, code)
				ws[i] = startWorkerNoWait(t, e.recDir, fmt.Sprintf("p%d-%d", i, deaths), e.servers, workerOpts(i))
			}
		}
	}
	var s summary
	var ordinaryDone time.Duration
	waitFor(t, 90*time.Second, 50*time.Millisecond, func() bool {
		supervise()
		if ordinaryDone == 0 {
			if n, _ := e.progress(); n >= ordinary {
				ordinaryDone = time.Since(start)
			}
		}
		s = e.books.tally(t.Context(), t)
		return s.Lost == 0 && e.books.streamEmpty(t.Context())
	}, "every job completed or dead-lettered")
	allDone := time.Since(start)
	s = e.books.settle(t, 10*time.Second)

	var lines []string
	for id, reason := range want {
		dl, ok := s.deadOf[id]
		if !ok {
			t.Errorf("%s: not dead-lettered", id)
			continue
		}
		if dl.Reason != reason {
			t.Errorf("%s: dead-lettered with reason %q, want %q (error %q)", id, dl.Reason, reason, dl.Error)
		}
		lines = append(lines, fmt.Sprintf("%s → %s after %d attempts (%s)", id, dl.Reason, dl.Attempts, firstLine(dl.Error)))
	}
	if dl := s.deadOf["poison-panic"]; !strings.Contains(dl.Error, "panic") {
		t.Errorf("panic dead letter error %q does not mention the panic", dl.Error)
	}
	if dl := s.deadOf["poison-hang"]; !strings.Contains(dl.Error, "deadline exceeded") {
		t.Errorf("hang dead letter error %q does not mention the timeout", dl.Error)
	}
	if s.DeadLettered != len(poison) || s.Completed != ordinary {
		t.Errorf("completed %d (want %d), dead-lettered %d (want %d)", s.Completed, ordinary, s.DeadLettered, len(poison))
	}
	for _, code := range exitCodes {
		if code != 3 {
			t.Errorf("a worker died with exit code %d; only the poison job's os.Exit(3) should kill one", code)
		}
	}
	if deaths != 7 {
		t.Errorf("%d worker deaths; the exit jobs' 3 + 4 fatal attempts should kill 7 processes", deaths)
	}
	slices.Sort(lines)
	report(t, "poison", s,
		fmt.Sprintf("4 poison jobs among %d ordinary ones in 2 queues; os.Exit killed %d worker processes, each replaced", ordinary, deaths),
		fmt.Sprintf("ordinary jobs all done %s after the first enqueue, every poison job dead-lettered within %s: %s", ms(ordinaryDone), ms(allDone), strings.Join(lines, "; ")))
}

func firstLine(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
