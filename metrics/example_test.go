package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jetjobs/jetjobs/internal/natstest"
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
	js, stop := natstest.ForExample()
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
