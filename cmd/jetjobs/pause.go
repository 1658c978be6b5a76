package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("queues", newQueuesPauseCommand)
	register("queues", newQueuesResumeCommand)
}

func newQueuesPauseCommand(a *app) *cobra.Command {
	var d time.Duration
	cmd := &cobra.Command{
		Use:   "pause QUEUE",
		Short: "Stop every worker from starting jobs of a queue",
		Long: `Pause the queue's consumer on the server (nats-server 2.11 or newer): every
worker serving the queue stops receiving its jobs at once. Running jobs
finish; new jobs are still accepted and wait. With --for the server resumes
the queue by itself after that long; otherwise it stays paused, across worker
and server restarts, until jetjobs queues resume. A queue is paused once a
worker has served it.`,
		Example: `  jetjobs queues pause mail
  jetjobs queues pause reports --for 30m`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			queue := args[0]
			if err := job.ValidateQueue(queue); err != nil {
				return usageError{err}
			}
			var until time.Time
			switch {
			case d < 0:
				return usagef("--for %s: use a positive duration", d)
			case d > 0:
				until = time.Now().Add(d)
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "queues pause")
			if err != nil {
				return err
			}
			defer nc.Close()
			end, err := c.PauseQueue(ctx, queue, until)
			if err != nil {
				return err
			}
			if job.PausedIndefinitely(end) {
				fmt.Fprintf(a.stdout, "%s: paused until resumed (jetjobs queues resume %s)\n", queue, queue)
			} else {
				fmt.Fprintf(a.stdout, "%s: paused until %s\n", queue, clock(end))
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&d, "for", 0, "resume by itself after this long (default: stay paused until resumed)")
	return cmd
}

func newQueuesResumeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "resume QUEUE",
		Short:   "Let workers start jobs of a paused queue again",
		Example: `  jetjobs queues resume mail`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			queue := args[0]
			if err := job.ValidateQueue(queue); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "queues resume")
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := c.ResumeQueue(ctx, queue); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: resumed\n", queue)
			return nil
		},
	}
}
