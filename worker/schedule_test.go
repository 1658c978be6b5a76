package worker_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type firing struct {
	at   time.Time
	info *job.Info
}

func TestPeriodicJobFiresOncePerPeriodWithSeveralPools(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fired := make(chan firing, 64)
	schedule := job.Schedule{
		Name: "tick", Spec: "@every 1s", Kind: "tick", Args: map[string]int{"n": 1},
		Options: []job.Option{job.Queue("cron"), job.MaxAttempts(4), job.Header("X-Origin", "schedule")},
	}
	// Three worker processes start at once, and each declares the schedule
	// (here: ten declarations racing), as an application would at start.
	var wg sync.WaitGroup
	for range 3 {
		e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"cron": {}}}, func(p *worker.Pool) {
			must(t, worker.Handle(p, "tick", func(ctx context.Context, j *job.Job[map[string]int]) error {
				fired <- firing{time.Now(), j.Info}
				return nil
			}))
		})
	}
	for range 10 {
		wg.Go(func() {
			if _, err := e.client.DeclareSchedule(ctx, schedule); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()

	var got []firing
	for len(got) < 3 {
		select {
		case f := <-fired:
			got = append(got, f)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d firings within 10s of declaring @every 1s", len(got))
		}
	}
	ids := map[string]bool{}
	for i, f := range got {
		if ids[f.info.ID] {
			t.Fatalf("firing %d repeats job ID %s", i, f.info.ID)
		}
		ids[f.info.ID] = true
		if !strings.HasPrefix(f.info.ID, "tick-") || f.info.MaxAttempts != 4 || f.info.Header.Get("X-Origin") != "schedule" ||
			f.info.Header.Get(job.HeaderSchedule) != "tick" || string(f.info.Payload) != `{"n":1}` || f.info.Queue != "cron" {
			t.Fatalf("fired job %+v", f.info)
		}
		if i > 0 {
			// Once per period: never two firings close together, whichever
			// of the pools relays them.
			if gap := f.at.Sub(got[i-1].at); gap < 600*time.Millisecond || gap > 1600*time.Millisecond {
				t.Fatalf("firings %d and %d are %s apart, want about 1s", i-1, i, gap)
			}
		}
	}

	// Removed, it fires no more: at most a firing already on its way.
	must(t, e.client.RemoveSchedule(ctx, "tick"))
	drainUntil := time.After(2200 * time.Millisecond)
	late := 0
	for done := false; !done; {
		select {
		case <-fired:
			late++
		case <-drainUntil:
			done = true
		}
	}
	if late > 1 {
		t.Fatalf("%d firings after the schedule was removed", late)
	}
}

func TestSchedulesSurviveServerRestart(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fired := make(chan *job.Info, 64)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		for _, kind := range []string{"tick", "later"} {
			must(t, worker.Handle(p, kind, func(ctx context.Context, j *job.Job[struct{}]) error {
				fired <- j.Info
				return nil
			}))
		}
	})
	_, err := e.client.DeclareSchedule(ctx, job.Schedule{Name: "tick", Spec: "@every 1s", Kind: "tick"})
	must(t, err)
	var since time.Time
	wait := func(kind string) *job.Info {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case info := <-fired:
				// A firing's job is stored when it fires; the delayed job
				// keeps the time it was enqueued.
				if info.Kind == kind && (kind != "tick" || info.EnqueuedAt.After(since)) {
					return info
				}
			case <-deadline:
				t.Fatalf("no %s job within 15s", kind)
			}
		}
	}
	wait("tick")
	later := e.enqueue("later", nil, job.In(2*time.Second))

	e.srv.Restart(t)
	since = time.Now() // firings from before the restart do not count
	first := wait("tick")
	second := wait("tick")
	if first.ID == second.ID {
		t.Fatalf("two firings with ID %s", first.ID)
	}
	if got := wait("later"); got.ID != later.ID {
		t.Fatalf("delayed job after restart: %s, want %s", got.ID, later.ID)
	}
	if list, err := e.client.Schedules(ctx); err != nil || len(list) != 1 || list[0].Spec != "@every 1s" {
		t.Fatalf("schedules after restart: %+v, %v", list, err)
	}
}
