package job_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

func exampleJetStream() (jetstream.JetStream, func()) {
	dir, _ := os.MkdirTemp("", "jetjobs-example-")
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		panic(err)
	}
	srv.Start()
	srv.ReadyForConnections(10 * time.Second)
	nc, _ := nats.Connect(srv.ClientURL())
	js, _ := jetstream.New(nc)
	return js, func() { nc.Close(); srv.Shutdown(); srv.WaitForShutdown(); os.RemoveAll(dir) }
}

// Enqueue one job with options; a second enqueue with the same ID within
// the duplicate window is reported as a duplicate, not stored again.
func ExampleClient_Enqueue() {
	js, cleanup := exampleJetStream()
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
	js, cleanup := exampleJetStream()
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
