package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

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
runs it all the same (a cancel made after the replay applies). Canceling an
unknown or finished job is not an error: the line printed for it says that no
job with the ID is waiting or running, and that the cancel is remembered.`,
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
			results := make([]job.CancelResult, 0, len(args))
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
				res.ID = id
				results = append(results, res)
			}
			// Say which IDs named no job: a mistyped ID is canceled all
			// the same, for jobs enqueued with it later.
			var look []string
			for _, r := range results {
				if !r.Unscheduled {
					look = append(look, r.ID)
				}
			}
			// A look the cancel does without: a user may not be allowed
			// to read the streams, and a long stream is read for 10s at most.
			var (
				found    map[string][]foundJob
				complete bool
			)
			a.probe(ctx, 10*time.Second, func(ctx context.Context) {
				found, complete, err = jobFinder{c: c}.findAll(ctx, look)
			})
			if err != nil {
				a.log.LogAttrs(ctx, slog.LevelDebug, "could not look for the canceled jobs", slog.String("error", redact(err.Error())))
			}
			remembered := c.Topology().WithDefaults().CancelMaxAge
			for _, r := range results {
				switch places := found[r.ID]; {
				case r.Unscheduled:
					fmt.Fprintf(a.stdout, "%s: canceled (it was waiting for its time; its schedule is removed)\n", printable(r.ID))
				case err != nil || len(places) == 0 && !complete:
					fmt.Fprintf(a.stdout, "%s: canceled\n", printable(r.ID))
				case len(places) == 0:
					fmt.Fprintf(a.stdout, "%s: canceled, but no job with this ID is waiting or running; the cancel is remembered for %s, so a job enqueued with this ID in that time is canceled too\n",
						printable(r.ID), age(remembered))
				case !slices.ContainsFunc(places, func(f foundJob) bool { return f.State != stateDead }):
					fmt.Fprintf(a.stdout, "%s: canceled; the job is in the dead letters already (a replay runs it all the same)\n", printable(r.ID))
				default:
					fmt.Fprintf(a.stdout, "%s: canceled\n", printable(r.ID))
				}
			}
			return nil
		},
	}
	a.addConnFlags(cmd)
	a.topo.addReplicas(cmd, false)
	return cmd
}
