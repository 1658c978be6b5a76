package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// A worker is cut off from the server (its TCP connections are closed and
// new ones refused) for three times AckWait while it runs jobs. The server
// hands its jobs to the other worker after AckWait; the cut-off worker
// finishes them too but cannot acknowledge them: the documented duplicates
// of a cut longer than AckWait (docs/semantics.md, case 3). After the cut it
// reconnects and works on.
func TestFaultNetworkCutLongerThanAckWait(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "network cut", srv.url(), job.Topology{})
	const ackWait = time.Second
	opts := []string{"-skip-topology", "-ack-wait", ackWait.String(), "-concurrency", "4"}
	link := startProxy(t, fmt.Sprintf("127.0.0.1:%d", srv.port))
	cut := startWorker(t, e.recDir, "cut", link.url(), append(opts, "-no-discovery"))
	e.worker("direct", opts...)
	const jobs = 400
	enqueued := e.enqueueInBackground(workRequests("cut", jobs, 150), 50, 200*time.Millisecond)

	// The jobs the cut-off worker had started and not finished when the
	// link went down: it acknowledges a job only after recording it done, so
	// none of these acknowledgements can have reached the server. (A snapshot
	// taken before the cut could name a job finished and acknowledged in
	// between, which the server rightly never hands out again.) If every job
	// it was running finished in the instant before the cut, heal and try
	// again at the next mid-batch moment.
	var (
		at       time.Time
		inflight []string
	)
	for try := 1; len(inflight) == 0; try++ {
		if try > 5 {
			t.Fatal("the cut-off worker had no job running at any of 5 cuts")
		}
		waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
			n, open := e.progress()
			return n > 40*try && len(open[cut.name]) >= 3
		}, "cut-off worker mid-batch")
		link.setCut(true)
		at = time.Now()
		if inflight = startedNotDone(readRecords(t, e.recDir), cut.name, at); len(inflight) == 0 {
			link.setCut(false)
		}
	}
	// Hold the cut for 3×AckWait (the fault's length, not a synchronisation)
	// and until the other worker has finished the cut-off worker's jobs.
	var recovered time.Duration
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
		finished := map[string]bool{}
		recovered = 0
		for _, r := range readRecords(t, e.recDir) {
			if r.event == "done" && r.worker != cut.name && r.at.After(at) && slices.Contains(inflight, r.id) {
				finished[r.id] = true
				recovered = max(recovered, r.at.Sub(at))
			}
		}
		return time.Since(at) >= 3*ackWait && len(finished) == len(inflight)
	}, "the cut-off worker's jobs finished by the other")
	cutFor := time.Since(at)
	link.setCut(false)
	healed := time.Now()
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
		for _, r := range readRecords(t, e.recDir) {
			if r.worker == cut.name && r.event == "start" && r.at.After(healed) {
				return true
			}
		}
		return false
	}, "the cut-off worker works again after the cut")
	var back time.Duration
	for _, r := range readRecords(t, e.recDir) {
		if r.worker == cut.name && r.event == "start" && r.at.After(healed) {
			back = r.at.Sub(healed)
			break
		}
	}
	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 90*time.Second)
	noneDead(t, s)
	report(t, "network-cut", s,
		fmt.Sprintf("one of 2 workers cut off for %s (AckWait %s) with %d jobs running", ms(cutFor), ackWait, len(inflight)),
		fmt.Sprintf("its running jobs finished by the other worker within %s of the cut; it took jobs again %s after the link healed", ms(recovered), ms(back)))
}

// The server process is paused (SIGSTOP) for three times AckWait while both
// workers run jobs, then continued: every client's link is dead for that
// long without the connections closing.
func TestFaultServerPausedLongerThanAckWait(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "server paused", srv.url(), job.Topology{})
	const ackWait = time.Second
	opts := []string{"-skip-topology", "-ack-wait", ackWait.String(), "-concurrency", "4"}
	e.worker("w0", opts...)
	e.worker("w1", opts...)
	const jobs = 300
	enqueued := e.enqueueInBackground(workRequests("pause", jobs, 100), 50, 200*time.Millisecond)
	waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
		n, _ := e.progress()
		return n > 60 && e.ledger.len() >= 150
	}, "progress before the pause")
	paused := time.Now()
	srv.pause()
	pauseFor := 3 * ackWait
	_ = wait(t.Context(), pauseFor) // the fault's length
	srv.resume()
	resumed := time.Now()
	waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
		return !firstDone(readRecords(t, e.recDir), resumed).IsZero()
	}, "work resumed after SIGCONT")
	first := firstDone(readRecords(t, e.recDir), resumed)
	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 90*time.Second)
	noneDead(t, s)
	report(t, "server-paused", s,
		fmt.Sprintf("nats-server SIGSTOPped for %s (AckWait %s) during enqueue and work, then SIGCONT", ms(resumed.Sub(paused)), ackWait),
		fmt.Sprintf("first job finished %s after SIGCONT", ms(first.Sub(resumed))))
}
