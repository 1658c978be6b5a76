package jetjobstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type emailArgs struct {
	To string `json:"to"`
}

type reportArgs struct {
	Month string `json:"month"`
}

func enqueue(t *testing.T, c *job.Client, kind string, args any, opts ...job.Option) job.Result {
	t.Helper()
	r, err := c.Enqueue(t.Context(), kind, args, opts...)
	if err != nil {
		t.Fatalf("enqueue %s: %v", kind, err)
	}
	return r
}

// enqueueFew enqueues two emails and two scheduled reports, and returns the
// time the second report is scheduled at.
func enqueueFew(t *testing.T, c *job.Client) time.Time {
	t.Helper()
	at := time.Now().Add(2 * time.Hour)
	enqueue(t, c, "email.send", emailArgs{To: "ada@example.com"}, job.ID("mail-ada"), job.MaxAttempts(3))
	enqueue(t, c, "email.send", emailArgs{To: "bob@example.com"}, job.ID("mail-bob"), job.Queue("mail"))
	enqueue(t, c, "report.build", reportArgs{Month: "2026-11"}, job.ID("report-11"), job.In(time.Hour))
	enqueue(t, c, "report.build", reportArgs{Month: "2026-12"}, job.ID("report-12"), job.At(at))
	return at
}

func TestRequireEnqueuedFindsJobsWithoutConsumingThem(t *testing.T) {
	s := jetjobstest.StartServer(t)
	c := s.Client()
	at := enqueueFew(t, c)

	ada := jetjobstest.RequireEnqueued[emailArgs](t, c, "email.send", jetjobstest.Args(emailArgs{To: "ada@example.com"}))
	if ada.ID != "mail-ada" || ada.Queue != "default" || ada.MaxAttempts != 3 || ada.Args.To != "ada@example.com" || !ada.RunAt.IsZero() || ada.Attempt != 1 {
		t.Errorf("found %+v args %+v run at %v", ada.Info, ada.Args, ada.RunAt)
	}
	bob := jetjobstest.RequireEnqueued[emailArgs](t, c, "email.send",
		jetjobstest.Queue("mail"), jetjobstest.Due(),
		jetjobstest.Match(func(a emailArgs) bool { return a.To == "bob@example.com" }))
	if bob.ID != "mail-bob" || bob.MaxAttempts != 0 {
		t.Errorf("found %+v", bob.Info)
	}
	later := jetjobstest.RequireEnqueued[reportArgs](t, c, "report.build", jetjobstest.Delayed(time.Hour))
	if later.ID != "report-11" || later.Args.Month != "2026-11" || later.RunAt.IsZero() || later.Queue != "default" {
		t.Errorf("found %+v args %+v run at %v", later.Info, later.Args, later.RunAt)
	}
	jetjobstest.RequireEnqueued[reportArgs](t, c, "report.build", jetjobstest.ScheduledAt(at), jetjobstest.ID("report-12"))
	jetjobstest.RequireNotEnqueued(t, c, "email.send", jetjobstest.Queue("other"))
	jetjobstest.RequireNotEnqueued(t, c, "report.build", jetjobstest.Due())

	many := jetjobstest.RequireManyEnqueued(t, c,
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.Args(emailArgs{To: "ada@example.com"})}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.Queue("mail")}},
		jetjobstest.Want{Kind: "report.build", Expect: []jetjobstest.Expect{jetjobstest.Scheduled()}},
		jetjobstest.Want{Kind: "report.build", Expect: []jetjobstest.Expect{jetjobstest.ScheduledAt(at)}},
	)
	if len(many) != 4 || many[0].ID != "mail-ada" || string(many[2].Args) != `{"month":"2026-11"}` {
		t.Errorf("RequireManyEnqueued returned %d jobs, first %+v", len(many), many[0].Info)
	}
	jetjobstest.RequireManyEnqueued(t, c, jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-ada")}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-bob")}})

	// Nothing was consumed: both jobs are still in the work stream.
	st, err := s.JetStream().Stream(t.Context(), s.Topology().Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("the work stream holds %d jobs after the checks, want 2", info.State.Msgs)
	}
}

