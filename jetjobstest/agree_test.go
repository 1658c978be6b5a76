package jetjobstest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

var errBadInput = errors.New("bad input")

// permanentBadInput is middleware that makes errBadInput permanent, so the
// table covers the pool's middleware path.
func permanentBadInput(next job.Handler) job.Handler {
	return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
		err := next.Handle(ctx, info)
		if errors.Is(err, errBadInput) {
			return job.Permanent(err)
		}
		return err
	})
}

// agreeCase is one job run both inline and on a pool. The pool's copy is
// enqueued with enqueue, or published raw with header and payload when
// those are set; the inline copy gets work.
type agreeCase struct {
	name    string
	handler func(ctx context.Context, j *job.Job[emailArgs]) error
	enqueue []job.Option
	header  nats.Header
	payload []byte
	work    []jetjobstest.WorkOption
	want    worker.Outcome
	reason  job.Reason
}

func agreeCases() []agreeCase {
	ok := func(context.Context, *job.Job[emailArgs]) error { return nil }
	fail := func(context.Context, *job.Job[emailArgs]) error { return errors.New("smtp down") }
	past := time.Now().Add(-time.Minute)
	return []agreeCase{
		{name: "success", handler: ok, want: worker.OutcomeSucceeded},
		{name: "error", handler: fail, want: worker.OutcomeRetried},
		{name: "last-attempt", handler: fail, enqueue: []job.Option{job.MaxAttempts(1)},
			work: []jetjobstest.WorkOption{jetjobstest.WithMaxAttempts(1)}, want: worker.OutcomeDeadLettered, reason: job.ReasonFailed},
		{name: "permanent", handler: func(context.Context, *job.Job[emailArgs]) error {
			return job.Permanent(errors.New("no such mailbox"))
		}, want: worker.OutcomeDeadLettered, reason: job.ReasonFailed},
		{name: "middleware", handler: func(context.Context, *job.Job[emailArgs]) error { return errBadInput },
			want: worker.OutcomeDeadLettered, reason: job.ReasonFailed},
		{name: "snooze", handler: func(context.Context, *job.Job[emailArgs]) error { return job.Snooze(time.Hour) },
			want: worker.OutcomeSnoozed},
		{name: "cancel", handler: func(context.Context, *job.Job[emailArgs]) error { return job.Cancel(errors.New("user left")) },
			want: worker.OutcomeDeadLettered, reason: job.ReasonCanceled},
		{name: "panic", handler: func(context.Context, *job.Job[emailArgs]) error { panic("kaboom") },
			want: worker.OutcomeRetried},
		{name: "timeout", handler: func(ctx context.Context, _ *job.Job[emailArgs]) error {
			<-ctx.Done()
			return ctx.Err()
		}, enqueue: []job.Option{job.Timeout(20 * time.Millisecond)},
			work: []jetjobstest.WorkOption{jetjobstest.WithTimeout(20 * time.Millisecond)}, want: worker.OutcomeRetried},
		{name: "undecodable", handler: ok, payload: []byte(`{"to":42}`), header: nats.Header{job.HeaderID: {"undecodable"}},
			work: []jetjobstest.WorkOption{jetjobstest.WithPayload([]byte(`{"to":42}`))}, want: worker.OutcomeDeadLettered, reason: job.ReasonDecode},
		{name: "bad-header", handler: ok, payload: []byte(`{"to":"ada@example.com"}`), header: nats.Header{job.HeaderID: {"bad-header"}, job.HeaderMaxAttempts: {"many"}},
			work: []jetjobstest.WorkOption{jetjobstest.WithHeader(job.HeaderMaxAttempts, "many")}, want: worker.OutcomeDeadLettered, reason: job.ReasonDecode},
		{name: "expired", handler: ok, enqueue: []job.Option{job.Deadline(past)},
			work: []jetjobstest.WorkOption{jetjobstest.WithDeadline(past)}, want: worker.OutcomeDeadLettered, reason: job.ReasonExpired},
	}
}

// TestWorkAgreesWithPool runs each case on a pool on a real server and
// inline, and requires the same outcome, reason, delay, error and Info.
func TestWorkAgreesWithPool(t *testing.T) {
	cases := agreeCases()
	cfg := worker.Config{RetryPolicy: retry.Constant(time.Hour), Middleware: []job.Middleware{permanentBadInput}}

	s := jetjobstest.StartServer(t)
	events := make(chan worker.Event, 2*len(cases))
	poolCfg := cfg
	poolCfg.Hooks = worker.Hooks{OnEvent: func(ev worker.Event) { events <- ev }}
	pooltest.Start(t, s.JetStream(), poolCfg, func(p *worker.Pool) {
		for _, tc := range cases {
			if err := worker.Handle(p, "agree."+tc.name, tc.handler); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, tc := range cases {
		kind := "agree." + tc.name
		if tc.payload != nil {
			msg := &nats.Msg{Subject: "jobs.default." + kind, Header: tc.header, Data: tc.payload}
			if _, err := s.JetStream().PublishMsg(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
			continue
		}
		enqueue(t, s.Client(), kind, emailArgs{To: "ada@example.com"}, append([]job.Option{job.ID(tc.name)}, tc.enqueue...)...)
	}
	byID := map[string]worker.Event{}
	for len(byID) < len(cases) {
		select {
		case ev := <-events:
			if _, seen := byID[ev.Info.ID]; !seen { // the first delivery's
				byID[ev.Info.ID] = ev
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the pool settled %d of %d jobs within 10s", len(byID), len(cases))
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := byID[tc.name]
			opts := append([]jetjobstest.WorkOption{jetjobstest.WithConfig(cfg), jetjobstest.WithID(tc.name)}, tc.work...)
			r := jetjobstest.WorkFunc(t, "agree."+tc.name, tc.handler, emailArgs{To: "ada@example.com"}, opts...)
			if ev.Outcome != tc.want || ev.Reason != tc.reason {
				t.Errorf("pool: %s (reason %q), want %s (reason %q); error %v", ev.Outcome, ev.Reason, tc.want, tc.reason, ev.Err)
			}
			if r.Outcome != ev.Outcome || r.Reason != ev.Reason || r.Delay != ev.Delay {
				t.Errorf("inline: %s; pool: %s (reason %q) for %s", r, ev.Outcome, ev.Reason, ev.Delay)
			}
			if errText(r.Err) != errText(ev.Err) {
				t.Errorf("inline error %q, pool error %q", errText(r.Err), errText(ev.Err))
			}
			if (r.Duration == 0) != (ev.Duration == 0) {
				t.Errorf("inline ran for %s, pool for %s", r.Duration, ev.Duration)
			}
			a, b := r.Info, ev.Info
			if a.ID != b.ID || a.Queue != b.Queue || a.Kind != b.Kind || a.Subject != b.Subject || a.Attempt != b.Attempt ||
				a.MaxAttempts != b.MaxAttempts || a.Timeout != b.Timeout || !a.Deadline.Equal(b.Deadline) || string(a.Payload) != string(b.Payload) {
				t.Errorf("inline info %+v\npool info   %+v", a, b)
			}
		})
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
