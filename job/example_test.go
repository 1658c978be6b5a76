package job_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// Enqueue one job with options; a second enqueue with the same ID within
// the duplicate window is reported as a duplicate, not stored again.
func ExampleClient_Enqueue() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	client, _ := job.NewClient(js, job.ClientConfig{})
	if err := client.EnsureTopology(ctx); err != nil {
		panic(err)
	}
	args := map[string]string{"to": "ada@example.com"}
	r1, _ := client.Enqueue(ctx, "email.send", args, job.ID("welcome-ada"), job.Queue("mail"), job.MaxAttempts(5), job.Timeout(30*time.Second))
	r2, _ := client.Enqueue(ctx, "email.send", args, job.ID("welcome-ada"), job.Queue("mail"))
	fmt.Println(r1.ID, r1.Duplicate)
	fmt.Println(r2.ID, r2.Duplicate)

	// Bad input is refused before anything is published.
	_, err := client.Enqueue(ctx, "email.*", args)
	fmt.Println(errors.Is(err, job.ErrInvalidName))
	// Output:
	// welcome-ada false
	// welcome-ada true
	// true
}

// EnqueueMany pipelines many jobs and returns one result per job.
func ExampleClient_EnqueueMany() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	client, _ := job.NewClient(js, job.ClientConfig{})
	client.EnsureTopology(ctx)
	reqs := []job.Request{
		{Kind: "thumb.make", Args: map[string]int{"id": 1}},
		{Kind: "thumb make", Args: map[string]int{"id": 2}}, // invalid kind
		{Kind: "thumb.make", Args: map[string]int{"id": 3}},
	}
	results, _ := client.EnqueueMany(ctx, reqs)
	for i, r := range results {
		fmt.Println(i, r.Err == nil)
	}
	// Output:
	// 0 true
	// 1 false
	// 2 true
}
