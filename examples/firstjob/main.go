package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// EmailArgs are the arguments of an "email.send" job; its payload is their JSON.
type EmailArgs struct {
	To string `json:"to"`
}

func main() {
	// Ctrl-C (or SIGTERM) stops the worker gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	url := os.Getenv("NATS_URL")
	if url == "" {
		url = nats.DefaultURL // nats://127.0.0.1:4222, where `jetjobs server` listens
	}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s (is `jetjobs server` running?): %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	pool, err := worker.New(js, worker.Config{
		Queues: map[string]worker.QueueConfig{"default": {Concurrency: 10}},
	})
	if err != nil {
		return err
	}
	err = worker.Handle(pool, "email.send", func(ctx context.Context, j *job.Job[EmailArgs]) error {
		if j.Args.To == "" {
			return job.Permanent(errors.New("no recipient")) // dead-lettered at once
		}
		fmt.Printf("sending email to %s (job %s, attempt %d)\n", j.Args.To, j.ID, j.Attempt)
		return nil // an error instead is retried with backoff
	})
	if err != nil {
		return err
	}
	if err := pool.Start(ctx); err != nil { // creates the streams if they are missing
		return err
	}
	defer func() {
		// Let running jobs finish for up to 30s; hand the rest back.
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pool.Stop(stopCtx); err != nil {
			log.Print(err)
		}
	}()

	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		return err
	}
	res, err := client.Enqueue(ctx, "email.send", EmailArgs{To: "ada@example.com"}, job.MaxAttempts(5))
	if err != nil {
		return err
	}
	fmt.Println("enqueued job", res.ID, "- waiting for more; Ctrl-C stops")
	<-ctx.Done()
	return nil
}
