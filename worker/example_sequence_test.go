package worker_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// AccountEvent is one change to an account; the changes of an account must
// be applied in the order they happened.
type AccountEvent struct {
	Account string `json:"account"`
	Step    string `json:"step"`
}

// Jobs in the sequence of one key run one at a time, in enqueue order,
// even across retries: "deposit" fails its first attempt, and "withdraw"
// waits for its retry to succeed. Other keys run in parallel.
func Example_sequence() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()

	pool, err := worker.New(js, worker.Config{
		RetryPolicy: constantDelay(10 * time.Millisecond),
	})
	if err != nil {
		panic(err)
	}
	applied := make(chan string, 8)
	var failed atomic.Bool
	if err := worker.Handle(pool, "account.apply", func(ctx context.Context, j *job.Job[AccountEvent]) error {
		if j.Args.Step == "deposit" && failed.CompareAndSwap(false, true) {
			return errors.New("ledger busy")
		}
		applied <- fmt.Sprintf("%s %s (attempt %d)", j.Sequence, j.Args.Step, j.Attempt)
		return nil
	}); err != nil {
		panic(err)
	}
	if err := pool.Start(ctx); err != nil {
		panic(err)
	}
	defer pool.Stop(ctx)

	client, _ := job.NewClient(js, job.ClientConfig{})
	for _, step := range []string{"open", "deposit", "withdraw", "close"} {
		ev := AccountEvent{Account: "acct-7", Step: step}
		if _, err := client.Enqueue(ctx, "account.apply", ev, job.Sequence(ev.Account)); err != nil {
			panic(err)
		}
	}
	for range 4 {
		fmt.Println(<-applied)
	}
	// Output:
	// acct-7 open (attempt 1)
	// acct-7 deposit (attempt 2)
	// acct-7 withdraw (attempt 1)
	// acct-7 close (attempt 1)
}

// constantDelay retries after d.
type constantDelay time.Duration

func (d constantDelay) Delay(int) time.Duration { return time.Duration(d) }
