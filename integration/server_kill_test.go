package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// The nats-server process is killed with SIGKILL (no shutdown, no flush)
// and restarted on the same store, twice, while jobs are enqueued and
// worked. Nothing acknowledged to the enqueuer is lost: a process crash
// leaves written data in the OS page cache even with the default fsync
// interval (an OS crash would not; see docs/semantics.md).
func TestFaultServerSIGKILLRestart(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "server SIGKILL", srv.url(), job.Topology{})
	opts := []string{"-skip-topology", "-ack-wait", "2s", "-concurrency", "8"}
	e.worker("w0", opts...)
	e.worker("w1", opts...)
	const jobs, crashes = 600, 2
	enqueued := e.enqueueInBackground(workRequests("srv", jobs, 20), 20, 100*time.Millisecond)

	var lines []string
	var worst time.Duration
	for c := range crashes {
		// Mid-enqueue (200 and 400 of 600 accepted) and mid-work.
		waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
			n, _ := e.progress()
			return e.ledger.len() >= 200*(c+1) && n >= 100*(c+1)
		}, "progress before crash %d", c+1)
		killed := time.Now()
		srv.kill()
		srv.start()
		up := time.Now()
		// Resumed: a job finishes after the restart.
		waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
			return !firstDone(readRecords(t, e.recDir), up).IsZero()
		}, "work resumed after restart %d", c+1)
		resumed := firstDone(readRecords(t, e.recDir), up)
		worst = max(worst, resumed.Sub(killed))
		lines = append(lines, fmt.Sprintf("down %s, first job done %s after restart", ms(up.Sub(killed)), ms(resumed.Sub(up))))
	}
	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 90*time.Second)
	noneDead(t, s)
	report(t, "server-sigkill", s,
		fmt.Sprintf("%d SIGKILLs of the nats-server process during enqueue and work, restarted on the same store (default fsync interval), 2 workers", crashes),
		fmt.Sprintf("work resumed within %s of each kill (%s)", ms(worst), strings.Join(lines, "; ")))
}
