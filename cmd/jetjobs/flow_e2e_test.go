package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// batch ls|show and workflow show|retry against batches and workflows an
// exec worker runs.
func TestBatchAndWorkflowCommands(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	dir := t.TempDir()
	startWorker(t, url, nil, "--max-attempts", "1",
		"--exec", `step=printf '"ok"'`,
		"--exec", `flaky=test -e `+dir+`/fixed || { echo "not yet" >&2; exit 3; }; printf '"fixed"'`,
	)
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, err = c.EnqueueBatch(ctx, job.Batch{ID: "b1", OnComplete: &job.Request{Kind: "step"}},
		job.Request{Kind: "step"}, job.Request{Kind: "step"}, job.Request{Kind: "flaky"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		b, err := c.Batch(ctx, "b1")
		return err == nil && b.Done && b.CompleteFired
	}, "batch b1 done")
	var list []job.BatchStatus
	if err := json.Unmarshal([]byte(ok(t, "batch", "ls", "-s", url, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "b1" || list[0].Total != 3 || list[0].Succeeded != 2 || list[0].Dead != 1 {
		t.Fatalf("batch ls --json = %+v", list)
	}
	if out := ok(t, "batch", "ls", "-s", url); !strings.Contains(out, "b1") || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("batch ls printed %q", out)
	}
	out := ok(t, "batch", "show", "-s", url, "b1")
	for _, want := range []string{"State:      done", "Succeeded:  2", "Dead:       1", "On complete: batch:b1:complete (enqueued)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("batch show printed %q, want %q in it", out, want)
		}
	}
	if r := jetjobs(t, "", "batch", "show", "-s", url, "nope"); r.Code != 1 || !strings.Contains(r.Stderr, "batch not found") {
		t.Fatalf("batch show of an unknown batch: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A newer batch: --limit 1 lists it alone and says one was left off.
	if _, err := c.EnqueueBatch(ctx, job.Batch{ID: "b2"}, job.Request{Kind: "step"}); err != nil {
		t.Fatal(err)
	}
	if r := jetjobs(t, "", "batch", "ls", "-s", url, "--limit", "1"); r.Code != 0 || !strings.Contains(r.Stdout, "b2") || strings.Contains(r.Stdout, "b1") || !strings.Contains(r.Stderr, "1 older batches not shown") {
		t.Fatalf("batch ls --limit 1: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := jetjobs(t, "", "batch", "ls", "-s", url, "--limit", "-1"); r.Code != 2 || !strings.Contains(r.Stderr, "--limit -1") {
		t.Fatalf("batch ls --limit -1: exit %d, stderr %q", r.Code, r.Stderr)
	}

	wf := job.NewWorkflow("w1")
	a := wf.Task("a", "step", nil)
	b := wf.Task("b", "flaky", nil, job.After(a))
	wf.Task("c", "step", nil, job.After(b))
	if err := c.StartWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	var wfs []job.WorkflowSummary
	if err := json.Unmarshal([]byte(ok(t, "workflow", "ls", "-s", url, "--json")), &wfs); err != nil {
		t.Fatal(err)
	}
	if len(wfs) != 1 || wfs[0].ID != "w1" || wfs[0].Tasks != 3 {
		t.Fatalf("workflow ls --json = %+v", wfs)
	}
	if out := ok(t, "workflow", "ls", "-s", url); !strings.Contains(out, "w1") || !strings.Contains(out, "TASKS") {
		t.Fatalf("workflow ls printed %q", out)
	}
	var st job.WorkflowStatus
	eventually(t, func() bool {
		if err := json.Unmarshal([]byte(ok(t, "workflow", "show", "-s", url, "--json", "w1")), &st); err != nil {
			t.Fatal(err)
		}
		return st.Done()
	}, "workflow w1 ended")
	want := map[string]job.Status{"a": job.StatusSucceeded, "b": job.StatusDead, "c": job.StatusCanceled}
	for _, ts := range st.Tasks {
		if ts.Status != want[ts.Name] {
			t.Fatalf("task %s is %s, want %s (%+v)", ts.Name, ts.Status, want[ts.Name], st)
		}
	}
	out = ok(t, "workflow", "show", "-s", url, "w1")
	for _, want := range []string{"3 tasks", `"ok"`, "not yet", "canceled: b did not succeed"} {
		if !strings.Contains(out, want) {
			t.Fatalf("workflow show printed %q, want %q in it", out, want)
		}
	}

	// Fix what b needs and retry it: c runs.
	if err := os.WriteFile(filepath.Join(dir, "fixed"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := ok(t, "workflow", "retry", "-s", url, "w1", "b"); !strings.Contains(out, "retrying task b of workflow w1") {
		t.Fatalf("workflow retry printed %q", out)
	}
	eventually(t, func() bool {
		if err := json.Unmarshal([]byte(ok(t, "workflow", "show", "-s", url, "--json", "w1")), &st); err != nil {
			t.Fatal(err)
		}
		c, _ := st.Task("c")
		return c.Status == job.StatusSucceeded
	}, "c ran after b was retried")
	if r := jetjobs(t, "", "workflow", "retry", "-s", url, "w1", "a"); r.Code != 1 || !strings.Contains(r.Stderr, "only a task that ended dead") {
		t.Fatalf("retry of a task that succeeded: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
