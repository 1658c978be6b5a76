package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	e := newEnv(t)
	var attempts atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "bad", func(ctx context.Context, j *job.Job[struct{}]) error {
			attempts.Add(1)
			return job.Permanent(errors.New("invalid address"))
		}))
	})
	e.enqueue("bad", nil)
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	dl := e.deadLetters()[0]
	if dl.Reason != job.ReasonFailed || dl.Error != "invalid address" || dl.Attempts != 1 || attempts.Load() != 1 {
		t.Fatalf("dead letter = %+v after %d attempts", dl, attempts.Load())
	}
}

func TestPanicIsAFailedAttempt(t *testing.T) {
	e := newEnv(t)
	var attempts atomic.Int32
	var events []worker.Event
	evc := make(chan worker.Event, 10)
	e.pool(worker.Config{
		RetryPolicy: retry.Constant(10 * time.Millisecond),
		Hooks:       worker.Hooks{OnEvent: func(ev worker.Event) { evc <- ev }},
	}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "panics", func(ctx context.Context, j *job.Job[struct{}]) error {
			if attempts.Add(1) == 1 {
				panic("kaboom")
			}
			return nil
		}))
	})
	e.enqueue("panics", nil)
	for len(events) < 2 {
		select {
		case ev := <-evc:
			events = append(events, ev)
		case <-time.After(10 * time.Second):
			t.Fatalf("events so far: %+v", events)
		}
	}
	var pe *job.PanicError
	if events[0].Outcome != worker.OutcomeRetried || !errors.As(events[0].Err, &pe) || pe.Value != "kaboom" || len(pe.Stack) == 0 {
		t.Fatalf("first event = %+v", events[0])
	}
	if events[1].Outcome != worker.OutcomeSucceeded || events[1].Info.Attempt != 2 {
		t.Fatalf("second event = %+v", events[1])
	}
}

func TestUndecodablePayloadIsDeadLetteredWithoutRunning(t *testing.T) {
	e := newEnv(t)
	var ran atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "typed", func(ctx context.Context, j *job.Job[emailArgs]) error {
			ran.Add(1)
			return nil
		}))
	})
	// A foreign publisher sends a payload that is JSON but not the type.
	_, err := e.js.Publish(context.Background(), "jobs.default.typed", []byte(`{"to": 42}`))
	must(t, err)
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	dl := e.deadLetters()[0]
	if dl.Reason != job.ReasonDecode || string(dl.Payload) != `{"to": 42}` || ran.Load() != 0 {
		t.Fatalf("dead letter = %+v, handler ran %d times", dl, ran.Load())
	}
}

func TestMalformedHeaderIsDeadLettered(t *testing.T) {
	e := newEnv(t)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "x", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	msg := nats.NewMsg("jobs.default.x")
	msg.Header.Set(job.HeaderMaxAttempts, "many")
	_, err := e.js.PublishMsg(context.Background(), msg)
	must(t, err)
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	if dl := e.deadLetters()[0]; dl.Reason != job.ReasonDecode || dl.Header.Get(job.HeaderMaxAttempts) != "many" {
		t.Fatalf("dead letter = %+v", dl)
	}
}

func TestRawPublishWithoutHeadersRuns(t *testing.T) {
	e := newEnv(t)
	got := make(chan *job.Job[emailArgs], 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[emailArgs]) error {
			got <- j
			return nil
		}))
	})
	must(t, e.js.Conn().Publish("jobs.default.email.send", []byte(`{"to":"a@b.c"}`)))
	select {
	case j := <-got:
		if j.Args.To != "a@b.c" || j.ID != fmt.Sprintf("JOBS-%d", j.Seq) || j.Attempt != 1 || j.MaxAttempts != job.DefaultMaxAttempts || j.EnqueuedAt.IsZero() {
			t.Fatalf("job = %+v args %+v", j.Info, j.Args)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("raw job did not run")
	}
}

