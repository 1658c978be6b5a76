package jetjobstest_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/jetjobstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

// exampleT stands in for the *testing.T a test has and an Example does
// not: it prints failures instead of failing, so the examples can show
// them, and runs its cleanups at done.
type exampleT struct {
	testing.TB
	cleanups []func()
}

func (t *exampleT) Helper()                           {}
func (t *exampleT) Context() context.Context          { return context.Background() }
func (t *exampleT) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Fatalf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }

func (t *exampleT) TempDir() string {
	dir, err := os.MkdirTemp("", "jetjobstest-example-")
	if err != nil {
		panic(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func (t *exampleT) done() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
}

// InvoiceArgs are the arguments of an "invoice.send" job.
type InvoiceArgs struct {
	Customer string `json:"customer"`
	Cents    int    `json:"cents"`
}

// Kind names the job kind of InvoiceArgs.
func (InvoiceArgs) Kind() string { return "invoice.send" }

// InvoiceWorker sends invoices: the mail gateway is down on the first two
// attempts, and an invoice of no amount is a mistake no retry fixes.
type InvoiceWorker struct {
	worker.WorkerDefaults[InvoiceArgs]
}

// RetryPolicy waits a minute between attempts.
func (InvoiceWorker) RetryPolicy() retry.Policy { return retry.Constant(time.Minute) }

// Work sends one invoice.
func (InvoiceWorker) Work(ctx context.Context, j *job.Job[InvoiceArgs]) error {
	if j.Args.Cents <= 0 {
		return job.Permanent(fmt.Errorf("invoice for %s has no amount", j.Args.Customer))
	}
	if j.Attempt < 3 {
		return errors.New("mail gateway unavailable")
	}
	return nil
}

// Work runs one attempt of a worker's job the way a pool would, with no
// server, and says what the pool would have done.
func ExampleWork() {
	t := &exampleT{} // in a test: the *testing.T
	defer t.done()

	args := InvoiceArgs{Customer: "acme", Cents: 4200}
	fmt.Println(jetjobstest.Work(t, InvoiceWorker{}, args))
	fmt.Println(jetjobstest.Work(t, InvoiceWorker{}, args, jetjobstest.WithAttempt(3)))
	fmt.Println(jetjobstest.Work(t, InvoiceWorker{}, args, jetjobstest.WithAttempt(2), jetjobstest.WithMaxAttempts(2)))
	fmt.Println(jetjobstest.Work(t, InvoiceWorker{}, InvoiceArgs{Customer: "acme"}))
	// Output:
	// retried for 1m0s: mail gateway unavailable
	// succeeded
	// dead_lettered (reason failed): mail gateway unavailable
	// dead_lettered (reason failed): invoice for acme has no amount
}

// WorkFunc runs a handler function; panics, timeouts and payloads that do
// not decode end as they would on a pool.
func ExampleWorkFunc() {
	t := &exampleT{}
	defer t.done()

	resize := func(ctx context.Context, j *job.Job[struct{ Width int }]) error {
		if j.Args.Width == 0 {
			panic("width 0")
		}
		<-ctx.Done() // a slow resize
		return ctx.Err()
	}
	cfg := jetjobstest.WithConfig(worker.Config{RetryPolicy: retry.Constant(time.Second)})
	fmt.Println(jetjobstest.WorkFunc(t, "image.resize", resize, struct{ Width int }{}, cfg))
	fmt.Println(jetjobstest.WorkFunc(t, "image.resize", resize, struct{ Width int }{640}, cfg, jetjobstest.WithTimeout(10*time.Millisecond)))
	r := jetjobstest.WorkFunc(t, "image.resize", resize, struct{ Width int }{}, jetjobstest.WithPayload([]byte(`{"Width":"wide"}`)))
	fmt.Println(r.Outcome, r.Reason)
	// Output:
	// retried for 1s: jetjobs: handler panic: width 0
	// retried for 1s: context deadline exceeded
	// dead_lettered decode
}

// StartServer gives a test its own server with the streams of a namespace,
// and a client for it.
func ExampleStartServer() {
	t := &exampleT{}
	defer t.done()

	s := jetjobstest.StartServer(t, jetjobstest.WithTopology(job.Topology{Stream: "BILLING", Prefix: "billing"}))
	r, err := s.Client().EnqueueArgs(t.Context(), InvoiceArgs{Customer: "acme", Cents: 4200}, job.ID("invoice-1"))
	fmt.Println(r.ID, err)
	j := jetjobstest.RequireEnqueued[InvoiceArgs](t, s.Client(), "invoice.send")
	fmt.Println(j.Subject, j.Args.Customer)
	// Output:
	// invoice-1 <nil>
	// billing.default.invoice.send acme
}

// RequireEnqueued finds the one job that meets the expectations, or lists
// what the streams hold instead.
func ExampleRequireEnqueued() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	c := s.Client()

	// The code under test enqueues:
	c.EnqueueArgs(t.Context(), InvoiceArgs{Customer: "acme", Cents: 4200}, job.ID("invoice-1"), job.Queue("billing"), job.MaxAttempts(3))

	j := jetjobstest.RequireEnqueued[InvoiceArgs](t, c, "invoice.send",
		jetjobstest.Queue("billing"),
		jetjobstest.MaxAttempts(3),
		jetjobstest.Match(func(a InvoiceArgs) bool { return a.Cents > 0 }))
	fmt.Println(j.ID, j.Args.Customer, j.Args.Cents)

	jetjobstest.RequireEnqueued[InvoiceArgs](t, c, "invoice.send", jetjobstest.Args(InvoiceArgs{Customer: "initech", Cents: 4200}))
	// Output:
	// invoice-1 acme 4200
	// FAIL: jetjobstest: RequireEnqueued: want a job of kind "invoice.send" with args {Customer:initech Cents:4200}; stream JOBS holds 1 job:
	// 	1. invoice.send queue=billing id=invoice-1 max_attempts=3 args={"customer":"acme","cents":4200}: args are {Customer:acme Cents:4200}
}

// RequireNotEnqueued fails if any job meets the expectations.
func ExampleRequireNotEnqueued() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	c := s.Client()
	c.EnqueueArgs(t.Context(), InvoiceArgs{Customer: "acme", Cents: 4200}, job.ID("invoice-1"))

	jetjobstest.RequireNotEnqueued(t, c, "invoice.send", jetjobstest.Queue("billing")) // passes
	jetjobstest.RequireNotEnqueued(t, c, "")                                           // no job of any kind
	// Output:
	// FAIL: jetjobstest: RequireNotEnqueued: 1 job of any kind is enqueued, want none:
	// 	1. invoice.send queue=default id=invoice-1 args={"customer":"acme","cents":4200}
}

