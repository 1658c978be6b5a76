package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/job"
)

// A worker is SIGKILLed at each point of the step that settles a workflow
// task whose dependents become ready, and of the step that settles a
// batch's last job: before the step, half-way (counted, dependents or
// callbacks not enqueued), and after it (before the acknowledgement).
// Another worker takes the job over after AckWait. Every task and callback
// runs, none twice by the framework's doing: the killed job's own handler
// runs again when the worker died before the step was recorded (counted
// and reported), never after; nothing is left waiting.
func TestFaultWorkflowAndBatchSIGKILLAtEachStep(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "flow SIGKILL", srv.url(), job.Topology{})
	opts := []string{"-skip-topology", "-ack-wait", "1s", "-concurrency", "1"}
	var lines []string
	for _, point := range []string{faultpoint.BeforeFlow, faultpoint.MidFlow, faultpoint.AfterFlow} {
		for _, kind := range []string{"workflow", "batch"} {
			name := fmt.Sprintf("%s-%s", kind, point)
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				var victim string // the job whose settling is interrupted
				var all []string  // every job the flow must run once
				switch kind {
				case "workflow":
					wf := job.NewWorkflow(name)
					a := wf.Task("a", "flow.step", nil)
					b := wf.Task("b", "flow.step", nil, job.After(a))
					c := wf.Task("c", "flow.step", nil, job.After(a))
					wf.Task("d", "flow.step", nil, job.After(b, c))
					victim = "wf:" + name + ":a"
					for _, task := range []string{"a", "b", "c", "d"} {
						all = append(all, "wf:"+name+":"+task)
					}
					w := startWorker(t, e.recDir, name+"-1", e.servers, append(opts, "-crash-at", point+":"+victim))
					if err := e.client.StartWorkflow(ctx, wf); err != nil {
						t.Fatal(err)
					}
					waitExit(t, w)
				case "batch":
					var reqs []job.Request
					for i := range 3 {
						id := fmt.Sprintf("%s-j%d", name, i)
						reqs = append(reqs, job.Request{Kind: "flow.step", Options: []job.Option{job.ID(id)}})
						all = append(all, id)
					}
					// One runner: the last job enqueued is the batch's last to end.
					victim = all[2]
					w := startWorker(t, e.recDir, name+"-1", e.servers, append(opts, "-crash-at", point+":"+victim))
					if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: name,
						OnSuccess: &job.Request{Kind: "flow.step"}, OnComplete: &job.Request{Kind: "flow.step"}}, reqs...); err != nil {
						t.Fatal(err)
					}
					all = append(all, "batch:"+name+":success", "batch:"+name+":complete")
					waitExit(t, w)
				}
				// Started by the subtest: it ends with it, and takes no job
				// of the next scenario.
				startWorker(t, e.recDir, name+"-2", e.servers, opts)
				waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool {
					runs := doneCounts(readRecords(t, e.recDir))
					for _, id := range all {
						if runs[id] == 0 {
							return false
						}
					}
					return e.books.streamEmpty(ctx)
				}, "every job of %s ran and nothing waits", name)

				runs := doneCounts(readRecords(t, e.recDir))
				for _, id := range all {
					want := 1
					if id == victim && point != faultpoint.AfterFlow {
						// The worker died before the step was recorded: the
						// redelivery runs the handler again.
						want = 2
					}
					if runs[id] != want {
						t.Errorf("%s ran %d times, want %d", id, runs[id], want)
					}
				}
				switch kind {
				case "workflow":
					st, err := e.client.Workflow(ctx, name)
					if err != nil {
						t.Fatal(err)
					}
					for _, ts := range st.Tasks {
						if ts.Status != job.StatusSucceeded {
							t.Errorf("task %s is %s", ts.Name, ts.Status)
						}
					}
				case "batch":
					st, err := e.client.Batch(ctx, name)
					if err != nil || st.Succeeded != 3 || !st.SuccessFired || !st.CompleteFired {
						t.Errorf("batch %+v, %v", st, err)
					}
				}
				lines = append(lines, fmt.Sprintf("%s: killed job ran %d time(s)", name, runs[victim]))
			})
		}
	}
	t.Logf("flow SIGKILL scenarios (AckWait 1s):\n  %s", strings.Join(lines, "\n  "))
}

// waitExit waits until the worker killed itself at its crash point.
func waitExit(t *testing.T, w *workerProc) {
	t.Helper()
	code, ok := w.wait(30 * time.Second)
	if !ok {
		t.Fatalf("worker %s did not reach its crash point", w.name)
	}
	if code != -1 {
		t.Fatalf("worker %s exited with %d, want killed by SIGKILL:\n%s", w.name, code, tail(w.logPath, 20))
	}
}

// Three worker processes finish a batch's 300 jobs, 60 at a time, while
// one of them is SIGKILLed twice mid-batch: the batch's callbacks run once
// each, every job ends, and the jobs the killed workers were running run
// again elsewhere (counted).
func TestFaultBatchSIGKILLMidBatch(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{})
	srv.start()
	e := newFaultEnv(t, "batch SIGKILL", srv.url(), job.Topology{})
	opts := []string{"-skip-topology", "-ack-wait", "1s", "-concurrency", "20"}
	ws := []*workerProc{e.worker("w0", opts...), e.worker("w1", opts...), e.worker("w2", opts...)}
	const n = 300
	reqs := workRequests("bk", n, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "bk",
		OnSuccess: &job.Request{Kind: "flow.step"}, OnComplete: &job.Request{Kind: "flow.step"}}, reqs...); err != nil {
		t.Fatal(err)
	}
	interrupted := 0
	for k := range 2 {
		waitFor(t, 30*time.Second, 5*time.Millisecond, func() bool {
			done, open := e.progress()
			return done > (k+1)*n/3 && len(open[ws[0].name]) > 0
		}, "w0 mid-batch")
		_, open := e.progress()
		interrupted += len(open[ws[0].name])
		ws[0].kill()
		ws[0] = e.worker(fmt.Sprintf("w0-%d", k+1), opts...)
	}
	callbacks := []string{"batch:bk:success", "batch:bk:complete"}
	waitFor(t, 60*time.Second, 20*time.Millisecond, func() bool {
		runs := doneCounts(readRecords(t, e.recDir))
		return runs[callbacks[0]] > 0 && runs[callbacks[1]] > 0 && e.books.streamEmpty(ctx)
	}, "the batch's callbacks ran and nothing waits")
	runs := doneCounts(readRecords(t, e.recDir))
	again := 0
	for i := range n {
		id := fmt.Sprintf("bk-%d", i)
		switch {
		case runs[id] == 0:
			t.Errorf("%s never finished", id)
		case runs[id] > 1:
			again += runs[id] - 1
		}
	}
	for _, id := range callbacks {
		if runs[id] != 1 {
			t.Errorf("%s ran %d times, want 1", id, runs[id])
		}
	}
	st, err := e.client.Batch(ctx, "bk")
	if err != nil || st.Succeeded != n || !st.Done {
		t.Fatalf("batch %+v, %v", st, err)
	}
	t.Logf("batch of %d jobs, 2 SIGKILLs of 1 of 3 workers: %d jobs running in the killed workers ran again elsewhere, %d jobs finished twice (killed between the handler's return and the acknowledgement); callbacks ran once each", n, interrupted, again)
}
