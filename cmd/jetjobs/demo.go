package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

func init() { register("", newDemoCommand) }

func newDemoCommand(a *app) *cobra.Command {
	var ui string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See jetjobs work: a server, a worker pool and a few jobs, in one process",
		Long: `Start an embedded NATS server with JetStream in a temporary store, a worker pool
and a few sample jobs, one of which fails once and is retried and one of which
fails every attempt and ends in the dead letters; print what happened, then
clean up. Nothing is left behind and no port is opened.

With --ui ADDR it then serves the web dashboard of the demo on ADDR and keeps
everything up until Ctrl-C: open the address it prints.`,
		Example: `  jetjobs demo
  jetjobs demo --ui 127.0.0.1:8090`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ui != "" {
				if err := checkDashboardListen("--ui", ui, false, false); err != nil {
					return err
				}
			}
			log := a.log
			if !cmd.Flags().Changed("log-level") {
				log = slog.New(slog.DiscardHandler) // the narration says it all
			}
			return runDemo(cmd.Context(), a.stdout, log, func(ctx context.Context, srv *server.Server) error {
				if ui == "" {
					fmt.Fprintf(a.stdout, "\nSee it in the web dashboard: jetjobs demo --ui %s\n", defaultUIListen)
					return nil
				}
				fmt.Fprintln(a.stdout)
				done, err := a.serverUI(ctx, log, srv, nil, job.Topology{}, ui)
				if err != nil {
					return err
				}
				return <-done
			})
		},
	}
	cmd.Flags().StringVar(&ui, "ui", "", "then serve the web dashboard on this host:port (such as "+defaultUIListen+") until interrupted")
	return cmd
}

// Sample job arguments of the demo.
type (
	demoEmail struct {
		To      string `json:"to"`
		Subject string `json:"subject"`
	}
	demoReport struct {
		Month string `json:"month"`
	}
	demoResize struct {
		Image string `json:"image"`
	}
)

