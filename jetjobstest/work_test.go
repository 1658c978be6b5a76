package jetjobstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type chargeArgs struct {
	Cents int `json:"cents"`
}

func (chargeArgs) Kind() string { return "payment.charge" }

// chargeWorker declines amounts over 100 dollars for good, and fails the
// first two attempts of the others.
type chargeWorker struct {
	worker.WorkerDefaults[chargeArgs]
}

func (chargeWorker) MaxAttempts() int          { return 5 }
func (chargeWorker) RetryPolicy() retry.Policy { return retry.Constant(30 * time.Second) }
func (chargeWorker) Timeout(*job.Job[chargeArgs]) time.Duration {
	return 10 * time.Second
}

func (chargeWorker) Work(ctx context.Context, j *job.Job[chargeArgs]) error {
	if j.Args.Cents > 10000 {
		return job.Permanent(errors.New("amount over limit"))
	}
	if j.Attempt < 3 {
		return errors.New("gateway unavailable")
	}
	return nil
}

func TestWorkRunsAWorkerWithItsSettings(t *testing.T) {
	r := jetjobstest.Work(t, chargeWorker{}, chargeArgs{Cents: 500})
	if r.Outcome != worker.OutcomeRetried || r.Delay != 30*time.Second || r.Err.Error() != "gateway unavailable" {
		t.Errorf("first attempt: %s", r)
	}
	if i := r.Info; i.Kind != "payment.charge" || i.Queue != "default" || i.Attempt != 1 || i.MaxAttempts != 5 || i.ID == "" {
		t.Errorf("info %+v", i)
	}
	if r := jetjobstest.Work(t, chargeWorker{}, chargeArgs{Cents: 500}, jetjobstest.WithAttempt(3)); r.Outcome != worker.OutcomeSucceeded || r.Err != nil || r.Duration == 0 {
		t.Errorf("third attempt: %s after %s", r, r.Duration)
	}
	// The job's own limit beats the worker's: the second attempt is its last.
	r = jetjobstest.Work(t, chargeWorker{}, chargeArgs{Cents: 500}, jetjobstest.WithAttempt(2), jetjobstest.WithMaxAttempts(2), jetjobstest.WithQueue("billing"), jetjobstest.WithID("charge-1"))
	if r.Outcome != worker.OutcomeDeadLettered || r.Reason != job.ReasonFailed || r.Info.Queue != "billing" || r.Info.ID != "charge-1" {
		t.Errorf("last attempt: %s, info %+v", r, r.Info)
	}
	if r := jetjobstest.Work(t, chargeWorker{}, chargeArgs{Cents: 20000}); r.String() != "dead_lettered (reason failed): amount over limit" {
		t.Errorf("over limit: %s", r)
	}
}

func TestWorkFuncAppliesPoolAndKindSettings(t *testing.T) {
	var seen *job.Job[emailArgs]
	handler := func(ctx context.Context, j *job.Job[emailArgs]) error {
		seen = j
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		info, _ := job.FromContext(ctx)
		if info != j.Info {
			return errors.New("the context does not carry the job's Info")
		}
		return job.Snooze(time.Minute)
	}
	var wrapped bool
	mw := func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error { wrapped = true; return next.Handle(ctx, info) })
	}
	r := jetjobstest.WorkFunc(t, "email.send", handler, emailArgs{To: "ada@example.com"},
		jetjobstest.WithConfig(worker.Config{Timeout: time.Minute, MaxAttempts: 7}),
		jetjobstest.WithKindOptions(worker.WithMiddleware(mw)),
		jetjobstest.WithHeader("X-Tenant", "acme"))
	if r.Outcome != worker.OutcomeSnoozed || r.Delay != time.Minute || !wrapped {
		t.Fatalf("%s (middleware ran: %v)", r, wrapped)
	}
	if seen.Args.To != "ada@example.com" || seen.Timeout != time.Minute || seen.MaxAttempts != 7 || seen.Header.Get("X-Tenant") != "acme" || seen.EnqueuedAt.IsZero() {
		t.Errorf("the handler saw %+v args %+v", seen.Info, seen.Args)
	}
}

func TestWorkFailures(t *testing.T) {
	ok := func(context.Context, *job.Job[emailArgs]) error { return nil }
	for _, tc := range []struct {
		name  string
		work  func(tb testing.TB)
		wants []string
	}{
		{"attempt zero", func(tb testing.TB) {
			jetjobstest.WorkFunc(tb, "email.send", ok, emailArgs{}, jetjobstest.WithAttempt(0))
		}, []string{"jetjobstest: WorkFunc: jetjobs: invalid option: WithAttempt(0): attempts count from 1"}},
		{"invalid kind", func(tb testing.TB) {
			jetjobstest.WorkFunc(tb, "email send", ok, emailArgs{})
		}, []string{`jetjobstest: WorkFunc: jetjobs: invalid name: kind "email send"`}},
		{"invalid config", func(tb testing.TB) {
			jetjobstest.WorkFunc(tb, "email.send", ok, emailArgs{}, jetjobstest.WithConfig(worker.Config{MaxAttempts: -1}))
		}, []string{"jetjobstest: WorkFunc: jetjobs: invalid option: Config.MaxAttempts -1 must be >= 1"}},
		{"worker without kind", func(tb testing.TB) {
			jetjobstest.Work[emailArgs](tb, kindlessWorker{}, emailArgs{})
		}, []string{"jetjobstest: Work: jetjobs: invalid option: Register: neither jetjobstest_test.kindlessWorker nor its argument type jetjobstest_test.emailArgs has a Kind() string method"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := record(t)
			tc.work(r)
			requireContains(t, r.failure(t), tc.wants...)
		})
	}
}

type kindlessWorker struct {
	worker.WorkerDefaults[emailArgs]
}

func (kindlessWorker) Work(context.Context, *job.Job[emailArgs]) error { return nil }