func TestRequireEnqueuedFailures(t *testing.T) {
	s := jetjobstest.StartServer(t)
	c := s.Client()
	enqueueFew(t, c)

	for _, tc := range []struct {
		name  string
		check func(tb testing.TB)
		wants []string
	}{
		{"wrong args", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[emailArgs](tb, c, "email.send", jetjobstest.Args(emailArgs{To: "eve@example.com"}))
		}, []string{
			`RequireEnqueued: want a job of kind "email.send" with args {To:eve@example.com}; stream JOBS holds 4 jobs:`,
			`1. email.send queue=default id=mail-ada max_attempts=3 args={"to":"ada@example.com"}: args are {To:ada@example.com}`,
			`2. email.send queue=mail id=mail-bob args={"to":"bob@example.com"}: args are {To:bob@example.com}`,
			`3. report.build queue=default id=report-11 scheduled_at=`,
			`: kind is "report.build"`,
		}},
		{"ambiguous", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[emailArgs](tb, c, "email.send")
		}, []string{`RequireEnqueued: 2 jobs of kind "email.send" are, want exactly one`, "RequireManyEnqueued", "id=mail-ada", "id=mail-bob"}},
		{"wrong queue and max attempts", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[emailArgs](tb, c, "email.send", jetjobstest.Queue("mail"), jetjobstest.MaxAttempts(5))
		}, []string{`with queue "mail", max attempts 5;`, `id=mail-ada max_attempts=3 args={"to":"ada@example.com"}: queue is "default"`, `id=mail-bob args={"to":"bob@example.com"}: it sets no max attempts (the pool's limit applies)`}},
		{"not delayed so", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[reportArgs](tb, c, "report.build", jetjobstest.Delayed(time.Minute))
		}, []string{`with delayed by 1m0s;`, `id=report-11`, `: it is scheduled 1h0m`, `id=mail-ada`, `: kind is "email.send"`}},
		{"due, not scheduled", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[emailArgs](tb, c, "email.send", jetjobstest.Scheduled(), jetjobstest.ID("mail-ada"))
		}, []string{`id=mail-ada max_attempts=3 args={"to":"ada@example.com"}: it is due now, not scheduled`}},
		{"args of another type", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[struct{ To int }](tb, c, "email.send", jetjobstest.ID("mail-ada"))
		}, []string{`found email.send queue=default id=mail-ada`, `does not decode into struct { To int }`, "use json.RawMessage"}},
		{"not enqueued", func(tb testing.TB) {
			jetjobstest.RequireNotEnqueued(tb, c, "report.build")
		}, []string{`RequireNotEnqueued: 2 jobs of kind "report.build" are enqueued, want none:`, "1. report.build queue=default id=report-11", "2. report.build queue=default id=report-12"}},
		{"many out of order", func(tb testing.TB) {
			jetjobstest.RequireManyEnqueued(tb, c,
				jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-bob")}},
				jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-ada")}})
		}, []string{
			"RequireManyEnqueued: want these jobs of their kinds, in order:",
			`1. of kind "email.send" with ID "mail-bob"`,
			`2. of kind "email.send" with ID "mail-ada"`,
			"there are 2:",
			`1. email.send queue=default id=mail-ada max_attempts=3 args={"to":"ada@example.com"}: ID is "mail-ada"`,
			`2. email.send queue=mail id=mail-bob args={"to":"bob@example.com"}: ID is "mail-bob"`,
		}},
		{"many, one missing", func(tb testing.TB) {
			jetjobstest.RequireManyEnqueued(tb, c, jetjobstest.Want{Kind: "email.send"})
		}, []string{"there are 2:", "1. email.send", "2. email.send", "not wanted"}},
		{"dead-letter expectation", func(tb testing.TB) {
			jetjobstest.RequireEnqueued[emailArgs](tb, c, "email.send", jetjobstest.Reason(job.ReasonFailed))
		}, []string{"RequireEnqueued: reason failed does not apply to enqueued jobs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := record(t)
			tc.check(r)
			requireContains(t, r.failure(t), tc.wants...)
		})
	}
}

func TestRequireEnqueuedInEmptyNamespace(t *testing.T) {
	s := jetjobstest.StartServer(t, jetjobstest.WithTopology(job.Topology{Stream: "APP", Prefix: "app"}))
	r := record(t)
	jetjobstest.RequireEnqueued[emailArgs](r, s.Client(), "email.send")
	requireContains(t, r.failure(t), `want a job of kind "email.send"; stream APP holds none`)

	enqueue(t, s.Client(), "email.send", emailArgs{To: "ada@example.com"})
	if j := jetjobstest.RequireEnqueued[emailArgs](t, s.Client(), "email.send"); j.Subject != "app.default.email.send" {
		t.Errorf("subject %s", j.Subject)
	}
}

// deadLetters starts a pool on s with register's handlers and calls each
// of enqueues in turn, waiting after each until the pool dead-lettered a
// job, so the dead letters are stored in that order.
func deadLetters(t *testing.T, s *jetjobstest.Server, register func(p *worker.Pool), enqueues ...func()) {
	t.Helper()
	dead := make(chan worker.Event, len(enqueues))
	pooltest.Start(t, s.JetStream(), worker.Config{Hooks: worker.Hooks{OnDeadLetter: func(ev worker.Event) { dead <- ev }}}, register)
	for _, enqueue := range enqueues {
		enqueue()
		select {
		case <-dead:
		case <-time.After(10 * time.Second):
			t.Fatal("the job was not dead-lettered within 10s")
		}
	}
}

