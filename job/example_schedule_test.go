package job_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// Declare a periodic job at start-up. Every worker process may do the same
// at the same time: the schedule is stored once, a declaration that changes
// nothing does not restart its period, and it fires once per period however
// many workers run.
func ExampleClient_DeclareSchedule() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()
	client, _ := job.NewClient(js, job.ClientConfig{})
	if err := client.EnsureTopology(ctx); err != nil {
		panic(err)
	}

	nightly := job.Schedule{
		Name:     "nightly-report",
		Spec:     "0 30 2 * * *", // second minute hour day-of-month month day-of-week
		TimeZone: "Europe/Berlin",
		Kind:     "report.build",
		Args:     map[string]string{"scope": "all"},
		Options:  []job.Option{job.Queue("reports"), job.MaxAttempts(3)},
	}
	changed, err := client.DeclareSchedule(ctx, nightly)
	fmt.Println("declared:", changed, err)
	changed, err = client.DeclareSchedule(ctx, nightly)
	fmt.Println("declared again:", changed, err)
	if _, err := client.DeclareSchedule(ctx, job.Schedule{Name: "cleanup", Spec: "@every 15m", Kind: "tmp.cleanup"}); err != nil {
		panic(err)
	}

	schedules, _ := client.Schedules(ctx)
	for _, s := range schedules {
		fmt.Println(s.Name, s.Spec, s.Queue, s.Kind)
	}
	fmt.Println("removed:", client.RemoveSchedule(ctx, "cleanup"))
	// Output:
	// declared: true <nil>
	// declared again: false <nil>
	// cleanup @every 15m default tmp.cleanup
	// nightly-report 0 30 2 * * * reports report.build
	// removed: <nil>
}

// Cancel a job by its ID. A delayed job loses its schedule at once; a job
// waiting in its queue is dead-lettered (reason "canceled") by the worker
// that receives it instead of running; a running job's context is canceled.
func ExampleClient_Cancel() {
	js, cleanup := natstest.ForExample()
	defer cleanup()
	ctx := context.Background()
	client, _ := job.NewClient(js, job.ClientConfig{})
	if err := client.EnsureTopology(ctx); err != nil {
		panic(err)
	}

	client.Enqueue(ctx, "reminder.send", nil, job.ID("reminder-7"), job.In(time.Hour))
	client.Enqueue(ctx, "invoice.render", nil, job.ID("invoice-42"))

	for _, id := range []string{"reminder-7", "invoice-42"} {
		res, err := client.Cancel(ctx, id)
		fmt.Println(res.ID, "unscheduled:", res.Unscheduled, err)
	}
	canceled, _ := client.Canceled(ctx, "invoice-42")
	fmt.Println("invoice-42 canceled:", canceled)
	// Output:
	// reminder-7 unscheduled: true <nil>
	// invoice-42 unscheduled: false <nil>
	// invoice-42 canceled: true
}
