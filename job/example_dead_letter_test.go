package job_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// Count, list and replay the dead letters of one kind and reason: the
// server selects them by their subject, without reading the others.
func ExampleClient_CountDeadLetters() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	dead := make(chan struct{}, 4)
	pool, _ := worker.New(js, worker.Config{
		Queues: map[string]worker.QueueConfig{"mail": {}},
		Hooks:  worker.Hooks{OnDeadLetter: func(worker.Event) { dead <- struct{}{} }},
	})
	fail := func(ctx context.Context, j *job.Job[struct{}]) error {
		return job.Permanent(errors.New("mailbox full"))
	}
	worker.Handle(pool, "email.send", fail)
	worker.Handle(pool, "email.bounce", fail)
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	client, _ := job.NewClient(js, job.ClientConfig{Queue: "mail"})
	for _, kind := range []string{"email.send", "email.send", "email.bounce"} {
		client.Enqueue(ctx, kind, nil)
	}
	for range 3 {
		<-dead
	}
	pool.Stop(ctx)

	// The mark: act on the dead letters there are now, not on later ones.
	mark, _ := client.DeadLetterSequence(ctx)
	q := job.DeadLetterQuery{Queue: "mail", Kind: "email.send", Reason: job.ReasonFailed, Through: mark}
	n, _ := client.CountDeadLetters(ctx, q)
	fmt.Println("email.send dead letters:", n)
	page, _ := client.QueryDeadLetters(ctx, q)
	fmt.Println("listed:", len(page.DeadLetters), page.DeadLetters[0].Kind, page.DeadLetters[0].Error)
	replayed, _ := client.ReplayDeadLetters(ctx, q)
	fmt.Println("replayed:", replayed)
	left, _ := client.CountDeadLetters(ctx, job.DeadLetterQuery{})
	fmt.Println("left:", left)
	// Output:
	// email.send dead letters: 2
	// listed: 2 email.send mailbox full
	// replayed: 2
	// left: 1
}
