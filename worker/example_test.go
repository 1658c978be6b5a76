package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// WelcomeArgs are the typed arguments of a job; Kind names the job kind so
// neither registration nor enqueueing needs a kind string.
type WelcomeArgs struct {
	User string `json:"user"`
}

func (WelcomeArgs) Kind() string { return "user.welcome" }

// WelcomeWorker runs "user.welcome" jobs. Its optional MaxAttempts method
// overrides the pool's default for this kind.
type WelcomeWorker struct {
	worker.WorkerDefaults[WelcomeArgs] // the pool's settings, unless overridden
	done                               chan string
}

func (w WelcomeWorker) Work(ctx context.Context, j *job.Job[WelcomeArgs]) error {
	w.done <- "welcomed " + j.Args.User
	return nil
}

func (WelcomeWorker) MaxAttempts() int { return 5 }

// Register a typed worker, enqueue a job with the client, and stop the pool
// gracefully.
func Example() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	pool, err := worker.New(js, worker.Config{
		Queues: map[string]worker.QueueConfig{"default": {Concurrency: 20}},
	})
	if err != nil {
		panic(err)
	}
	done := make(chan string, 1)
	if err := worker.Register(pool, WelcomeWorker{done: done}); err != nil {
		panic(err)
	}
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}

	client, _ := job.NewClient(js, job.ClientConfig{})
	if _, err := client.EnqueueArgs(ctx, WelcomeArgs{User: "ada"}); err != nil {
		panic(err)
	}
	fmt.Println(<-done)

	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fmt.Println("stopped:", pool.Stop(stopCtx))
	// Output:
	// welcomed ada
	// stopped: <nil>
}

// Handle registers a plain function for a kind; the payload is decoded into
// the function's argument type before it is called.
func ExampleHandle() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	type Resize struct {
		Image string `json:"image"`
		Width int    `json:"width"`
	}
	pool, _ := worker.New(js, worker.Config{})
	done := make(chan struct{})
	err := worker.Handle(pool, "image.resize", func(ctx context.Context, j *job.Job[Resize]) error {
		fmt.Printf("resize %s to %dpx (attempt %d of %d)\n", j.Args.Image, j.Args.Width, j.Attempt, j.MaxAttempts)
		close(done)
		return nil
	}, worker.WithTimeout(time.Minute), worker.WithMaxAttempts(3))
	if err != nil {
		panic(err)
	}
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	client.Enqueue(ctx, "image.resize", Resize{Image: "cat.png", Width: 640})
	<-done
	// Output:
	// resize cat.png to 640px (attempt 1 of 3)
}

// Stop lets running jobs finish until its context ends; then it cancels
// them and hands them back to the server for immediate redelivery.
func ExamplePool_Stop() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	pool, _ := worker.New(js, worker.Config{})
	started := make(chan struct{})
	worker.Handle(pool, "long", func(ctx context.Context, j *job.Job[struct{}]) error {
		close(started)
		<-ctx.Done() // a well-behaved handler stops when its context ends
		return ctx.Err()
	})
	pool.Start(ctx)
	client, _ := job.NewClient(js, job.ClientConfig{})
	client.Enqueue(ctx, "long", nil)
	<-started

	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := pool.Stop(stopCtx)
	fmt.Println("stop:", err)
	fmt.Println("running after stop:", pool.Running())
	// Output:
	// stop: context deadline exceeded
	// running after stop: 0
}

// InvoiceArgs names its kind, so Register needs no kind string.
type InvoiceArgs struct {
	Number int `json:"number"`
}

func (InvoiceArgs) Kind() string { return "invoice.send" }

// InvoiceWorker sets each attempt's timeout through the optional Timeout
// method (it sees the job, so it may depend on the arguments); MaxAttempts,
// RetryPolicy and Middleware methods set those for the kind.
type InvoiceWorker struct {
	worker.WorkerDefaults[InvoiceArgs]
	sent chan int
}

func (w InvoiceWorker) Work(ctx context.Context, j *job.Job[InvoiceArgs]) error {
	w.sent <- j.Args.Number
	return nil
}

func (InvoiceWorker) Timeout(*job.Job[InvoiceArgs]) time.Duration { return 30 * time.Second }

// Register serves a kind with a type that implements Worker; registering
// the same kind again is refused at once.
func ExampleRegister() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	pool, _ := worker.New(js, worker.Config{})
	sent := make(chan int, 1)
	fmt.Println(worker.Register(pool, InvoiceWorker{sent: sent}))
	fmt.Println(worker.Register(pool, InvoiceWorker{sent: sent}) != nil)
	pool.Start(ctx)
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	client.EnqueueArgs(ctx, InvoiceArgs{Number: 1042})
	fmt.Println("sent invoice", <-sent)
	// Output:
	// <nil>
	// true
	// sent invoice 1042
}

// Run is the whole life of a worker process: it starts the pool, works
// until its context ends (here: SIGINT or SIGTERM, or a second), then stops
// gracefully, letting running jobs finish for Config.ShutdownTimeout.
func ExamplePool_Run() {
	js, cleanup := natstest.ForExample()
	defer cleanup()

	pool, _ := worker.New(js, worker.Config{ShutdownTimeout: 30 * time.Second})
	worker.Handle(pool, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil })

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	fmt.Println("run:", pool.Run(ctx))
	// Output: run: <nil>
}