// runDemo runs the demo, narrating to out, and calls after with the
// server before it cleans up.
func runDemo(ctx context.Context, out io.Writer, log *slog.Logger, after func(context.Context, *server.Server) error) error {
	store, err := os.MkdirTemp("", "jetjobs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	srv, err := startServer(ctx, &server.Options{
		JetStream: true, StoreDir: store, DontListen: true, NoSigs: true, ServerName: "jetjobs-demo",
	}, log)
	if err != nil {
		return err
	}
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	say("jetjobs demo: an embedded NATS server with JetStream (store %s, removed at the end)", store)

	// Settled counts the jobs that reached an end: succeeded or dead.
	settled := make(chan struct{}, 16)
	pool, err := worker.New(js, worker.Config{
		Logger:      log,
		RetryPolicy: retry.Exponential{Initial: 300 * time.Millisecond, Jitter: retry.NoJitter},
		Hooks: worker.Hooks{OnEvent: func(ev worker.Event) {
			switch ev.Outcome {
			case worker.OutcomeSucceeded:
				say("  ✓ %-13s %-18s attempt %d succeeded", ev.Info.Kind, ev.Info.ID, ev.Info.Attempt)
				settled <- struct{}{}
			case worker.OutcomeRetried:
				say("  ↻ %-13s %-18s attempt %d failed (%v); retrying in %s", ev.Info.Kind, ev.Info.ID, ev.Info.Attempt, short(ev.Err), ev.Delay)
			case worker.OutcomeDeadLettered:
				say("  ✗ %-13s %-18s attempt %d failed (%v); dead-lettered, reason %s", ev.Info.Kind, ev.Info.ID, ev.Info.Attempt, short(ev.Err), ev.Reason)
				settled <- struct{}{}
			default:
				say("  · %-13s %-18s %s", ev.Info.Kind, ev.Info.ID, ev.Outcome)
			}
		}},
	})
	if err != nil {
		return err
	}
	must := func(err error) {
		if err != nil {
			panic(err) // registration of fixed demo kinds cannot fail
		}
	}
	must(worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[demoEmail]) error {
		return nil // a real handler would send j.Args.Subject to j.Args.To
	}))
	must(worker.Handle(pool, "report.build", func(ctx context.Context, j *job.Job[demoReport]) error {
		if j.Attempt == 1 {
			return errors.New("database busy")
		}
		return nil
	}))
	must(worker.Handle(pool, "image.resize", func(ctx context.Context, j *job.Job[demoResize]) error {
		return fmt.Errorf("cannot read %s: unsupported format", j.Args.Image)
	}))
	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		return err
	}
	if err := client.EnsureTopology(ctx); err != nil {
		return err
	}
	type sample struct {
		kind string
		args any
		opts []job.Option
		note string
	}
	samples := []sample{
		{"email.send", demoEmail{To: "ada@example.com", Subject: "Welcome"}, []job.Option{job.ID("welcome-ada")}, "succeeds"},
		{"email.send", demoEmail{To: "alan@example.com", Subject: "Welcome"}, []job.Option{job.ID("welcome-alan")}, "succeeds"},
		{"report.build", demoReport{Month: "2026-01"}, []job.Option{job.ID("report-2026-01")}, "fails once, then succeeds"},
		{"image.resize", demoResize{Image: "cat.bmp"}, []job.Option{job.ID("resize-cat"), job.MaxAttempts(2)}, "fails both of its 2 attempts"},
		{"email.send", []byte(`{"to": 42}`), []job.Option{job.ID("bad-payload")}, "has a payload that does not decode"},
	}
	say("enqueueing %d jobs:", len(samples))
	for _, s := range samples {
		r, err := client.Enqueue(ctx, s.kind, s.args, s.opts...)
		if err != nil {
			return err
		}
		say("  + %-13s %-18s %s", s.kind, r.ID, s.note)
	}
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Start(startCtx); err != nil {
		return err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = pool.Stop(sctx)
		}
	}
	defer stop()
	say("\nworker pool started on queue %q for kinds %s; what it did:", job.DefaultQueue, strings.Join(pool.Kinds(), ", "))

	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for range samples {
		select {
		case <-settled:
		case <-deadline.C:
			return errors.New("demo: the jobs did not finish within 30s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stop()

	say("\njetjobs queues:")
	stats, err := client.Inspector().Queues(ctx)
	if err != nil {
		return err
	}
	mu.Lock()
	t := newTable(out, "  QUEUE", "PENDING", "RUNNING", "DEAD")
	for _, s := range stats {
		t.row("  "+s.Queue, u(s.Pending), fmt.Sprint(s.Running), u(s.DeadLetters))
	}
	_ = t.flush()
	mu.Unlock()

	say("\njetjobs dlq ls:")
	dls, err := client.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil {
		return err
	}
	mu.Lock()
	t = newTable(out, "  ID", "KIND", "REASON", "ATTEMPTS", "ERROR")
	for _, dl := range dls {
		t.row("  "+dl.ID, dl.Kind, string(dl.Reason), fmt.Sprint(dl.Attempts), truncate(strings.ReplaceAll(dl.Error, "jetjobs: ", ""), 60))
	}
	_ = t.flush()
	mu.Unlock()

	say(`
Next, for real (each in its own terminal):
  jetjobs server                                         # NATS + JetStream, store in ./%s
  jetjobs worker --exec 'email.send=cat; echo sent >&2'  # run a command per job
  jetjobs enqueue email.send '{"to":"ada@example.com"}'  # enqueue; prints the job ID
  jetjobs queues; jetjobs dlq ls                         # look inside
Or embed it: see examples/ and the worker and job packages.`, defaultStore)
	if after != nil {
		return after(ctx, srv)
	}
	return nil
}

// short is err's message without the package prefixes, cut to fit a line.
func short(err error) string {
	return truncate(strings.ReplaceAll(err.Error(), "jetjobs: ", ""), 70)
}
