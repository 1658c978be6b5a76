package worker_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
	"github.com/jetjobs/jetjobs/worker"
)

// Several queues share one budget of 20 job slots. "critical" has strict
// priority: whenever it has jobs, freed slots go to it first. "default" and
// "bulk" share what is left 3 to 1 while both are busy; each may use all of
// it while the other is idle. "bulk" never runs more than 5 jobs at once in
// this process, and no more than 50 across all processes (its consumer's
// limit).
func Example_priorities() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	pool, err := worker.New(js, worker.Config{
		Concurrency: 20,
		Queues: map[string]worker.QueueConfig{
			"critical": {Priority: 1},
			"default":  {Weight: 3},
			"bulk":     {Weight: 1, Concurrency: 5, Limit: 50},
		},
	})
	fmt.Println(pool != nil, err)
	// Output: true <nil>
}

// A kind limited to 10 jobs a second in this process: a job whose turn is
// within a second waits for it, a later one is snoozed until its turn.
func Example_rateLimit() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	pool, _ := worker.New(js, worker.Config{})
	limit := rate.NewLimiter(10, 1)
	err := worker.Handle(pool, "sms.send", func(ctx context.Context, j *job.Job[struct{ To string }]) error {
		return nil // call the SMS gateway
	}, worker.WithMiddleware(middleware.RateLimit(limit, time.Second)))
	fmt.Println(err)
	// Output: <nil>
}
