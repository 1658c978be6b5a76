// Command quickstart is the shortest complete tour of jetjobs: it starts an
// embedded NATS server with JetStream in a temporary directory, registers
// three typed handlers, enqueues jobs, and prints what happens to each: one
// succeeds, one fails once and succeeds on retry, one fails permanently and
// lands in dead letters. It exits 0 when all three ended as expected.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

// EmailArgs are the arguments of an "email.send" job.
type EmailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// ReportArgs are the arguments of a "report.build" job.
type ReportArgs struct {
	Month string `json:"month"`
}

// ChargeArgs are the arguments of a "payment.charge" job.
type ChargeArgs struct {
	Cents int `json:"cents"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 1. An embedded server with JetStream, storing in a temporary directory.
	dir, err := os.MkdirTemp("", "jetjobs-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		return err
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		return errors.New("embedded server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	fmt.Printf("embedded NATS %s with JetStream in %s\n", srv.ID()[:8], dir)

	// 2. A worker pool with typed handlers. Retries wait 200ms here so the
	// tour is quick; the default is exponential from 1s to 1h.
	ended := make(chan worker.Event, 16)
	pool, err := worker.New(js, worker.Config{
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1})),
		RetryPolicy: retry.Constant(200 * time.Millisecond),
		Hooks: worker.Hooks{OnEvent: func(ev worker.Event) {
			ended <- ev
		}},
	})
	if err != nil {
		return err
	}
	err = errors.Join(
		worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[EmailArgs]) error {
			fmt.Printf("  email.send     attempt %d: sending %q to %s\n", j.Attempt, j.Args.Subject, j.Args.To)
			return nil
		}),
		worker.Handle(pool, "report.build", func(ctx context.Context, j *job.Job[ReportArgs]) error {
			if j.Attempt == 1 {
				fmt.Printf("  report.build   attempt %d: database busy, failing\n", j.Attempt)
				return errors.New("database busy")
			}
			fmt.Printf("  report.build   attempt %d: built report for %s\n", j.Attempt, j.Args.Month)
			return nil
		}),
		worker.Handle(pool, "payment.charge", func(ctx context.Context, j *job.Job[ChargeArgs]) error {
			fmt.Printf("  payment.charge attempt %d: card declined\n", j.Attempt)
			return job.Permanent(fmt.Errorf("card declined for %d cents", j.Args.Cents))
		}),
	)
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}

	// 3. Enqueue: typed arguments become the JSON payload of one message.
	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		return err
	}
	fmt.Println("enqueueing 3 jobs")
	for _, j := range []struct {
		kind string
		args any
	}{
		{"email.send", EmailArgs{To: "ada@example.com", Subject: "Welcome"}},
		{"report.build", ReportArgs{Month: "2026-11"}},
		{"payment.charge", ChargeArgs{Cents: 4200}},
	} {
		if _, err := client.Enqueue(ctx, j.kind, j.args, job.MaxAttempts(3)); err != nil {
			return err
		}
	}

	// 4. Wait for every job to reach its end.
	final := map[string]worker.Outcome{}
	for len(final) < 3 {
		select {
		case ev := <-ended:
			fmt.Printf("  -> %s: %s", ev.Info.Kind, ev.Outcome)
			if ev.Delay > 0 {
				fmt.Printf(" (again in %s)", ev.Delay)
			}
			if ev.Reason != "" {
				fmt.Printf(" (reason %s)", ev.Reason)
			}
			fmt.Println()
			if ev.Outcome == worker.OutcomeSucceeded || ev.Outcome == worker.OutcomeDeadLettered {
				final[ev.Info.Kind] = ev.Outcome
			}
		case <-ctx.Done():
			return fmt.Errorf("jobs did not finish: %w", ctx.Err())
		}
	}

	// 5. Dead letters keep the payload and say why.
	dls, err := client.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil {
		return err
	}
	fmt.Printf("%d dead letter(s):\n", len(dls))
	for _, dl := range dls {
		fmt.Printf("  %s %s reason=%s attempts=%d error=%q payload=%s\n", dl.ID, dl.Kind, dl.Reason, dl.Attempts, dl.Error, dl.Payload)
	}

	// 6. Graceful shutdown: in-flight jobs may finish within the deadline.
	stopCtx, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer stopCancel()
	if err := pool.Stop(stopCtx); err != nil {
		return err
	}
	want := map[string]worker.Outcome{
		"email.send": worker.OutcomeSucceeded, "report.build": worker.OutcomeSucceeded, "payment.charge": worker.OutcomeDeadLettered,
	}
	for k, o := range want {
		if final[k] != o {
			return fmt.Errorf("%s ended %s, want %s", k, final[k], o)
		}
	}
	if len(dls) != 1 {
		return fmt.Errorf("%d dead letters, want 1", len(dls))
	}
	fmt.Println("done: 2 succeeded (one after a retry), 1 dead-lettered")
	return nil
}