// RequireManyEnqueued checks the jobs of some kinds in the order they were
// enqueued, delayed ones included.
func ExampleRequireManyEnqueued() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	c := s.Client()
	c.Enqueue(t.Context(), "email.send", map[string]string{"to": "ada@example.com"})
	c.EnqueueArgs(t.Context(), InvoiceArgs{Customer: "acme", Cents: 4200}, job.In(24*time.Hour))

	jobs := jetjobstest.RequireManyEnqueued(t, c,
		jetjobstest.Want{Kind: "email.send", Expect: []jetjobstest.Expect{jetjobstest.Due()}},
		jetjobstest.Want{Kind: "invoice.send", Expect: []jetjobstest.Expect{jetjobstest.Delayed(24 * time.Hour)}},
	)
	for _, j := range jobs {
		fmt.Println(j.Kind, string(j.Args), !j.RunAt.IsZero())
	}
	// Output:
	// email.send {"to":"ada@example.com"} false
	// invoice.send {"customer":"acme","cents":4200} true
}

// deadLetterInvoices runs InvoiceWorker on a pool on s until each of the
// invoices is dead-lettered, in order.
func deadLetterInvoices(t *exampleT, s *jetjobstest.Server, invoices ...InvoiceArgs) {
	dead := make(chan worker.Event, len(invoices))
	pool, _ := worker.New(s.JetStream(), worker.Config{
		Logger: quietExampleLogger,
		Hooks:  worker.Hooks{OnDeadLetter: func(ev worker.Event) { dead <- ev }},
	})
	worker.Register(pool, InvoiceWorker{})
	if err := pool.Start(t.Context()); err != nil {
		panic(err)
	}
	defer pool.Stop(t.Context())
	for i, inv := range invoices {
		s.Client().EnqueueArgs(t.Context(), inv, job.ID(fmt.Sprint("invoice-", i+1)))
		<-dead
	}
}

// RequireDeadLettered finds the one dead letter that meets the
// expectations.
func ExampleRequireDeadLettered() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	deadLetterInvoices(t, s, InvoiceArgs{Customer: "acme"})

	dl := jetjobstest.RequireDeadLettered[InvoiceArgs](t, s.Client(), "invoice.send",
		jetjobstest.Reason(job.ReasonFailed), jetjobstest.ErrorContains("no amount"))
	fmt.Println(dl.ID, dl.Args.Customer, dl.Attempts, dl.Error)
	// Output:
	// invoice-1 acme 1 invoice for acme has no amount
}

