package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// job show finds a job wherever it is: pending in a queue no worker
// serves, running, delayed, dead; and says so when it is nowhere.
func TestJobShowFindsAJobWhereverItIs(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	out := t.TempDir()
	startWorker(t, url, []string{"OUT=" + out}, "--exec", `slow=touch "$OUT/started"; sleep 60`, "--exec", `bad=exit 65`)
	ok(t, "enqueue", "-s", url, "--queue", "idle", "--id", "p-1", "-H", "Tenant=acme", "report.build", `{"month":"2026-11"}`)
	ok(t, "enqueue", "-s", url, "--id", "d-1", "--in", "1h", "report.build", `{"month":"2026-12"}`)
	ok(t, "enqueue", "-s", url, "--id", "r-1", "slow")
	ok(t, "enqueue", "-s", url, "--id", "x-1", "bad")
	eventually(t, func() bool { _, err := os.Stat(filepath.Join(out, "started")); return err == nil }, "r-1 to start")
	eventually(t, func() bool { return len(deadLetters(t, url)) == 1 }, "x-1 to be dead-lettered")

	for _, c := range []struct {
		id    string
		state string
		want  []string
	}{
		{"p-1", "pending", []string{"State:     pending", "Queue:     idle", "Kind:      report.build", "Tenant: acme", `"month": "2026-11"`}},
		{"d-1", "delayed", []string{"State:     delayed until ", "Queue:     default", "Kind:      report.build", `"month": "2026-12"`}},
		{"r-1", "running", []string{"State:     running", "Kind:      slow"}},
		{"x-1", "dead", []string{"State:     dead", "Reason:    failed", "exit status 65"}},
	} {
		got := ok(t, "job", "show", "-s", url, c.id)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("job show %s lacks %q:\n%s", c.id, w, got)
			}
		}
		var js []foundJSON
		if err := json.Unmarshal([]byte(ok(t, "job", "show", "-s", url, "--json", c.id)), &js); err != nil {
			t.Fatal(err)
		}
		if len(js) != 1 || js[0].State != c.state || js[0].ID != c.id {
			t.Errorf("job show --json %s = %+v, want one place, state %s", c.id, js, c.state)
		}
	}
	r := jetjobs(t, "", "job", "show", "-s", url, "gone-1")
	if r.Code != exitError || !strings.Contains(r.Stderr, "no job with ID gone-1 is pending, running, snoozed, delayed or dead") {
		t.Errorf("job show of an unknown ID: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// The reads took nothing: the pending job is still pending.
	if q := queueFigures(t, url)["idle"]; q.Pending != 1 {
		t.Errorf("queue idle = %+v, want its job still pending", q)
	}
}

// cancel of an ID that names no job says so, and that the cancel is
// remembered.
func TestCancelSaysWhenNoJobHasTheID(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "--queue", "idle", "--id", "real-1", "k")
	got := ok(t, "cancel", "-s", url, "never-existed-99", "real-1")
	want := "never-existed-99: canceled, but no job with this ID is waiting or running; the cancel is remembered for 24h0m, so a job enqueued with this ID in that time is canceled too\nreal-1: canceled\n"
	if got != want {
		t.Errorf("cancel printed\n%s\nwant\n%s", got, want)
	}
}

// dlq show prints a payload that is not JSON as its lines of text, with
// unprintable characters escaped, not as one quoted string.
func TestDLQShowPayloadThatIsNotJSON(t *testing.T) {
	srv := natstest.Start(t)
	startWorker(t, srv.URL(), nil, "--exec", "k=true")
	nc, _ := srv.Connect(t)
	msg := nats.NewMsg("jobs.default.k")
	msg.Header.Set("Jetjobs-Id", "text-1")
	msg.Data = []byte("line one\nline \x1b[31mtwo\n")
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return len(deadLetters(t, srv.URL())) == 1 }, "the job to be dead-lettered (decode)")
	got := ok(t, "dlq", "show", "-s", srv.URL(), "text-1")
	if want := "Payload (not JSON, as text):\n  line one\n  line \\x1b[31mtwo\n"; !strings.HasSuffix(got, want) {
		t.Errorf("dlq show ends\n%s\nwant it to end\n%s", got, want)
	}
}
