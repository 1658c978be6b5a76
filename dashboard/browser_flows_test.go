package dashboard_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// An operator follows a batch to its callback, reads a workflow's drawn
// graph, retries its dead task from the page and sees the tasks after it
// run; and cancels a workflow that is still running.
func TestBrowserBatchesAndWorkflows(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	var declined atomic.Bool
	declined.Store(true)
	var doneRuns atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "part", func(context.Context, *job.Job[struct{}]) error { return nil }))
		must(t, worker.Handle(p, "charge", func(context.Context, *job.Job[struct{}]) error {
			if declined.Load() {
				return job.Permanent(errors.New("card declined"))
			}
			return nil
		}))
		for _, kind := range []string{"ship", "email"} {
			must(t, worker.Handle(p, kind, func(context.Context, *job.Job[struct{}]) error { return nil }))
		}
		must(t, worker.Handle(p, "done", func(context.Context, *job.Job[struct{}]) error {
			doneRuns.Add(1)
			return nil
		}))
		must(t, worker.Handle(p, "slow", func(ctx context.Context, _ *job.Job[struct{}]) error {
			<-ctx.Done()
			return ctx.Err()
		}))
	})
	ctx0 := context.Background()
	parts := make([]job.Request, 5)
	for i := range parts {
		parts[i] = job.Request{Kind: "part"}
	}
	if _, err := e.client.EnqueueBatch(ctx0, job.Batch{ID: "import-7", OnSuccess: &job.Request{Kind: "part"}}, parts...); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		b, err := e.client.Batch(ctx0, "import-7")
		return err == nil && b.Done && b.SuccessFired
	}, "the batch did not finish")

	wf := job.NewWorkflow("order-42")
	charge := wf.Task("charge", "charge", nil, job.WithOptions(job.MaxAttempts(1)))
	ship := wf.Task("ship", "ship", nil, job.After(charge))
	email := wf.Task("email", "email", nil, job.After(charge))
	wf.Task("done", "done", nil, job.After(ship, email))
	must(t, e.client.StartWorkflow(ctx0, wf))
	eventually(t, func() bool {
		st, err := e.client.Workflow(ctx0, "order-42")
		return err == nil && st.Done()
	}, "the workflow did not end")

	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/flows")), chromedp.WaitVisible(css(`#batches tr[data-batch="import-7"]`)))
	for sel, want := range map[string]string{
		`tr[data-batch="import-7"] td.total`:     "5",
		`tr[data-batch="import-7"] td.succeeded`: "5",
		`tr[data-batch="import-7"] td.pending`:   "0",
	} {
		if got := text(t, ctx, sel); got != want {
			t.Fatalf("%s = %q, want %q", sel, got, want)
		}
	}
	do(t, ctx, chromedp.Click(css(`tr[data-batch="import-7"] a`)), chromedp.WaitVisible(css("#batch-state")))
	if got := text(t, ctx, "#batch-state"); got != "done" {
		t.Fatalf("batch state %q, want done", got)
	}
	screenshot(t, ctx, "batch")

	do(t, ctx, chromedp.Navigate(e.url("/flows")), chromedp.Click(css(`tr[data-workflow="order-42"] a`)), chromedp.WaitVisible(css("#dag")))
	if n := eval[int](t, ctx, `document.querySelectorAll('#dag g.node').length`); n != 4 {
		t.Fatalf("%d nodes drawn, want 4", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('#dag path.edge').length`); n != 4 {
		t.Fatalf("%d edges drawn, want 4", n)
	}
	if got := text(t, ctx, `#tasks tr[data-task="charge"] .badge`); got != "dead" {
		t.Fatalf("charge is %q, want dead", got)
	}
	if got := text(t, ctx, `#tasks tr[data-task="done"] .badge`); got != "canceled" {
		t.Fatalf("done is %q, want canceled", got)
	}
	declined.Store(false)
	do(t, ctx, chromedp.Click(css(`#tasks tr[data-task="charge"] button.retry`)))
	waitFlash(t, ctx, "Task charge enqueued again")
	eventually(t, func() bool {
		st, err := e.client.Workflow(ctx0, "order-42")
		if err != nil || !st.Done() {
			return false
		}
		for _, ts := range st.Tasks {
			if ts.Status != job.StatusSucceeded {
				return false
			}
		}
		return true
	}, "the tasks after the retried charge did not run")
	if doneRuns.Load() != 1 {
		t.Fatalf("done ran %d times, want 1", doneRuns.Load())
	}
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(css("#dag")))
	if n := eval[int](t, ctx, `document.querySelectorAll('#dag g.state-succeeded').length`); n != 4 {
		t.Fatalf("%d nodes drawn as succeeded after the retry, want 4", n)
	}
	screenshot(t, ctx, "workflow")

	slow := job.NewWorkflow("nightly")
	first := slow.Task("crunch", "slow", nil)
	slow.Task("report", "done", nil, job.After(first))
	must(t, e.client.StartWorkflow(ctx0, slow))
	do(t, ctx, chromedp.Navigate(e.url("/workflows/nightly")), chromedp.WaitVisible(css("#cancel-workflow button")))
	do(t, ctx, chromedp.Click(css("#cancel-workflow button")))
	waitFlash(t, ctx, "Canceled workflow nightly")
	eventually(t, func() bool {
		st, err := e.client.Workflow(ctx0, "nightly")
		if err != nil {
			return false
		}
		r, _ := st.Task("report")
		c, _ := st.Task("crunch")
		return r.Status == job.StatusCanceled && c.Status == job.StatusCanceled
	}, "the workflow's tasks were not canceled")
	if doneRuns.Load() != 1 {
		t.Fatal("a task of the canceled workflow ran")
	}
}