// Snoozes of a second, of less than the schedules' one-second resolution
// and of zero each run the job again, no earlier than asked, on the same
// attempt; a failure after them is attempt 1 and its retry attempt 2. In
// the queue (SnoozeInQueue) the same holds and the schedule stream is never
// written. Every run sees the time the job was first enqueued, which its
// message had only as the stream timestamp, not the time of a copy.
func TestSnoozeDoesNotUseAttempts(t *testing.T) {
	for _, inQueue := range []bool{false, true} {
		t.Run(fmt.Sprintf("in queue %v", inQueue), func(t *testing.T) {
			e := newEnv(t)
			results := []error{job.Snooze(time.Second), job.Snooze(200 * time.Millisecond), job.Snooze(0), errors.New("flaky"), nil}
			wantAttempt := []int{1, 1, 1, 1, 2}
			type run struct {
				attempt  int
				at       time.Time
				enqueued time.Time
			}
			var calls atomic.Int32
			runs := make(chan run, 10)
			e.pool(worker.Config{SnoozeInQueue: inQueue, RetryPolicy: retry.Constant(10 * time.Millisecond)}, func(p *worker.Pool) {
				must(t, worker.Handle(p, "sleepy", func(ctx context.Context, j *job.Job[struct{}]) error {
					runs <- run{j.Attempt, time.Now(), j.EnqueuedAt}
					return results[min(int(calls.Add(1)), len(results))-1]
				}))
			})
			r := e.enqueue("sleepy", nil, job.MaxAttempts(2))
			var seen []run
			for len(seen) < len(results) {
				select {
				case x := <-runs:
					seen = append(seen, x)
				case <-time.After(15 * time.Second):
					t.Fatalf("runs so far %v", seen)
				}
			}
			for i, x := range seen {
				if x.attempt != wantAttempt[i] {
					t.Fatalf("run %d was attempt %d, want %d (runs %v)", i, x.attempt, wantAttempt[i], seen)
				}
				if x.enqueued.IsZero() || !x.enqueued.Equal(seen[0].enqueued) {
					t.Fatalf("run %d saw the job enqueued at %s, the first run at %s", i, x.enqueued, seen[0].enqueued)
				}
				if i == 0 {
					continue
				}
				var snooze *job.SnoozeError
				if errors.As(results[i-1], &snooze) {
					if gap := x.at.Sub(seen[i-1].at); gap < snooze.Delay {
						t.Fatalf("snoozed for %s, ran again after %s", snooze.Delay, gap)
					}
				}
			}
			if dls := e.deadLetters(); len(dls) != 0 {
				t.Fatalf("snoozed job %s dead-lettered: %+v", r.ID, dls)
			}
			if inQueue {
				s, err := e.js.Stream(context.Background(), "JOBS_SCHEDULES")
				must(t, err)
				if last := s.CachedInfo().State.LastSeq; last != 0 {
					t.Fatalf("the schedule stream holds %d messages; SnoozeInQueue must not write there", last)
				}
			}
		})
	}
}

// A job of a kind its pool has no handler for is passed on without using
// up attempts, so a worker that serves the kind and starts later runs it
// as attempt 1; one that no worker serves is dead-lettered with reason
// no-handler once it has waited UnservedTimeout.
func TestUnservedKindsAreNotChargedAttempts(t *testing.T) {
	e := newEnv(t)
	first := e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "known", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	served := e.enqueue("late.kind", nil, job.MaxAttempts(1))
	unserved := e.enqueue("unknown.kind", nil, job.MaxAttempts(1))

	// The first worker passes both on, then goes away.
	stream, err := e.js.Stream(context.Background(), "JOBS")
	must(t, err)
	for _, kind := range []string{"late.kind", "unknown.kind"} {
		eventually(t, func() bool {
			m, err := stream.GetLastMsgForSubject(context.Background(), "jobs.default."+kind)
			return err == nil && strings.HasPrefix(m.Header.Get(job.HeaderMsgID), "unserved:") && m.Header.Get(job.HeaderUnservedSince) != ""
		}, "%s passed on", kind)
	}
	must(t, first.Stop(context.Background()))

	// A worker that serves late.kind runs it as its first attempt, and
	// dead-letters the kind nobody serves once it has waited 2s.
	ran := make(chan int, 1)
	e.pool(worker.Config{UnservedTimeout: 2 * time.Second}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "late.kind", func(ctx context.Context, j *job.Job[struct{}]) error { ran <- j.Attempt; return nil }))
	})
	select {
	case attempt := <-ran:
		if attempt != 1 {
			t.Fatalf("late.kind ran as attempt %d; waiting for a worker must not use attempts", attempt)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("job %s did not reach the worker that serves its kind", served.ID)
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter of the kind nobody serves")
	if dl := e.deadLetters()[0]; dl.ID != unserved.ID || dl.Reason != job.ReasonNoHandler || dl.Attempts != 1 || !strings.Contains(dl.Error, "unknown.kind") {
		t.Fatalf("dead letter = %+v", dl)
	}
}

func TestExpiredJobNeverRuns(t *testing.T) {
	e := newEnv(t)
	var ran atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "late", func(ctx context.Context, j *job.Job[struct{}]) error { ran.Add(1); return nil }))
	})
	e.enqueue("late", nil, job.Deadline(time.Now().Add(-time.Second)))
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	if dl := e.deadLetters()[0]; dl.Reason != job.ReasonExpired || ran.Load() != 0 {
		t.Fatalf("dead letter = %+v, ran %d", dl, ran.Load())
	}
}

