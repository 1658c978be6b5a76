package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// enqueue --wait, status and wait against an exec worker whose commands'
// stdout is the result of jobs that keep it.
func TestEnqueueWaitStatusAndExecResults(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	startWorker(t, url, nil, "--max-attempts", "1",
		"--exec", `report=echo "0.5 half way" >&$JETJOBS_PROGRESS_FD; printf '{"rows": 3}'`,
		"--exec", `text=echo hello`,
		"--exec", `fail=echo "the input is bad" >&2; exit 3`,
		"--exec", `big=head -c 70000 /dev/zero | tr '\0' x`,
	)

	if out := ok(t, "enqueue", "-s", url, "--id", "r-1", "--wait", "report"); compact([]byte(out)) != `{"rows":3}` {
		t.Fatalf("enqueue --wait printed %q, want the command's JSON output", out)
	}
	if out := ok(t, "enqueue", "-s", url, "--wait", "--wait-timeout", "30s", "text"); out != "\"hello\"\n" {
		t.Fatalf("enqueue --wait of a text output printed %q, want a JSON string", out)
	}
	r := jetjobs(t, "", "enqueue", "-s", url, "--id", "f-1", "--wait", "fail")
	if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "f-1 dead (reason failed)") || !strings.Contains(r.Stderr, "the input is bad") {
		t.Fatalf("enqueue --wait of a failing job: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	r = jetjobs(t, "", "enqueue", "-s", url, "--wait", "big")
	if r.Code != 1 || !strings.Contains(r.Stderr, "result too large") {
		t.Fatalf("enqueue --wait of a too large output: exit %d, stderr %q", r.Code, r.Stderr)
	}

	// A job that keeps its result, awaited later by ID.
	id := strings.TrimSpace(ok(t, "enqueue", "-s", url, "--keep-result", "1h", "text"))
	if out := ok(t, "wait", "-s", url, id, "r-1"); out != "\"hello\"\n{\"rows\":3}\n" {
		t.Fatalf("wait printed %q", out)
	}
	var states []job.State
	if err := json.Unmarshal([]byte(ok(t, "status", "-s", url, "--json", "r-1", "f-1")), &states); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Status != job.StatusSucceeded || states[1].Status != job.StatusDead || states[1].Reason != job.ReasonFailed {
		t.Fatalf("status --json = %+v", states)
	}
	if out := ok(t, "status", "-s", url, "r-1"); !strings.Contains(out, "succeeded") || !strings.Contains(out, `{"rows":3}`) {
		t.Fatalf("status printed %q", out)
	}
	r = jetjobs(t, "", "status", "-s", url, "no-such-job")
	if r.Code != 1 || !strings.Contains(r.Stderr, "no state kept") {
		t.Fatalf("status of an unknown job: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = jetjobs(t, "", "wait", "-s", url, "--timeout", "200ms", "no-such-job")
	if r.Code != 1 || !strings.Contains(r.Stderr, "gave up waiting") {
		t.Fatalf("wait for an unknown job: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = jetjobs(t, "", "enqueue", "-s", url, "--wait", "--count", "2", "text")
	if r.Code != 2 {
		t.Fatalf("--wait with --count: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
