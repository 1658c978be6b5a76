package integration

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// recordingCommand is a `jetjobs worker --exec` command that records its
// start and end like the test worker does, with 300ms of work between.
const recordingCommand = `echo "start $JETJOBS_ID $JETJOBS_ATTEMPT $WORKER $(date +%s%N)" >> "$REC"; ` +
	`sleep 0.3; ` +
	`echo "done $JETJOBS_ID $JETJOBS_ATTEMPT $WORKER $(date +%s%N)" >> "$REC"`

// startCLIWorker starts `jetjobs worker` named name with the recording
// command for kind "work" and waits until its pool runs.
func startCLIWorker(tb testing.TB, recDir, name string, args ...string) *proc {
	tb.Helper()
	env := []string{"WORKER=" + name, "REC=" + filepath.Join(recDir, name+".rec")}
	args = append([]string{"worker", "--log-format", "json", "--exec", "work=" + recordingCommand}, args...)
	p := startProc(tb, "jetjobs worker "+name, filepath.Join(recDir, name+".log"), env, bin.jetjobs, args...)
	waitFor(tb, 30*time.Second, 20*time.Millisecond, func() bool {
		if p.exited() {
			tb.Fatalf("jetjobs worker %s exited:\n%s", name, tail(p.logPath, 20))
		}
		return p.logContains("worker pool started")
	}, "jetjobs worker %s started", name)
	return p
}

// SIGTERM to a `jetjobs worker` under load: it stops taking jobs, lets the
// running ones finish, and exits 0. Nothing is lost and nothing it ran is
// run again.
func TestFaultSIGTERMWorkerUnderLoad(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "worker SIGTERM", srv.url(), job.Topology{})
	common := []string{"-s", srv.url(), "--concurrency", "5", "--ack-wait", "5s", "--shutdown-timeout", "20s"}
	term := startCLIWorker(t, e.recDir, "cli0", common...)
	startCLIWorker(t, e.recDir, "cli1", common...)
	const jobs = 150
	enqueued := e.enqueueInBackground(workRequests("term", jobs, 0), 50, 0)
	var running []string
	waitFor(t, 60*time.Second, 10*time.Millisecond, func() bool {
		n, open := e.progress()
		running = open["cli0"]
		return n >= 20 && len(running) >= 3
	}, "the worker to stop is busy")
	at := time.Now()
	term.signal(syscall.SIGTERM)
	code, ok := term.wait(30 * time.Second)
	if !ok {
		t.Fatal("jetjobs worker did not exit within 30s of SIGTERM")
	}
	exitAfter := time.Since(at)
	if code != 0 {
		t.Errorf("jetjobs worker exited %d after SIGTERM, want 0:\n%s", code, tail(term.logPath, 10))
	}
	// Every job it started, it finished.
	_, open := e.progress()
	if len(open["cli0"]) != 0 {
		t.Errorf("jobs started by the stopped worker and not finished: %v", open["cli0"])
	}
	e.awaitEnqueued(enqueued)
	s := e.books.settle(t, 90*time.Second)
	var rerun int
	for _, r := range readRecords(t, e.recDir) {
		if r.event == "start" && r.attempt > 1 {
			rerun++
		}
	}
	if s.Duplicates != 0 || rerun != 0 {
		t.Errorf("graceful stop ran jobs again: %d duplicates, %d redeliveries", s.Duplicates, rerun)
	}
	noneDead(t, s)
	report(t, "worker-sigterm", s,
		fmt.Sprintf("SIGTERM to one of 2 `jetjobs worker --exec` processes (5 slots each, 300ms jobs) with %d jobs running", len(running)),
		fmt.Sprintf("it finished them and exited 0 after %s; %d redeliveries", ms(exitAfter), rerun))
}
