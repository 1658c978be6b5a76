package worker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type ThumbArgs struct {
	Sizes []int `json:"sizes"`
}

type ThumbResult struct {
	Made int `json:"made"`
}

// A handler that returns a result and reports progress; the client
// enqueues a job and waits for its result, which the server pushes.
func ExampleHandleResult() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pool, _ := worker.New(js, worker.Config{})
	_ = worker.HandleResult(pool, "thumbnail.make", func(ctx context.Context, j *job.Job[ThumbArgs]) (ThumbResult, error) {
		for i := range j.Args.Sizes {
			_ = job.Progress(ctx, float64(i+1)/float64(len(j.Args.Sizes)), fmt.Sprintf("size %d of %d", i+1, len(j.Args.Sizes)))
		}
		return ThumbResult{Made: len(j.Args.Sizes)}, nil
	})
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	res, err := job.EnqueueAndAwaitResult[ThumbResult](ctx, client,
		job.Request{Kind: "thumbnail.make", Args: ThumbArgs{Sizes: []int{64, 128, 256}}})
	if err != nil {
		panic(err)
	}
	fmt.Println("thumbnails made:", res.Made)
	// Output: thumbnails made: 3
}
