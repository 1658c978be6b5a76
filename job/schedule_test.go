package job_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

func TestDeclareScheduleIsAnIdempotentUpsert(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	s := job.Schedule{
		Name: "nightly", Spec: "0 30 2 * * *", TimeZone: "Europe/Berlin",
		Kind: "report.build", Args: map[string]string{"scope": "all"},
		Options: []job.Option{job.Queue("reports"), job.MaxAttempts(3), job.Timeout(time.Minute), job.Header("X-Team", "data")},
	}

	// Ten processes declare the same schedule at once: one stores it.
	var wg sync.WaitGroup
	changed := make(chan bool, 10)
	for range 10 {
		wg.Go(func() {
			ch, err := c.DeclareSchedule(ctx, s)
			if err != nil {
				t.Error(err)
			}
			changed <- ch
		})
	}
	wg.Wait()
	close(changed)
	stored := 0
	for ch := range changed {
		if ch {
			stored++
		}
	}
	if stored != 1 {
		t.Fatalf("%d of 10 concurrent declarations stored the schedule, want 1", stored)
	}
	info, err := c.LookupSchedule(ctx, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if info.Spec != "0 30 2 * * *" || info.TimeZone != "Europe/Berlin" || info.Queue != "reports" || info.Kind != "report.build" ||
		string(info.Payload) != `{"scope":"all"}` || info.MaxAttempts != 3 || info.Timeout != time.Minute || info.Header.Get("X-Team") != "data" {
		t.Fatalf("stored schedule %+v", info)
	}

	// The same again changes nothing (the period is not restarted); a
	// change replaces it under the same name.
	if ch, err := c.DeclareSchedule(ctx, s); err != nil || ch {
		t.Fatalf("redeclare: changed %v, err %v", ch, err)
	}
	s.Spec = "@every 1h"
	s.TimeZone = ""
	if ch, err := c.DeclareSchedule(ctx, s); err != nil || !ch {
		t.Fatalf("changed declaration: changed %v, err %v", ch, err)
	}
	if ch, err := c.DeclareSchedule(ctx, job.Schedule{Name: "hourly", Spec: "@hourly", Kind: "tick"}); err != nil || !ch {
		t.Fatalf("second schedule: changed %v, err %v", ch, err)
	}
	list, err := c.Schedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "hourly" || list[0].Queue != job.DefaultQueue || list[1].Name != "nightly" || list[1].Spec != "@every 1h" {
		t.Fatalf("schedules %+v", list)
	}

	if err := c.RemoveSchedule(ctx, "nightly"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveSchedule(ctx, "nightly"); !errors.Is(err, job.ErrScheduleNotFound) {
		t.Fatalf("second remove: %v, want ErrScheduleNotFound", err)
	}
	if _, err := c.LookupSchedule(ctx, "nightly"); !errors.Is(err, job.ErrScheduleNotFound) {
		t.Fatalf("lookup after remove: %v, want ErrScheduleNotFound", err)
	}
	if list, _ := c.Schedules(ctx); len(list) != 1 {
		t.Fatalf("schedules after remove: %+v", list)
	}
}

func TestDeclareScheduleRefusesBadInput(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		s    job.Schedule
		want error
	}{
		{"five cron fields", job.Schedule{Name: "a", Spec: "30 2 * * *", Kind: "k"}, job.ErrInvalidOption},
		{"cron field out of range", job.Schedule{Name: "a", Spec: "0 0 25 * * *", Kind: "k"}, job.ErrInvalidOption},
		{"unknown preset", job.Schedule{Name: "a", Spec: "@fortnightly", Kind: "k"}, job.ErrInvalidOption},
		{"every below a second", job.Schedule{Name: "a", Spec: "@every 500ms", Kind: "k"}, job.ErrInvalidOption},
		{"time zone with every", job.Schedule{Name: "a", Spec: "@every 1h", TimeZone: "UTC", Kind: "k"}, job.ErrInvalidOption},
		{"unknown time zone", job.Schedule{Name: "a", Spec: "@daily", TimeZone: "Mars/Olympus", Kind: "k"}, job.ErrInvalidOption},
		{"one-shot spec", job.Schedule{Name: "a", Spec: "@at 2030-01-01T00:00:00Z", Kind: "k"}, job.ErrInvalidOption},
		{"empty spec", job.Schedule{Name: "a", Kind: "k"}, job.ErrInvalidOption},
		{"ID option", job.Schedule{Name: "a", Spec: "@daily", Kind: "k", Options: []job.Option{job.ID("x")}}, job.ErrInvalidOption},
		{"deadline option", job.Schedule{Name: "a", Spec: "@daily", Kind: "k", Options: []job.Option{job.Deadline(time.Now())}}, job.ErrInvalidOption},
		{"bad name", job.Schedule{Name: "a.b", Spec: "@daily", Kind: "k"}, job.ErrInvalidName},
		{"bad kind", job.Schedule{Name: "a", Spec: "@daily", Kind: "k*"}, job.ErrInvalidName},
		{"bad queue", job.Schedule{Name: "a", Spec: "@daily", Kind: "k", Options: []job.Option{job.Queue("_x")}}, job.ErrInvalidName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.DeclareSchedule(ctx, tc.s); !errors.Is(err, tc.want) {
				t.Fatalf("DeclareSchedule(%+v) = %v, want %v", tc.s, err, tc.want)
			}
		})
	}
	s, err := js.Stream(ctx, c.Topology().ScheduleStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 0 {
		t.Fatalf("%d schedule messages stored by refused declarations", n)
	}
}

// An embedded 2.15 server behind a proxy that reports an older version
// takes the client down the paths for older servers.
func TestSchedulingOnOlderServers(t *testing.T) {
	srv := natstest.Start(t)
	ctx := context.Background()
	connect := func(version string) (*job.Client, jetstream.JetStream) {
		nc, err := nats.Connect(srv.WithVersion(t, version))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := job.NewClient(js, job.ClientConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return c, js
	}

	// 2.11: no schedules at all. The topology leaves the schedule stream
	// out, delayed jobs are refused before anything is published, and
	// everything else works.
	old, js := connect("2.11.4")
	if job.SupportsSchedules(js, false) {
		t.Fatal("2.11 reported as supporting schedules")
	}
	if err := old.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx, "JOBS_SCHEDULES"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("schedule stream on 2.11: %v", err)
	}
	if _, err := old.Enqueue(ctx, "later", nil, job.In(time.Minute)); !errors.Is(err, job.ErrSchedulingUnsupported) {
		t.Fatalf("delayed enqueue on 2.11: %v, want ErrSchedulingUnsupported", err)
	}
	if _, err := old.DeclareSchedule(ctx, job.Schedule{Name: "n", Spec: "@daily", Kind: "k"}); !errors.Is(err, job.ErrSchedulingUnsupported) {
		t.Fatalf("periodic schedule on 2.11: %v, want ErrSchedulingUnsupported", err)
	}
	if _, err := old.Enqueue(ctx, "now", nil); err != nil {
		t.Fatalf("plain enqueue on 2.11: %v", err)
	}
	if list, err := old.Schedules(ctx); err != nil || len(list) != 0 {
		t.Fatalf("schedules on 2.11: %v, %v", list, err)
	}
	work, err := js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if n := work.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("%d jobs stored, want only the plain one", n)
	}

	// 2.13: delayed jobs yes, periodic ones no.
	mid, js := connect("2.13.0")
	if err := mid.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mid.Enqueue(ctx, "later", nil, job.In(time.Minute)); err != nil {
		t.Fatalf("delayed enqueue on 2.13: %v", err)
	}
	if _, err := mid.DeclareSchedule(ctx, job.Schedule{Name: "n", Spec: "@every 1h", Kind: "k"}); !errors.Is(err, job.ErrSchedulingUnsupported) {
		t.Fatalf("periodic schedule on 2.13: %v, want ErrSchedulingUnsupported", err)
	}
	if !job.SupportsSchedules(js, false) || job.SupportsSchedules(js, true) {
		t.Fatal("2.13 gate: want delayed but not periodic")
	}
}
