package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestCronCommands(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()

	// The first add on a fresh server creates the streams.
	if got := ok(t, "cron", "add", "-s", url, "nightly", "0 30 2 * * *", "--tz", "Europe/Berlin", "--queue", "reports",
		"--max-attempts", "3", "report.build", `{"scope":"all"}`); !strings.Contains(got, `nightly: "0 30 2 * * *" in Europe/Berlin, kind report.build on queue reports`) {
		t.Errorf("cron add printed %q", got)
	}
	if got := ok(t, "cron", "add", "-s", url, "nightly", "0 30 2 * * *", "--tz", "Europe/Berlin", "--queue", "reports",
		"--max-attempts", "3", "report.build", `{"scope":"all"}`); got != "nightly: unchanged\n" {
		t.Errorf("cron add of the same schedule printed %q", got)
	}
	ok(t, "cron", "add", "-s", url, "-H", "Tenant=acme", "cleanup", "@every 1h", "tmp.cleanup")

	table := ok(t, "cron", "ls", "-s", url)
	for _, want := range []string{"NAME", "cleanup", "@every 1h", "nightly", "0 30 2 * * *", "Europe/Berlin", "reports", `{"scope":"all"}`} {
		if !strings.Contains(table, want) {
			t.Errorf("cron ls lacks %q:\n%s", want, table)
		}
	}
	var list []scheduleJSON
	if err := json.Unmarshal([]byte(ok(t, "cron", "ls", "-s", url, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1].Name != "nightly" || list[1].MaxAttempts != 3 || compact(list[1].Args) != `{"scope":"all"}` || list[0].Queue != job.DefaultQueue {
		t.Errorf("cron ls --json = %+v", list)
	}
	// Options given with -H are listed, and each schedule's next run.
	if len(list) == 2 && (len(list[0].Header) != 1 || list[0].Header["Tenant"][0] != "acme" || list[1].Header != nil) {
		t.Errorf("cron ls --json headers: %v and %v, want Tenant=acme for cleanup alone", list[0].Header, list[1].Header)
	}
	for _, s := range list {
		if s.NextRun == nil || time.Until(*s.NextRun) <= 0 || time.Until(*s.NextRun) > 24*time.Hour {
			t.Errorf("schedule %s: next run %v, want one within a day", s.Name, s.NextRun)
		}
	}
	if len(list) == 2 && list[0].NextRun != nil {
		if want := list[0].DeclaredAt.Round(time.Second).Add(time.Hour); !list[0].NextRun.Equal(want) {
			t.Errorf("@every 1h next run %s, want an hour after its declaration, %s", list[0].NextRun, want)
		}
	}
	if !strings.Contains(table, "NEXT RUN") || !regexp.MustCompile(`cleanup .* in (59m\d+s|1h0m)`).MatchString(table) {
		t.Errorf("cron ls table lacks the next run:\n%s", table)
	}

	if got := ok(t, "cron", "rm", "-s", url, "cleanup"); got != "cleanup: removed\n" {
		t.Errorf("cron rm printed %q", got)
	}
	if r := jetjobs(t, "", "cron", "rm", "-s", url, "cleanup"); r.Code != exitError || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("cron rm of a removed schedule: exit %d, stderr %q", r.Code, r.Stderr)
	}
	for _, bad := range [][]string{
		{"x", "30 2 * * *", "k"},     // five fields
		{"x", "@every 1h", "k", "{"}, // bad JSON
		{"x", "@daily", "k", "--tz", "Nowhere/Town"},
		{"x.y", "@daily", "k"},
		{"x", "@daily"},
	} {
		r := jetjobs(t, "", append([]string{"cron", "add", "-s", url}, bad...)...)
		if r.Code != exitUsage || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("cron add %q: exit %d, stderr %q; want exit 2 and one line", bad, r.Code, r.Stderr)
		}
	}
	if r := jetjobs(t, "", "cron", "add", "-s", url, "x", "30 2 * * *", "k"); !strings.Contains(r.Stderr, `write "0 30 2 * * *"`) {
		t.Errorf("five-field cron error does not say what to write: %q", r.Stderr)
	}
}

func TestCancelCommand(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	c := streamsClient(t, srv)
	ctx := context.Background()
	ok(t, "enqueue", "-s", url, "--id", "later-1", "--in", "1h", "reminder")
	ok(t, "enqueue", "-s", url, "--id", "now-1", "report")
	got := ok(t, "cancel", "-s", url, "later-1", "now-1")
	if !strings.Contains(got, "later-1: canceled (it was waiting for its time; its schedule is removed)") || !strings.Contains(got, "now-1: canceled\n") {
		t.Errorf("cancel printed %q", got)
	}
	for _, id := range []string{"later-1", "now-1"} {
		if canceled, err := c.Canceled(ctx, id); err != nil || !canceled {
			t.Errorf("Canceled(%s) = %v, %v after jetjobs cancel", id, canceled, err)
		}
	}
	if r := jetjobs(t, "", "cancel", "-s", url); r.Code != exitUsage {
		t.Errorf("cancel without an ID: exit %d", r.Code)
	}
}

func TestQueuesPauseResume(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	_, js := srv.Connect(t)
	ctx := context.Background()
	topo := job.Topology{}
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	// The consumer a worker serving queue mail creates.
	if _, err := js.CreateOrUpdateConsumer(ctx, "JOBS", worker.ConsumerConfig(topo, "mail", 30*time.Second, 100, 0)); err != nil {
		t.Fatal(err)
	}

	if got := ok(t, "queues", "pause", "-s", url, "mail"); got != "mail: paused until resumed (jetjobs queues resume mail)\n" {
		t.Errorf("queues pause printed %q", got)
	}
	if q := queueFigures(t, url)["mail"]; !q.Paused || q.PausedUntil != nil {
		t.Errorf("after pause, queues --json = %+v, want paused without an end", q)
	}
	if table := ok(t, "queues", "-s", url); !strings.Contains(table, "paused") {
		t.Errorf("queues does not show the pause:\n%s", table)
	}

	if got := ok(t, "queues", "pause", "-s", url, "mail", "--for", "30m"); !strings.HasPrefix(got, "mail: paused until ") {
		t.Errorf("queues pause --for printed %q", got)
	}
	q := queueFigures(t, url)["mail"]
	if !q.Paused || q.PausedUntil == nil || time.Until(*q.PausedUntil) < 29*time.Minute || time.Until(*q.PausedUntil) > 31*time.Minute {
		t.Errorf("after pause --for 30m, queues --json = %+v", q)
	}
	if table := ok(t, "queues", "-s", url); !strings.Contains(table, "paused until") {
		t.Errorf("queues does not show the end of the pause:\n%s", table)
	}

	if got := ok(t, "queues", "resume", "-s", url, "mail"); got != "mail: resumed\n" {
		t.Errorf("queues resume printed %q", got)
	}
	if q := queueFigures(t, url)["mail"]; q.Paused {
		t.Errorf("after resume, queues --json = %+v", q)
	}

	if r := jetjobs(t, "", "queues", "pause", "-s", url, "nobody"); r.Code != exitError || !strings.Contains(r.Stderr, "no worker has served it") {
		t.Errorf("pause of an unserved queue: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := jetjobs(t, "", "queues", "pause", "-s", url, "_x"); r.Code != exitUsage {
		t.Errorf("pause of an invalid queue name: exit %d, stderr %q", r.Code, r.Stderr)
	}
}
