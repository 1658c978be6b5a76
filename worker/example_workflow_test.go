package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type Order struct {
	ID    string `json:"id"`
	Cents int    `json:"cents"`
}

type Charge struct {
	Receipt string `json:"receipt"`
}

// An order pipeline: charge, then ship and email in parallel (each reads
// the charge's receipt), then mark the order done.
func Example_workflowOrderPipeline() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	finished := make(chan string, 1)
	pool, _ := worker.New(js, worker.Config{})
	_ = worker.HandleResult(pool, "order.charge", func(ctx context.Context, j *job.Job[Order]) (Charge, error) {
		return Charge{Receipt: "rcpt-" + j.Args.ID}, nil
	})
	_ = worker.HandleResult(pool, "order.ship", func(ctx context.Context, j *job.Job[Order]) (string, error) {
		charge, err := job.DependencyResult[Charge](ctx, "charge")
		return "shipped against " + charge.Receipt, err
	})
	_ = worker.HandleResult(pool, "order.email", func(ctx context.Context, j *job.Job[Order]) (string, error) {
		charge, err := job.DependencyResult[Charge](ctx, "charge")
		return "emailed " + charge.Receipt, err
	})
	_ = worker.Handle(pool, "order.done", func(ctx context.Context, j *job.Job[Order]) error {
		shipped, err := job.DependencyResult[string](ctx, "ship")
		finished <- shipped
		return err
	})
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	order := Order{ID: "o-42", Cents: 1999}
	wf := job.NewWorkflow("order-o-42")
	charge := wf.Task("charge", "order.charge", order, job.WithOptions(job.MaxAttempts(3)))
	ship := wf.Task("ship", "order.ship", order, job.After(charge))
	email := wf.Task("email", "order.email", order, job.After(charge))
	wf.Task("done", "order.done", order, job.After(ship, email))
	if err := client.StartWorkflow(ctx, wf); err != nil {
		panic(err)
	}
	fmt.Println(<-finished)
	// Output: shipped against rcpt-o-42
}

// An import: 1,000 chunks run in parallel, then one summary adds up their
// results. The summary becomes ready on one counter, which each chunk's
// worker increments as it settles the chunk.
func Example_workflowImport() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	total := make(chan int, 1)
	pool, _ := worker.New(js, worker.Config{Queues: map[string]worker.QueueConfig{job.DefaultQueue: {Concurrency: 32}}})
	_ = worker.HandleResult(pool, "import.chunk", func(ctx context.Context, j *job.Job[int]) (int, error) {
		return 100, nil // rows imported from chunk j.Args
	})
	_ = worker.Handle(pool, "import.summary", func(ctx context.Context, j *job.Job[int]) error {
		rows := 0
		for i := range j.Args {
			n, err := job.DependencyResult[int](ctx, fmt.Sprintf("chunk-%d", i))
			if err != nil {
				return err
			}
			rows += n
		}
		total <- rows
		return nil
	})
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	const chunks = 1000
	wf := job.NewWorkflow("import-2026-12")
	all := make([]*job.Task, chunks)
	for i := range all {
		all[i] = wf.Task(fmt.Sprintf("chunk-%d", i), "import.chunk", i)
	}
	wf.Task("summary", "import.summary", chunks, job.After(all...))
	if err := client.StartWorkflow(ctx, wf); err != nil {
		panic(err)
	}
	fmt.Println("rows imported:", <-total)
	// Output: rows imported: 100000
}

// A batch with callbacks: the complete callback carries the final counts.
func Example_batch() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	report := make(chan job.BatchCounts, 1)
	pool, _ := worker.New(js, worker.Config{})
	_ = worker.Handle(pool, "photo.resize", func(ctx context.Context, j *job.Job[int]) error {
		if j.Args == 3 {
			return job.Permanent(fmt.Errorf("photo %d is corrupt", j.Args))
		}
		return nil
	})
	_ = worker.Handle(pool, "album.report", func(ctx context.Context, j *job.Job[struct{}]) error {
		_, counts, _ := job.BatchCountsOf(j.Info)
		report <- counts
		return nil
	})
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	var photos []job.Request
	for i := range 5 {
		photos = append(photos, job.Request{Kind: "photo.resize", Args: i})
	}
	_, err := client.EnqueueBatch(ctx, job.Batch{ID: "album-7", OnComplete: &job.Request{Kind: "album.report"}}, photos...)
	if err != nil {
		panic(err)
	}
	c := <-report
	fmt.Printf("total %d, succeeded %d, dead %d\n", c.Total, c.Succeeded, c.Dead)
	// Output: total 5, succeeded 4, dead 1
}
