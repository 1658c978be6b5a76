package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// The HTTP worker stores a kept job's response body as its result.
func TestHTTPWorkerResult(t *testing.T) {
	srv := natstest.Start(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			_, _ = io.WriteString(w, `{"echo": true}`)
		case "/text":
			_, _ = io.WriteString(w, "plain words")
		}
	}))
	t.Cleanup(hook.Close)
	startWorker(t, srv.URL(), nil, "--http", "hook.json="+hook.URL+"/json", "--http", "hook.text="+hook.URL+"/text")
	if out := ok(t, "enqueue", "-s", srv.URL(), "--wait", "hook.json", `{}`); out != "{\"echo\":true}\n" {
		t.Fatalf("enqueue --wait of an HTTP job printed %q", out)
	}
	if out := ok(t, "enqueue", "-s", srv.URL(), "--wait", "hook.text"); out != "\"plain words\"\n" {
		t.Fatalf("enqueue --wait of an HTTP job with a text body printed %q", out)
	}
}

// An exec command reports progress on $JETJOBS_PROGRESS_FD; status shows it.
func TestExecProgress(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	startWorker(t, srv.URL(), []string{"OUT=" + out},
		"--exec", `slow=echo "0.5 half way" >&$JETJOBS_PROGRESS_FD; while [ ! -e "$OUT/go" ]; do sleep 0.05; done; echo done`)
	id := strings.TrimSpace(ok(t, "enqueue", "-s", srv.URL(), "--keep-result", "1m", "slow"))
	eventually(t, func() bool {
		var states []job.State
		if json.Unmarshal([]byte(ok(t, "status", "-s", srv.URL(), "--json", id)), &states) != nil || len(states) != 1 {
			return false
		}
		p := states[0].Progress
		return states[0].Status == job.StatusRunning && p != nil && p.Fraction == 0.5 && p.Message == "half way"
	}, "status shows the command's progress")
	if err := os.WriteFile(filepath.Join(out, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ok(t, "wait", "-s", srv.URL(), id); got != "\"done\"\n" {
		t.Fatalf("wait printed %q", got)
	}
}

// status is the one command that finds a job wherever it is: a job that
// keeps no state is found in the streams (waiting, delayed) and a dead one
// in the dead letters, with the same JSON shape as a kept state.
func TestStatusFindsJobsThatKeepNoState(t *testing.T) {
	url := natstest.Start(t).URL()
	ok(t, "enqueue", "-s", url, "--id", "plain-1", "report.build", "{}")
	ok(t, "enqueue", "-s", url, "--id", "later-1", "--in", "1h", "report.build", "{}")
	var states []job.State
	if err := json.Unmarshal([]byte(ok(t, "status", "-s", url, "--json", "plain-1", "later-1")), &states); err != nil {
		t.Fatal(err)
	}
	if len(states) != 2 || states[0].Status != job.StatusWaiting || states[0].Kind != "report.build" ||
		states[1].Status != job.StatusScheduled || states[1].RunAt.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("states = %+v; want plain-1 waiting and later-1 scheduled in an hour", states)
	}
	if out := ok(t, "status", "-s", url, "plain-1"); !strings.Contains(out, "waiting") {
		t.Fatalf("status printed %q", out)
	}
}
