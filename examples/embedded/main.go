// Command embedded is an HTTP service that enqueues a job on each request
// and works the queue in the same binary: the shape of an application that
// embeds jetjobs. Without NATS_URL it also embeds the NATS server, storing
// jobs in DATA_DIR, so one binary is the whole installation.
//
//	go run ./examples/embedded
//	curl -d '{"email":"ada@example.com"}' localhost:8080/signup
//
// The same port serves GET /metrics (Prometheus: the jobs this process ran
// and the queue figures read from the server), /healthz (alive), /readyz
// (the worker pool is started, connected and not stopping) and the jetjobs
// dashboard under /jobs/ (open http://localhost:8080/jobs/).
//
// SIGINT or SIGTERM shuts it down in order: the HTTP server stops taking
// requests and finishes the ones in flight, then the worker pool lets
// running jobs finish (up to 30s), then the connection and the embedded
// server close.
//
// Environment:
//
//	ADDR      HTTP listen address (default 127.0.0.1:8080; port 0 picks one)
//	NATS_URL  an existing NATS server with JetStream; unset: embed one
//	DATA_DIR  the embedded server's store (default ./embedded-data)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/tracing"
	"github.com/jetjobs/jetjobs/worker"
)

// WelcomeArgs are the arguments of a welcome.send job.
type WelcomeArgs struct {
	Email string `json:"email"`
}

// Kind names the job kind of WelcomeArgs, for EnqueueArgs and Register.
func (WelcomeArgs) Kind() string { return "welcome.send" }

// welcomeWorker sends welcome emails (here: logs that it would).
type welcomeWorker struct {
	worker.WorkerDefaults[WelcomeArgs] // the pool's settings, unless overridden below
	log                                *slog.Logger
}

func (w welcomeWorker) Work(ctx context.Context, j *job.Job[WelcomeArgs]) error {
	// A real worker would call the mail provider with j.ID as idempotency
	// key, so a job that runs twice sends one email.
	w.log.LogAttrs(ctx, slog.LevelInfo, "welcome email sent",
		slog.String("job_id", j.ID), slog.String("email", j.Args.Email), slog.Int("attempt", j.Attempt))
	return nil
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("embedded: " + err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger) error {
	// NATS: the given server, or one embedded in this process.
	var connectOpts []nats.Option
	url := os.Getenv("NATS_URL")
	if url == "" {
		srv, err := startEmbedded(envOr("DATA_DIR", "embedded-data"))
		if err != nil {
			return err
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown(); log.Info("embedded NATS server stopped") }()
		connectOpts = append(connectOpts, nats.InProcessServer(srv))
		log.Info("embedded NATS server started", slog.String("store", srv.StoreDir()))
	}
	nc, err := nats.Connect(url, append(connectOpts, nats.Name("embedded example"), nats.MaxReconnects(-1))...)
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// Metrics of the jobs this process runs and of its queues, for /metrics.
	coll, err := metrics.New(js, metrics.Config{})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Tracing through the global OpenTelemetry tracer provider: a no-op
	// until the application installs one with an exporter
	// (otel.SetTracerProvider); then each attempt's span is a child of the
	// request that enqueued the job.
	traces := tracing.Config{}

	// The worker pool, in this process. Start creates the streams.
	cfg := worker.Config{
		Logger:          log,
		ShutdownTimeout: 30 * time.Second,
		Middleware:      []job.Middleware{tracing.Middleware(traces)},
	}
	coll.Instrument(&cfg) // before worker.New
	pool, err := worker.New(js, cfg)
	if err != nil {
		return err
	}
	if err := worker.Register(pool, welcomeWorker{log: log}); err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil {
		return err
	}
	client, err := job.NewClient(js, job.ClientConfig{BeforePublish: tracing.BeforePublish(traces)})
	if err != nil {
		return err
	}

	// The HTTP service, which enqueues.
	ln, err := net.Listen("tcp", envOr("ADDR", "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	health := metrics.NewHandler(metrics.HandlerConfig{Gatherer: reg, Ready: pool.Ready})
	// The dashboard, under /jobs/. It has no authentication of its own: a
	// real application wraps it in its own (this one listens on loopback).
	dash, err := dashboard.New(js, dashboard.Config{Prefix: "/jobs", Logger: log})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: routes(client, health, dash, log), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("listening", slog.String("addr", ln.Addr().String()))

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	log.Info("shutting down")
	// Order matters: no new requests (so no new jobs), then let running jobs
	// finish, then close the connection and the embedded server (deferred).
	hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	herr := hs.Shutdown(hctx)
	pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	perr := pool.Stop(pctx)
	log.Info("stopped")
	return errors.Join(herr, perr)
}

// routes serves the application's endpoint and, from health, /metrics,
// /healthz and /readyz, and the dashboard under /jobs/.
func routes(client *job.Client, health, dash http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle(path, health)
	}
	mux.Handle("/jobs/", dash)
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		var args WelcomeArgs
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&args); err != nil || args.Email == "" {
			http.Error(w, `want {"email": "..."}`, http.StatusBadRequest)
			return
		}
		// One welcome per address within the duplicate window, however often
		// the form is submitted.
		res, err := client.EnqueueArgs(r.Context(), args, job.ID("welcome:"+args.Email))
		if err != nil {
			log.LogAttrs(r.Context(), slog.LevelError, "enqueue failed", slog.String("error", err.Error()))
			status := http.StatusInternalServerError
			if errors.Is(err, job.ErrQueueFull) {
				status = http.StatusServiceUnavailable
			}
			http.Error(w, "could not enqueue the welcome email", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"job_id": res.ID, "duplicate": res.Duplicate})
	})
	return mux
}

// startEmbedded starts a NATS server with JetStream inside this process. It
// accepts no network clients: the application connects in-process.
func startEmbedded(store string) (*server.Server, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "embedded-example",
		JetStream:  true,
		StoreDir:   store,
		DontListen: true,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("the embedded NATS server did not start")
	}
	return srv, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
