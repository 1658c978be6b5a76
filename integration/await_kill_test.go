package integration

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// A waiter is told the outcome of a job whose worker process is SIGKILLed
// mid-job: the job's kept state says running, the server redelivers the
// job after AckWait to another worker, and Await returns that attempt's
// result.
func TestFaultAwaitAcrossWorkerSIGKILL(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	_, js := connect(t, srv.url())
	c, err := job.NewClient(js, job.ClientConfig{})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	must(t, c.EnsureTopology(ctx))

	dir := t.TempDir()
	common := []string{"worker", "-s", srv.url(), "--log-format", "json", "--ack-wait", "1s"}
	doomed := startProc(t, "doomed worker", filepath.Join(dir, "doomed.log"), nil, bin.jetjobs, append(common, "--exec", "work=sleep 30")...)
	waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool { return doomed.logContains("worker pool started") }, "the first worker started")

	r, err := c.Enqueue(ctx, "work", nil, job.KeepResult(time.Hour))
	must(t, err)
	waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool {
		st, err := c.Status(ctx, r.ID)
		return err == nil && st.Status == job.StatusRunning
	}, "job %s running in the first worker", r.ID)
	doomed.signal(syscall.SIGKILL)
	if _, ok := doomed.wait(10 * time.Second); !ok {
		t.Fatal("the SIGKILLed worker did not exit")
	}

	second := startProc(t, "second worker", filepath.Join(dir, "second.log"), nil, bin.jetjobs, append(common, "--exec", `work=echo '"second"'`)...)
	defer second.kill()
	st, err := c.Await(ctx, r.ID)
	if err != nil || st.Status != job.StatusSucceeded || string(st.Result) != `"second"` || st.Attempt != 2 {
		t.Fatalf("Await across a SIGKILLed worker = %+v, %v; want succeeded with result \"second\" on attempt 2\n%s", st, err, tail(second.logPath, 10))
	}
}
