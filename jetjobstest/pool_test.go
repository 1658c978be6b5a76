package jetjobstest_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type orderArgs struct {
	ID string `json:"id"`
}

// TestDrainWaitsForAWholeFlow runs a flow whose jobs enqueue more jobs,
// retry, snooze, get scheduled and fail, and requires Drain to return once
// all of it has settled, leaving only what comes due later.
func TestDrainWaitsForAWholeFlow(t *testing.T) {
	s := jetjobstest.StartServer(t)
	c := s.Client()
	var mailAttempts atomic.Int32
	p := jetjobstest.StartPool(t, s, worker.Config{RetryPolicy: retry.Constant(20 * time.Millisecond)}, func(p *worker.Pool) error {
		return errors.Join(
			worker.Handle(p, "order.place", func(ctx context.Context, j *job.Job[orderArgs]) error {
				if j.Args.ID == "" {
					return job.Permanent(errors.New("order without ID"))
				}
				// Follow-on jobs: a receipt now, a survey later.
				_, err := c.Enqueue(ctx, "email.send", emailArgs{To: j.Args.ID + "@example.com"}, job.ID("receipt-"+j.Args.ID))
				if err == nil {
					_, err = c.Enqueue(ctx, "survey.send", nil, job.ID("survey-"+j.Args.ID), job.In(500*time.Millisecond))
				}
				return err
			}),
			worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[emailArgs]) error {
				if mailAttempts.Add(1) == 1 {
					return errors.New("smtp busy")
				}
				return nil
			}),
			worker.Handle(p, "survey.send", func(ctx context.Context, j *job.Job[struct{}]) error {
				if j.Attempt == 1 && j.Header.Get(job.HeaderAttemptBase) == "" {
					return job.Snooze(0) // to the back of the queue
				}
				return nil
			}),
			worker.Handle(p, "report.build", func(ctx context.Context, j *job.Job[struct{}]) error {
				return errors.New("database down")
			}, worker.WithRetryPolicy(retry.Constant(time.Hour))),
		)
	})
	enqueue(t, c, "order.place", orderArgs{ID: "o1"}, job.ID("order-o1"))
	enqueue(t, c, "order.place", orderArgs{}, job.ID("order-bad"))
	enqueue(t, c, "report.build", nil, job.ID("report"))

	start := time.Now()
	events := p.Drain(t, 5*time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Drain took %s", d)
	}
	// Events come in the order deliveries settled, which is not always the
	// order they ran in (a success waits for its acknowledgement): compare
	// each job's outcomes as a set.
	got := map[string][]worker.Outcome{}
	for _, ev := range events {
		got[ev.Info.ID] = append(got[ev.Info.ID], ev.Outcome)
	}
	want := map[string][]worker.Outcome{
		"order-o1":   {worker.OutcomeSucceeded},
		"order-bad":  {worker.OutcomeDeadLettered},
		"receipt-o1": {worker.OutcomeRetried, worker.OutcomeSucceeded},
		"survey-o1":  {worker.OutcomeSnoozed, worker.OutcomeSucceeded},
		"report":     {worker.OutcomeRetried}, // its retry is an hour away
	}
	for id, w := range want {
		g := got[id]
		slices.Sort(g)
		slices.Sort(w)
		if !slices.Equal(g, w) {
			t.Errorf("job %s: %v, want %v", id, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("events by job: %v, want %v", got, want)
	}
	jetjobstest.RequireNotEnqueued(t, c, "email.send")
	jetjobstest.RequireNotEnqueued(t, c, "survey.send")
	jetjobstest.RequireEnqueued[struct{}](t, c, "report.build") // waiting for its retry
	jetjobstest.RequireDeadLettered[orderArgs](t, c, "order.place", jetjobstest.ErrorContains("order without ID"))

	// Nothing more happens: a second Drain returns at once with no events.
	if evs := p.Drain(t, time.Second); len(evs) != 0 {
		t.Errorf("second Drain: %d events", len(evs))
	}
}

func TestDrainFailsWhileJobsRun(t *testing.T) {
	s := jetjobstest.StartServer(t)
	release := make(chan struct{})
	p := jetjobstest.StartPool(t, s, worker.Config{}, func(p *worker.Pool) error {
		return worker.Handle(p, "slow", func(ctx context.Context, j *job.Job[struct{}]) error {
			<-release
			return nil
		})
	})
	enqueue(t, s.Client(), "slow", nil, job.ID("slow-1"))
	r := record(t)
	p.Drain(r, 200*time.Millisecond)
	requireContains(t, r.failure(t), "jetjobstest: Drain: the queues [default] are not idle after 200ms: 1 job running or being settled")
	close(release)
	if evs := p.Drain(t, 5*time.Second); len(evs) != 1 || evs[0].Outcome != worker.OutcomeSucceeded {
		t.Errorf("events %+v", evs)
	}
}

func TestDrainLeavesJobsDueAfterIt(t *testing.T) {
	s := jetjobstest.StartServer(t)
	p := jetjobstest.StartPool(t, s, worker.Config{}, func(p *worker.Pool) error {
		return worker.Handle(p, "later", func(ctx context.Context, j *job.Job[struct{}]) error { return nil })
	})
	enqueue(t, s.Client(), "later", nil, job.ID("later-1"), job.In(time.Hour))
	if evs := p.Drain(t, 200*time.Millisecond); len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
	jetjobstest.RequireEnqueued[struct{}](t, s.Client(), "later", jetjobstest.Delayed(time.Hour))
}

// Jobs that wait in their queue for a later time (a snooze with
// SnoozeInQueue, a job of a kind the pool does not serve) leave the queue
// idle until then, though the pool takes and hands them back meanwhile.
func TestDrainLeavesJobsWaitingInTheirQueue(t *testing.T) {
	s := jetjobstest.StartServer(t)
	p := jetjobstest.StartPool(t, s, worker.Config{SnoozeInQueue: true}, func(p *worker.Pool) error {
		return worker.Handle(p, "nap", func(ctx context.Context, j *job.Job[struct{}]) error { return job.Snooze(time.Hour) })
	})
	enqueue(t, s.Client(), "nap", nil, job.ID("nap-1"))
	enqueue(t, s.Client(), "nobody.serves", nil, job.ID("orphan-1"))
	evs := p.Drain(t, 500*time.Millisecond)
	if len(evs) != 1 || evs[0].Outcome != worker.OutcomeSnoozed || evs[0].Info.ID != "nap-1" {
		t.Errorf("events %+v", evs)
	}
	jetjobstest.RequireEnqueued[struct{}](t, s.Client(), "nap", jetjobstest.Header(job.HeaderAttemptBase, "0"))
	jetjobstest.RequireEnqueued[struct{}](t, s.Client(), "nobody.serves")
}
