package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Worker processes are killed with SIGKILL mid-batch, one after another,
// while the others keep working and jobs keep arriving. Each killed
// worker's running jobs come back after AckWait and are finished by
// another.
func TestFaultWorkerSIGKILLMidBatch(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "worker SIGKILL", srv.url(), job.Topology{})
	opts := []string{"-skip-topology", "-ack-wait", "1s", "-concurrency", "6"}
	const workers, jobs, kills = 3, 600, 6
	ws := make([]*workerProc, workers)
	for i := range ws {
		ws[i] = e.worker(fmt.Sprintf("w%d", i), opts...)
	}
	enqueued := e.enqueueInBackground(workRequests("kill", jobs, 100), 60, 250*time.Millisecond)

	type kill struct {
		at       time.Time
		inflight []string
	}
	var done []kill
	for k := range kills {
		slot := k % workers
		victim := ws[slot]
		// Mid-batch: it has finished some jobs and is running others.
		var inflight []string
		waitFor(t, 30*time.Second, 10*time.Millisecond, func() bool {
			n, open := e.progress()
			inflight = open[victim.name]
			return n > 20*(k+1) && len(inflight) >= 3
		}, "worker %s mid-batch", victim.name)
		at := time.Now()
		victim.kill()
		// Jobs it recorded as started after the snapshot were running too.
		_, open := e.progress()
		done = append(done, kill{at: at, inflight: open[victim.name]})
		ws[slot] = e.worker(fmt.Sprintf("w%d-%d", slot, k+1), opts...)
	}
	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 90*time.Second)

	recs := readRecords(t, e.recDir)
	var worst time.Duration
	var lines []string
	interrupted := 0
	for _, k := range done {
		firsts := firstDoneAfter(recs, k.inflight, k.at)
		var longest time.Duration
		for _, at := range firsts {
			longest = max(longest, at.Sub(k.at))
		}
		interrupted += len(k.inflight)
		worst = max(worst, longest)
		lines = append(lines, ms(longest))
	}
	noneDead(t, s)
	report(t, "worker-sigkill", s,
		fmt.Sprintf("%d SIGKILLs of 3 workers (6 slots each), %d jobs running in killed workers, AckWait 1s", kills, interrupted),
		fmt.Sprintf("killed workers' running jobs finished elsewhere within %s of each kill (per kill: %s)", ms(worst), strings.Join(lines, " ")))
}