func TestReplayRunsTheJobAgain(t *testing.T) {
	e := newEnv(t)
	var fail atomic.Bool
	fail.Store(true)
	done := make(chan *job.Job[emailArgs], 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[emailArgs]) error {
			if fail.Load() {
				return job.Permanent(errors.New("smtp down"))
			}
			done <- j
			return nil
		}))
	})
	r := e.enqueue("email.send", emailArgs{To: "x@y.z"})
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	dl, err := e.client.DeadLetter(context.Background(), r.ID)
	must(t, err)
	if dl.ID != r.ID {
		t.Fatalf("DeadLetter(%s) = %+v", r.ID, dl)
	}
	fail.Store(false)
	rr, err := e.client.Replay(context.Background(), r.ID)
	must(t, err)
	if rr.ID != r.ID || rr.Duplicate {
		t.Fatalf("replay result %+v", rr)
	}
	select {
	case j := <-done:
		if j.ID != r.ID || j.Args.To != "x@y.z" || j.Attempt != 1 {
			t.Fatalf("replayed job %+v", j.Info)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replayed job did not run")
	}
	if n := len(e.deadLetters()); n != 0 {
		t.Fatalf("%d dead letters left after replay", n)
	}
	if _, err := e.client.DeadLetter(context.Background(), r.ID); !errors.Is(err, job.ErrDeadLetterNotFound) {
		t.Fatalf("DeadLetter after replay: %v", err)
	}
}

func TestDelayedJobRunsNoEarlierThanAsked(t *testing.T) {
	e := newEnv(t)
	ran := make(chan time.Time, 1)
	got := make(chan *job.Job[emailArgs], 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "later", func(ctx context.Context, j *job.Job[emailArgs]) error {
			ran <- time.Now()
			got <- j
			return nil
		}))
	})
	at := time.Now().Add(1500 * time.Millisecond)
	r := e.enqueue("later", emailArgs{To: "z@z.z"}, job.At(at), job.MaxAttempts(7), job.Header("X-Trace", "t1"))
	select {
	case when := <-ran:
		if when.Before(at) {
			t.Fatalf("ran %s early", at.Sub(when))
		}
		if late := when.Sub(at); late > 2500*time.Millisecond {
			t.Fatalf("ran %s late", late)
		}
		j := <-got
		if j.ID != r.ID || j.MaxAttempts != 7 || j.Header.Get("X-Trace") != "t1" || j.Args.To != "z@z.z" || j.Attempt != 1 {
			t.Fatalf("fired job lost its envelope: %+v %+v", j.Info, j.Args)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("delayed job did not run")
	}
}

// Config.MaxTimeout caps an attempt whatever time limit the job asks for.
func TestMaxTimeoutCapsTheJobsOwnTimeout(t *testing.T) {
	e := newEnv(t)
	ended := make(chan time.Duration, 1)
	e.pool(worker.Config{MaxTimeout: 200 * time.Millisecond}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "slow", func(ctx context.Context, j *job.Job[struct{}]) error {
			start := time.Now()
			<-ctx.Done()
			ended <- time.Since(start)
			return job.Permanent(ctx.Err())
		}))
	})
	e.enqueue("slow", nil, job.Timeout(time.Hour))
	select {
	case d := <-ended:
		if d > 10*time.Second {
			t.Fatalf("the attempt ran %s; MaxTimeout is 200ms", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the job's own 1h timeout was not capped by MaxTimeout")
	}
}

// A dead letter that cannot be stored is retried off the runner: the job's
// slot is free for the next job meanwhile (security finding: a retrying
// dead-letter publish held a slot), and the job is handed back, not lost.
func TestDeadLetterRetriesHoldNoSlot(t *testing.T) {
	e := newEnv(t)
	settled := make(chan worker.Event, 4)
	ran := make(chan string, 4)
	e.pool(worker.Config{
		Queues: map[string]worker.QueueConfig{"default": {Concurrency: 1}},
		Hooks:  worker.Hooks{OnEvent: func(ev worker.Event) { settled <- ev }},
	}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "doomed", func(ctx context.Context, j *job.Job[struct{}]) error {
			ran <- "doomed"
			return job.Permanent(errors.New("no retry can fix this"))
		}))
		must(t, worker.Handle(p, "next", func(ctx context.Context, j *job.Job[struct{}]) error {
			ran <- "next"
			return nil
		}))
	})
	// After Start, which creates the streams: every dead-letter publish
	// now fails, and is retried for a while.
	must(t, e.js.DeleteStream(context.Background(), "JOBS_DLQ"))
	e.enqueue("doomed", nil)
	e.enqueue("next", nil)
	var order []string
	for len(order) < 3 {
		select {
		case k := <-ran:
			order = append(order, k)
		case ev := <-settled:
			if ev.Info.Kind == "doomed" {
				order = append(order, "doomed settled")
				if ev.Outcome != worker.OutcomeRetried {
					t.Fatalf("a dead letter that could not be stored settled as %s; want retried (handed back)", ev.Outcome)
				}
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("order so far %v", order)
		}
	}
	if order[0] != "doomed" || order[1] != "next" || order[2] != "doomed settled" {
		t.Fatalf("order = %v; the next job must run while the doomed job's dead letter is still being retried", order)
	}
}
