// Command wrongsetting must not compile: its worker's MaxAttempts has the
// wrong signature, so it does not satisfy worker.Worker. The worker tests
// build it to show that.
package main

import (
	"context"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

type args struct{}

func (args) Kind() string { return "report.build" }

type reportWorker struct{ worker.WorkerDefaults[args] }

func (reportWorker) Work(context.Context, *job.Job[args]) error { return nil }

func (reportWorker) MaxAttempts() int64 { return 3 } // int64, not int

func main() {
	_ = worker.Register[args](nil, reportWorker{})
}