// RequireNotDeadLettered fails if any dead letter meets the expectations.
func ExampleRequireNotDeadLettered() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	deadLetterInvoices(t, s, InvoiceArgs{Customer: "acme"})

	jetjobstest.RequireNotDeadLettered(t, s.Client(), "invoice.send", jetjobstest.Reason(job.ReasonDecode)) // passes
	jetjobstest.RequireNotDeadLettered(t, s.Client(), "invoice.send", jetjobstest.Args(InvoiceArgs{Customer: "acme"}))
	// Output:
	// FAIL: jetjobstest: RequireNotDeadLettered: 1 dead letter of kind "invoice.send" with args {Customer:acme Cents:0} is stored, want none:
	// 	1. invoice.send queue=default id=invoice-1 reason=failed attempts=1 args={"customer":"acme","cents":0} error="invoice for acme has no amount"
}

// RequireManyDeadLettered checks dead letters oldest first.
func ExampleRequireManyDeadLettered() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	deadLetterInvoices(t, s, InvoiceArgs{Customer: "acme"}, InvoiceArgs{Customer: "initech", Cents: -1})

	dls := jetjobstest.RequireManyDeadLettered(t, s.Client(),
		jetjobstest.Want{Kind: "invoice.send", Expect: []jetjobstest.Expect{jetjobstest.ID("invoice-1")}},
		jetjobstest.Want{Kind: "invoice.send", Expect: []jetjobstest.Expect{jetjobstest.Match(func(a InvoiceArgs) bool { return a.Cents < 0 })}},
	)
	for _, dl := range dls {
		fmt.Println(dl.ID, dl.Reason, string(dl.Args))
	}
	// Output:
	// invoice-1 failed {"customer":"acme","cents":0}
	// invoice-2 failed {"customer":"initech","cents":-1}
}

var quietExampleLogger = slog.New(slog.DiscardHandler)

// StartPool runs a real pool on the test server; Drain waits until the
// work is done, retries and follow-on jobs included, and says how each
// delivery ended. A retry due after the wait (InvoiceWorker waits a minute
// between attempts) is left waiting.
func ExamplePool_Drain() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)
	c := s.Client()

	p := jetjobstest.StartPool(t, s, worker.Config{RetryPolicy: retry.Constant(10 * time.Millisecond)}, func(p *worker.Pool) error {
		return errors.Join(
			worker.Register(p, InvoiceWorker{}),
			worker.Handle(p, "order.place", func(ctx context.Context, j *job.Job[InvoiceArgs]) error {
				if j.Attempt == 1 {
					return errors.New("inventory busy")
				}
				_, err := c.EnqueueArgs(ctx, j.Args, job.ID("invoice-1"))
				return err
			}),
		)
	})
	c.Enqueue(t.Context(), "order.place", InvoiceArgs{Customer: "acme", Cents: 4200}, job.ID("order-1"))

	events := p.Drain(t, 5*time.Second)
	// Events come as deliveries settle (a success once its acknowledgement
	// is confirmed): sort them for a stable listing.
	slices.SortFunc(events, func(a, b worker.Event) int {
		return cmp.Or(cmp.Compare(a.Info.ID, b.Info.ID), cmp.Compare(a.Info.Attempt, b.Info.Attempt))
	})
	for _, ev := range events {
		fmt.Println(ev.Info.ID, ev.Info.Attempt, ev.Outcome, ev.Delay)
	}
	// Output:
	// invoice-1 1 retried 1m0s
	// order-1 1 retried 10ms
	// order-1 2 succeeded 0s
}

// StartPool starts a real pool on the test server, stopped when the test
// ends; the pool's own hooks still fire.
func ExampleStartPool() {
	t := &exampleT{}
	defer t.done()
	s := jetjobstest.StartServer(t)

	var sent []string
	p := jetjobstest.StartPool(t, s, worker.Config{}, func(p *worker.Pool) error {
		return worker.Handle(p, "email.send", func(ctx context.Context, j *job.Job[struct{ To string }]) error {
			sent = append(sent, j.Args.To) // one job at a time here: Drain reads it after
			return nil
		})
	})
	s.Client().Enqueue(t.Context(), "email.send", struct{ To string }{"ada@example.com"})

	events := p.Drain(t, 5*time.Second)
	fmt.Println(len(events), events[0].Outcome, sent)
	// Output:
	// 1 succeeded [ada@example.com]
}
