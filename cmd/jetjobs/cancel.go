package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newCancelCommand) }

func newCancelCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel ID...",
		Short: "Cancel jobs by ID",
		Long: `Cancel the jobs with the given IDs, wherever they are:

  pending   it never runs; the worker that receives it dead-letters it
            with reason canceled
  running   its context is canceled; unless its handler still succeeds it
            is dead-lettered with reason canceled and not retried
  delayed   (enqueued with --in, or snoozed) its schedule is removed

A cancel is remembered for a day: a job enqueued with
the same ID in that time is canceled too; replaying the job's dead letter
runs it all the same (a cancel made after the replay applies). Canceling an unknown or finished job is not an error.`,
		Example: `  jetjobs cancel order-42
  jetjobs dlq ls --json | jq -r '.[] | select(.kind == "report.build") | .id' | xargs jetjobs cancel`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "cancel")
			if err != nil {
				return err
			}
			defer nc.Close()
			ensured := false
			for _, id := range args {
				res, err := c.Cancel(ctx, id)
				if errors.Is(err, job.ErrNoStream) && !ensured {
					// A namespace set up before cancels existed: add the bucket.
					ensured = true
					if err = c.EnsureTopology(ctx); err == nil {
						res, err = c.Cancel(ctx, id)
					}
				}
				if errors.Is(err, job.ErrInvalidOption) {
					return usageError{err}
				}
				if err != nil {
					return err
				}
				if res.Unscheduled {
					fmt.Fprintf(a.stdout, "%s: canceled (it was waiting for its time; its schedule is removed)\n", id)
				} else {
					fmt.Fprintf(a.stdout, "%s: canceled\n", id)
				}
			}
			return nil
		},
	}
	a.addConnFlags(cmd)
	a.topo.addReplicas(cmd, false)
	return cmd
}
