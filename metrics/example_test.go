package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/worker"
)

type email struct {
	To string `json:"to"`
}

// Example instruments a worker pool, runs a job, and reads /metrics and
// /readyz. A program would serve the handler with
// metrics.ListenAndServe(ctx, ":9090", handler) instead.
func Example() {
	js, stop := embeddedJetStream()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	coll, err := metrics.New(js, metrics.Config{})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)

	settled := make(chan struct{}, 1)
	cfg := worker.Config{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hooks:  worker.Hooks{OnSuccess: func(worker.Event) { settled <- struct{}{} }},
	}
	coll.Instrument(&cfg)
	pool, err := worker.New(js, cfg)
	if err != nil {
		panic(err)
	}
	err = worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[email]) error {
		return nil // send the email
	})
	if err != nil {
		panic(err)
	}
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)
	handler := metrics.NewHandler(metrics.HandlerConfig{Gatherer: reg, Ready: pool.Ready})

	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		panic(err)
	}
	if _, err := client.Enqueue(ctx, "email.send", email{To: "ada@example.com"}); err != nil {
		panic(err)
	}
	<-settled

	for _, path := range []string{"/metrics", "/readyz"} {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		lines := bufio.NewScanner(rec.Body)
		for lines.Scan() {
			line := lines.Text()
			if path == "/readyz" ||
				strings.HasPrefix(line, `jetjobs_jobs_total{kind="email.send",outcome="succeeded"`) ||
				strings.HasPrefix(line, `jetjobs_queue_pending_jobs`) {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// jetjobs_jobs_total{kind="email.send",outcome="succeeded",queue="default"} 1
	// jetjobs_queue_pending_jobs{queue="default"} 0
	// ready
}

// embeddedJetStream starts a NATS server with JetStream in a temporary
// directory and connects to it.
func embeddedJetStream() (jetstream.JetStream, func()) {
	dir, err := os.MkdirTemp("", "jetjobs-example-")
	if err != nil {
		panic(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		panic("server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		panic(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	return js, func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		os.RemoveAll(dir)
	}
}
