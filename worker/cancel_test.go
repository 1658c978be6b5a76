package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestCancelPendingJobNeverRuns(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Canceled before any worker runs: the pool learns of it at Start.
	r := e.enqueue("report", nil)
	if _, err := e.client.Cancel(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	other := e.enqueue("report", nil)
	var ran atomic.Int32
	done := make(chan string, 1)
	probing, probed := make(chan struct{}), make(chan struct{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "report", func(ctx context.Context, j *job.Job[struct{}]) error {
			ran.Add(1)
			done <- j.ID
			return nil
		}))
		must(t, worker.Handle(p, "probe", func(ctx context.Context, j *job.Job[struct{}]) error {
			close(probing)
			<-ctx.Done()
			close(probed)
			return ctx.Err()
		}))
	})
	select {
	case id := <-done:
		if id != other.ID {
			t.Fatalf("ran %s, want only %s", id, other.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job that was not canceled did not run")
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter of the canceled job")
	dl := e.deadLetters()[0]
	if dl.ID != r.ID || dl.Reason != job.ReasonCanceled || ran.Load() != 1 {
		t.Fatalf("dead letter %+v, handler ran %d times", dl, ran.Load())
	}

	// Canceled while the pool runs, before the job is enqueued. The watch
	// is asynchronous: a running probe canceled after it shows, when its
	// context ends, that the watch has applied both cancels (it applies
	// them in order).
	probe := e.enqueue("probe", nil)
	<-probing
	if _, err := e.client.Cancel(ctx, "later-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Cancel(ctx, probe.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		t.Fatal("the running probe's cancel did not reach it")
	}
	e.enqueue("report", nil, job.ID("later-1"))
	eventually(t, func() bool { return len(e.deadLetters()) == 3 }, "dead letter of later-1")
	if ran.Load() != 1 {
		t.Fatalf("handler ran %d times, want 1", ran.Load())
	}

	// Replaying a canceled job runs it; the cancel still stands for other
	// jobs with the ID.
	if _, err := e.client.Replay(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-done:
		if id != r.ID {
			t.Fatalf("ran %s after replay, want %s", id, r.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replayed canceled job did not run")
	}
	if ok, err := e.client.Canceled(ctx, r.ID); err != nil || !ok {
		t.Errorf("after the replay Canceled(%s) = %v, %v; want the cancel kept for other jobs with the ID", r.ID, ok, err)
	}
}

func TestCancelRunningJobEndsAsDeadLetter(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{})
	var attempts atomic.Int32
	cause := make(chan error, 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "long", func(ctx context.Context, j *job.Job[struct{}]) error {
			attempts.Add(1)
			close(started)
			<-ctx.Done()
			cause <- context.Cause(ctx)
			return ctx.Err()
		}))
	})
	r := e.enqueue("long", nil, job.MaxAttempts(5))
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not start")
	}
	if _, err := e.client.Cancel(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cause:
		if !errors.Is(c, job.ErrCanceled) {
			t.Fatalf("context cause = %v, want job.ErrCanceled", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("running job's context was not canceled")
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	dl := e.deadLetters()[0]
	if dl.ID != r.ID || dl.Reason != job.ReasonCanceled || dl.Attempts != 1 || attempts.Load() != 1 {
		t.Fatalf("dead letter %+v after %d attempts; want reason canceled after 1", dl, attempts.Load())
	}
}

func TestCancelDelayedJobRemovesItsSchedule(t *testing.T) {
	e := newEnv(t)
	r := e.enqueue("later", nil, job.In(time.Hour))
	res, err := e.client.Cancel(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unscheduled {
		t.Fatalf("Cancel = %+v, want Unscheduled", res)
	}
	s, err := e.js.Stream(context.Background(), e.client.Topology().ScheduleStream)
	must(t, err)
	if n := s.CachedInfo().State.Msgs; n != 0 {
		t.Fatalf("%d messages left in the schedule stream", n)
	}
	if _, err := e.client.Cancel(context.Background(), ""); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("Cancel(\"\") = %v, want ErrInvalidOption", err)
	}
}

// A snoozed job waits on a schedule of its own message (two messages may
// carry the same job ID, and the server keeps one schedule per subject):
// both run again. Cancel removes every schedule of the ID, a delayed job's
// and its snoozes'.
func TestSnoozesOfTheSameIDEachRunAndCancelRemovesThem(t *testing.T) {
	e := newEnv(t)
	type args struct{ N int }
	var mu sync.Mutex
	runs := map[int]int{}
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "dup", func(ctx context.Context, j *job.Job[args]) error {
			mu.Lock()
			runs[j.Args.N]++
			n := runs[j.Args.N]
			mu.Unlock()
			switch {
			case j.ID == "snoozer":
				return job.Snooze(time.Hour)
			case n == 1:
				return job.Snooze(time.Second)
			}
			return nil
		}))
	})
	for n := 1; n <= 2; n++ {
		m := nats.NewMsg("jobs.default.dup")
		m.Header.Set(job.HeaderID, "same-id") // and no Nats-Msg-Id: both are stored
		m.Data = fmt.Appendf(nil, `{"N":%d}`, n)
		_, err := e.js.PublishMsg(context.Background(), m)
		must(t, err)
	}
	eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return runs[1] == 2 && runs[2] == 2
	}, "both messages ran again after their snoozes")

	e.enqueue("dup", args{N: 3}, job.ID("snoozer"))
	sched, err := e.js.Stream(context.Background(), e.client.Topology().ScheduleStream)
	must(t, err)
	eventually(t, func() bool {
		info, err := sched.Info(context.Background())
		must(t, err)
		return info.State.Msgs == 1
	}, "the snooze's schedule stored")
	res, err := e.client.Cancel(context.Background(), "snoozer")
	must(t, err)
	info, err := sched.Info(context.Background())
	must(t, err)
	if !res.Unscheduled || info.State.Msgs != 0 {
		t.Fatalf("Cancel = %+v; %d schedules left", res, info.State.Msgs)
	}
}
