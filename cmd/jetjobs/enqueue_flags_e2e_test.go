package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// --unique derives the ID from the content: the same job enqueued twice is
// stored once, both enqueues print its ID and exit 0; other arguments are
// another job.
func TestEnqueueUniqueStoresOneJobPerContent(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	first := strings.TrimSpace(ok(t, "enqueue", "-s", url, "--unique", "report.build", `{"month":"2026-11"}`))
	again := jetjobs(t, "", "enqueue", "-s", url, "--unique", "report.build", `{"month":"2026-11"}`)
	if again.Code != 0 || strings.TrimSpace(again.Stdout) != first {
		t.Fatalf("second --unique enqueue: exit %d, stdout %q, stderr %q; want exit 0 and the first ID %s", again.Code, again.Stdout, again.Stderr, first)
	}
	if want := job.UniqueID(job.DefaultQueue, "report.build", []byte(`{"month":"2026-11"}`)); first != want {
		t.Errorf("--unique ID = %s, want job.UniqueID's %s", first, want)
	}
	if q := queueFigures(t, url)["default"]; q.Pending != 1 {
		t.Errorf("after two --unique enqueues of one content, queue default = %+v, want 1 pending", q)
	}
	other := strings.TrimSpace(ok(t, "enqueue", "-s", url, "--unique", "report.build", `{"month":"2026-12"}`))
	if other == first {
		t.Errorf("other arguments got the same --unique ID %s", other)
	}
	if q := queueFigures(t, url)["default"]; q.Pending != 2 {
		t.Errorf("after a --unique enqueue of other arguments, queue default = %+v, want 2 pending", q)
	}
}

// --deadline takes an RFC 3339 time or a duration from now; a job whose
// deadline has passed is stored (with a warning) and a worker dead-letters
// it as expired without running it.
func TestEnqueueDeadline(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "--id", "in-1h", "--deadline", "1h", "later")
	ok(t, "enqueue", "-s", url, "--id", "at", "--deadline", "2030-01-02T03:04:05+01:00", "later")
	_, js := srv.Connect(t)
	stream, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	// The two jobs are the stream's first and second.
	first := stream.CachedInfo().State.FirstSeq
	for seq, want := range []struct {
		id string
		at time.Time
	}{{"in-1h", time.Now().Add(time.Hour)}, {"at", time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)}} {
		m, err := stream.GetMsg(context.Background(), first+uint64(seq))
		if err != nil {
			t.Fatal(err)
		}
		got, err := time.Parse(time.RFC3339Nano, m.Header.Get(job.HeaderDeadline))
		if err != nil || m.Header.Get(job.HeaderID) != want.id || got.Sub(want.at).Abs() > time.Minute {
			t.Errorf("job %s: %s %q, want job %s with about %s", m.Header.Get(job.HeaderID), job.HeaderDeadline, m.Header.Get(job.HeaderDeadline), want.id, want.at)
		}
	}

	out := t.TempDir()
	r := jetjobs(t, "", "enqueue", "-s", url, "--id", "late-1", "--deadline", "2020-01-01T00:00:00Z", "late")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "late-1" || !strings.Contains(r.Stderr, "has passed") {
		t.Errorf("enqueue with a past --deadline: exit %d, stdout %q, stderr %q; want the ID and a warning", r.Code, r.Stdout, r.Stderr)
	}
	startWorker(t, url, []string{"OUT=" + out}, "--exec", `late=touch "$OUT/ran"`)
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, url); return len(dls) == 1 }, "late-1 to be dead-lettered")
	if dls[0].ID != "late-1" || dls[0].Reason != string(job.ReasonExpired) {
		t.Errorf("dead letter = %+v, want late-1 expired", dls[0])
	}
	if _, err := os.Stat(filepath.Join(out, "ran")); err == nil {
		t.Error("the expired job ran")
	}
}

// Bad input to enqueue and cron add is a usage error (exit 2) that says
// what to change, found before connecting: no server answers here.
func TestEnqueueAndCronAddRefuseBadInputBeforeConnecting(t *testing.T) {
	unreachable := unusedURL(t)
	conn := []string{"-s", unreachable, "--connect-timeout", "200ms"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"enqueue reserved Jetjobs- header", []string{"enqueue", "-H", "Jetjobs-Reason=x", "k"}, `--header "Jetjobs-Reason=x"`},
		{"enqueue reserved Nats- header", []string{"enqueue", "-H", "nats-msg-id=1", "k"}, "not starting with Nats- or Jetjobs-"},
		{"enqueue padded header value", []string{"enqueue", "-H", "Tenant= acme", "k"}, "without line breaks or surrounding spaces"},
		{"enqueue bad --id", []string{"enqueue", "--id", " a", "k"}, "--id: "},
		{"enqueue --unique with --id", []string{"enqueue", "--unique", "--id", "a", "k"}, "it cannot go with --id a"},
		{"enqueue --unique with --count", []string{"enqueue", "--unique", "--count", "3", "k"}, "--unique stores one job for one content; it cannot go with --count 3"},
		{"enqueue --deadline not a time", []string{"enqueue", "--deadline", "tomorrow", "k"}, `--deadline "tomorrow": use an RFC 3339 time`},
		{"enqueue --deadline negative", []string{"enqueue", "--deadline", "-5m", "k"}, "--deadline -5m: use a positive duration"},
		{"enqueue --deadline before --in", []string{"enqueue", "--in", "1h", "--deadline", "30m", "k"}, "--deadline 30m is not after the job's time (--in 1h0m0s)"},
		{"cron add five fields", []string{"cron", "add", "x", "30 2 * * *", "k"}, `write "0 30 2 * * *"`},
		{"cron add unknown preset", []string{"cron", "add", "x", "@fortnightly", "k"}, "unknown preset"},
		{"cron add short @every", []string{"cron", "add", "x", "@every 10ms", "k"}, "at least 1s"},
		{"cron add reserved header", []string{"cron", "add", "-H", "Jetjobs-Schedule=y", "x", "@daily", "k"}, `--header "Jetjobs-Schedule=y"`},
		{"cron add unknown --tz", []string{"cron", "add", "--tz", "Nowhere/Town", "x", "@daily", "k"}, `--tz "Nowhere/Town": use an IANA time zone`},
		{"cron add --tz with @every", []string{"cron", "add", "--tz", "Europe/Berlin", "x", "@every 1h", "k"}, "leave --tz out"},
		{"cron add bad name", []string{"cron", "add", "x.y", "@daily", "k"}, `schedule name "x.y"`},
		{"cron add bad kind", []string{"cron", "add", "x", "@daily", "k..k"}, `kind "k..k"`},
		{"cron add bad queue", []string{"cron", "add", "-q", "_sys", "x", "@daily", "k"}, "--queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{}, c.args[:len(c.args)-1]...), conn...)
			args = append(args, c.args[len(c.args)-1])
			if c.args[0] == "cron" {
				// cron add NAME SPEC KIND: the flags go before the three.
				args = append(append(append([]string{}, c.args[:2]...), conn...), c.args[2:]...)
			}
			r := jetjobs(t, "", args...)
			lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
			if r.Code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], c.want) || strings.Contains(r.Stderr, "connect") {
				t.Errorf("jetjobs %s: exit %d, stderr %q; want exit %d and one line containing %q, before connecting", strings.Join(args, " "), r.Code, r.Stderr, exitUsage, c.want)
			}
		})
	}
}