func TestRequireDeadLettered(t *testing.T) {
	s := jetjobstest.StartServer(t)
	c := s.Client()
	deadLetters(t, s, func(p *worker.Pool) {
		if err := worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[emailArgs]) error {
			return job.Permanent(errors.New("mailbox " + j.Args.To + " does not exist"))
		}); err != nil {
			t.Fatal(err)
		}
	}, func() {
		enqueue(t, c, "email.send", emailArgs{To: "ada@example.com"}, job.ID("mail-ada"), job.MaxAttempts(3))
	}, func() {
		enqueue(t, c, "email.send", emailArgs{To: "bob@example.com"}, job.ID("mail-bob"))
	}, func() {
		if _, err := s.JetStream().Publish(t.Context(), "jobs.default.email.send", []byte(`{"to":42}`)); err != nil {
			t.Fatal(err)
		}
	})

	ada := jetjobstest.RequireDeadLettered[emailArgs](t, c, "email.send", jetjobstest.Args(emailArgs{To: "ada@example.com"}), jetjobstest.Reason(job.ReasonFailed))
	if ada.ID != "mail-ada" || ada.Attempts != 1 || ada.Error != "mailbox ada@example.com does not exist" || ada.Args.To != "ada@example.com" {
		t.Errorf("found %+v", ada)
	}
	raw := jetjobstest.RequireDeadLettered[json.RawMessage](t, c, "email.send", jetjobstest.Reason(job.ReasonDecode), jetjobstest.ErrorContains("does not decode"))
	if string(raw.Args) != `{"to":42}` {
		t.Errorf("raw payload %s", raw.Args)
	}
	jetjobstest.RequireNotDeadLettered(t, c, "email.send", jetjobstest.Reason(job.ReasonExpired))
	jetjobstest.RequireNotDeadLettered(t, c, "report.build")
	all := jetjobstest.RequireManyDeadLettered(t, c,
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-ada"), jetjobstest.MaxAttempts(3)}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-bob")}},
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.Reason(job.ReasonDecode)}},
	)
	if len(all) != 3 || all[1].Reason != job.ReasonFailed {
		t.Errorf("RequireManyDeadLettered returned %+v", all)
	}

	for _, tc := range []struct {
		name  string
		check func(tb testing.TB)
		wants []string
	}{
		{"wrong reason", func(tb testing.TB) {
			jetjobstest.RequireDeadLettered[emailArgs](tb, c, "email.send", jetjobstest.ID("mail-bob"), jetjobstest.Reason(job.ReasonExpired))
		}, []string{
			`RequireDeadLettered: want a dead letter of kind "email.send" with ID "mail-bob", reason expired; stream JOBS_DLQ holds 3 dead letters:`,
			`1. email.send queue=default id=mail-ada reason=failed attempts=1 max_attempts=3 args={"to":"ada@example.com"} error="mailbox ada@example.com does not exist": ID is "mail-ada"`,
			`2. email.send queue=default id=mail-bob reason=failed attempts=1 args={"to":"bob@example.com"} error="mailbox bob@example.com does not exist": reason is failed`,
			`3. email.send queue=default id=` + raw.ID + ` reason=decode`,
		}},
		{"wrong error", func(tb testing.TB) {
			jetjobstest.RequireDeadLettered[emailArgs](tb, c, "email.send", jetjobstest.ID("mail-bob"), jetjobstest.ErrorContains("timeout"))
		}, []string{`with ID "mail-bob", error containing "timeout"`, `: error is "mailbox bob@example.com does not exist"`}},
		{"not dead-lettered", func(tb testing.TB) {
			jetjobstest.RequireNotDeadLettered(tb, c, "", jetjobstest.Reason(job.ReasonDecode))
		}, []string{`RequireNotDeadLettered: 1 dead letter of any kind with reason decode is stored, want none:`, `1. email.send queue=default id=` + raw.ID + ` reason=decode attempts=1 args={"to":42}`}},
		{"many", func(tb testing.TB) {
			jetjobstest.RequireManyDeadLettered(tb, c, jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.ID("mail-bob")}})
		}, []string{"RequireManyDeadLettered: want these dead letters of their kinds, in order:", "there are 3:", `: ID is "mail-ada"`, "not wanted"}},
		{"job expectation", func(tb testing.TB) {
			jetjobstest.RequireDeadLettered[emailArgs](tb, c, "email.send", jetjobstest.Scheduled())
		}, []string{"RequireDeadLettered: scheduled does not apply to dead letters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := record(t)
			tc.check(r)
			requireContains(t, r.failure(t), tc.wants...)
		})
	}
}

func TestStartServerWithAuth(t *testing.T) {
	s := jetjobstest.StartServer(t, jetjobstest.WithAuth("app", "s3cret"))
	if _, err := nats.Connect(s.URL()); err == nil {
		t.Fatal("a connection without credentials was accepted")
	}
	enqueue(t, s.Client(), "email.send", emailArgs{To: "ada@example.com"})
	js := s.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	jetjobstest.RequireEnqueued[emailArgs](t, c, "email.send")
}
