// Command standalone is a worker process: it serves queues of a NATS server
// with typed Go handlers, configured from the environment, and shuts down
// gracefully on SIGINT or SIGTERM. Any service enqueues the jobs; run as
// many copies as the load needs, on as many machines.
//
//	jetjobs server &                      # or any NATS server with JetStream
//	go run ./examples/standalone
//	jetjobs enqueue email.send '{"to":"ada@example.com","subject":"Hi"}'
//
// Environment:
//
//	NATS_URL                  default nats://127.0.0.1:4222
//	NATS_CREDS                credentials file, if the server needs one
//	JETJOBS_QUEUES            queues to serve, comma-separated (default "default")
//	JETJOBS_CONCURRENCY       jobs at once per queue (default 10)
//	JETJOBS_MAX_ATTEMPTS      attempts before dead letters (default 25)
//	JETJOBS_SHUTDOWN_TIMEOUT  how long running jobs may finish (default 30s)
//	LOG_LEVEL                 debug, info, warn or error (default info)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// EmailArgs are the arguments of an email.send job.
type EmailArgs struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
}

// ThumbnailArgs are the arguments of an image.thumbnail job.
type ThumbnailArgs struct {
	Image string `json:"image"`
	Width int    `json:"width"`
}

// Kind names the job kind of ThumbnailArgs.
func (ThumbnailArgs) Kind() string { return "image.thumbnail" }

// thumbnailWorker renders thumbnails. Its methods beyond Work set the
// kind's limits; see worker.Worker.
type thumbnailWorker struct {
	worker.WorkerDefaults[ThumbnailArgs] // the pool's settings, unless overridden below
	log                                  *slog.Logger
}

func (w thumbnailWorker) Work(ctx context.Context, j *job.Job[ThumbnailArgs]) error {
	if j.Args.Width <= 0 {
		// No retry can fix bad arguments: dead-letter at once.
		return job.Permanent(fmt.Errorf("width %d: want a positive width", j.Args.Width))
	}
	w.log.LogAttrs(ctx, slog.LevelInfo, "thumbnail rendered",
		slog.String("job_id", j.ID), slog.String("image", j.Args.Image), slog.Int("width", j.Args.Width))
	return nil
}

func (thumbnailWorker) Timeout(*job.Job[ThumbnailArgs]) time.Duration { return time.Minute }
func (thumbnailWorker) MaxAttempts() int                              { return 5 }

// config is the process's configuration, read from the environment.
type config struct {
	url, creds      string
	queues          []string
	concurrency     int
	maxAttempts     int
	shutdownTimeout time.Duration
	level           slog.Level
}

func loadConfig() (config, error) {
	c := config{url: envOr("NATS_URL", nats.DefaultURL), creds: os.Getenv("NATS_CREDS")}
	for q := range strings.SplitSeq(envOr("JETJOBS_QUEUES", job.DefaultQueue), ",") {
		if q = strings.TrimSpace(q); q != "" {
			c.queues = append(c.queues, q)
		}
	}
	var errs []error
	atoi := func(name string, def int) int {
		n, err := strconv.Atoi(envOr(name, strconv.Itoa(def)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return n
	}
	c.concurrency = atoi("JETJOBS_CONCURRENCY", 10)
	c.maxAttempts = atoi("JETJOBS_MAX_ATTEMPTS", job.DefaultMaxAttempts)
	d, err := time.ParseDuration(envOr("JETJOBS_SHUTDOWN_TIMEOUT", "30s"))
	if err != nil {
		errs = append(errs, fmt.Errorf("JETJOBS_SHUTDOWN_TIMEOUT: %w", err))
	}
	c.shutdownTimeout = d
	if err := c.level.UnmarshalText([]byte(envOr("LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := loadConfig()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.level}))
	if err != nil {
		log.Error("standalone: bad configuration: " + err.Error())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("standalone: " + err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) error {
	opts := []nats.Option{
		nats.Name("standalone worker"),
		nats.MaxReconnects(-1), // a worker outlives server restarts
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", slog.String("error", err.Error()))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("reconnected to NATS") }),
	}
	if cfg.creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.creds))
	}
	nc, err := nats.Connect(cfg.url, opts...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	queues := map[string]worker.QueueConfig{}
	for _, q := range cfg.queues {
		queues[q] = worker.QueueConfig{Concurrency: cfg.concurrency}
	}
	pool, err := worker.New(js, worker.Config{
		Queues:          queues,
		Logger:          log,
		MaxAttempts:     cfg.maxAttempts,
		ShutdownTimeout: cfg.shutdownTimeout,
	})
	if err != nil {
		return err
	}
	err = errors.Join(
		// A function handler for a kind named at registration...
		worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[EmailArgs]) error {
			log.LogAttrs(ctx, slog.LevelInfo, "email sent",
				slog.String("job_id", j.ID), slog.String("to", j.Args.To), slog.String("subject", j.Args.Subject))
			return nil
		}),
		// ...and a Worker whose argument type names its kind.
		worker.Register(pool, thumbnailWorker{log: log}),
	)
	if err != nil {
		return err
	}
	// Run returns when ctx ends (SIGINT/SIGTERM) and the pool has stopped.
	return pool.Run(ctx)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