// A fan-out of 1,000 is drawn as a dozen nodes and one standing for the
// rest, with an edge into and out of each, and the page stays small.
func TestWorkflowGraphSummarisesWideColumns(t *testing.T) {
	e := newEnv(t, dashboard.Config{ReadOnly: true})
	wf := job.NewWorkflow("import-9")
	root := wf.Task("split", "split", nil)
	var chunks []*job.Task
	for i := range 1000 {
		chunks = append(chunks, wf.Task("chunk-"+itoa(uint64(i)), "chunk", nil, job.After(root)))
	}
	wf.Task("summary", "summary", nil, job.After(chunks...))
	must(t, e.client.StartWorkflow(context.Background(), wf))
	status, body := e.get("/workflows/import-9")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if n := strings.Count(body, `<g class="node`); n != 14 {
		t.Fatalf("%d nodes drawn, want 14 (split, 11 chunks, one for the other 989, summary)", n)
	}
	if !strings.Contains(body, "989 more tasks") {
		t.Fatal("no node stands for the 989 chunks not drawn")
	}
	if n := strings.Count(body, `class="edge"`); n != 24 {
		t.Fatalf("%d edges drawn, want 24 (split to each of the 12 chunk nodes, and each to summary)", n)
	}
	if strings.Contains(body, `id="cancel-workflow"`) || strings.Contains(body, `class="retry"`) {
		t.Fatal("read-only mode shows an action")
	}
	if status, _ := e.get("/workflows/no-such"); status != 200 {
		t.Fatalf("unknown workflow: status %d", status)
	}
	if _, body := e.get("/workflows/no-such"); !strings.Contains(body, `id="not-found"`) {
		t.Fatal("an unknown workflow is not said to be unknown")
	}
	for q, want := range map[string]string{
		"?what=workflow&id=import-9": prefix + "/workflows/import-9",
		"?what=batch&id=b%2F1":       prefix + "/batches/b%2F1",
		"?what=batch&id=":            prefix + "/flows",
	} {
		resp, err := e.http.Get(e.url("/flows/open" + q))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Location"); got != want {
			t.Fatalf("open %s: to %q, want %q", q, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
