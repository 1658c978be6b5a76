package job_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// Pause a queue for every worker, then resume it: while paused, jobs wait.
func ExampleClient_PauseQueue() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	pool, _ := worker.New(js, worker.Config{Queues: map[string]worker.QueueConfig{"mail": {}}})
	done := make(chan string, 1)
	worker.Handle(pool, "mail.send", func(ctx context.Context, j *job.Job[struct{}]) error {
		done <- j.ID
		return nil
	})
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{Queue: "mail"})
	until, _ := client.PauseQueue(ctx, "mail", time.Time{}) // until resumed
	fmt.Println("paused indefinitely:", job.PausedIndefinitely(until))
	client.Enqueue(ctx, "mail.send", nil, job.ID("welcome-1"))
	stats, _ := client.Inspector().Queue(ctx, "mail")
	fmt.Println("paused:", stats.Paused, "pending:", stats.Pending)

	client.ResumeQueue(ctx, "mail")
	fmt.Println("ran:", <-done)
	// Output:
	// paused indefinitely: true
	// paused: true pending: 1
	// ran: welcome-1
}
