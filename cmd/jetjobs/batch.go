package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", func(a *app) *cobra.Command {
		cmd := group("batch", "Show batches of jobs and their progress")
		a.addConnFlags(cmd)
		return cmd
	})
	register("batch", newBatchListCommand)
	register("batch", newBatchShowCommand)
}

func newBatchListCommand(a *app) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List batches with their progress, newest first",
		Long: `List the batches the flow bucket holds (created with job.Client.EnqueueBatch
and kept for Topology.FlowMaxAge, 30 days by default after their last change),
newest first: total jobs, succeeded, dead, pending, jobs with failed attempts,
and whether the callbacks were enqueued. --limit bounds how many (the newest;
0 for all); how many older ones were left off is said on stderr.`,
		Example: `  jetjobs batch ls
  jetjobs batch ls --json | jq -r '.[] | select(.done | not) | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "batch ls")
			if err != nil {
				return err
			}
			defer nc.Close()
			if limit < 0 {
				return usagef("--limit %d: give a number of batches, or 0 for all", limit)
			}
			batches, more, err := c.RecentBatches(ctx, limit)
			if err != nil {
				return err
			}
			if more > 0 {
				fmt.Fprintf(a.stderr, "%d older batches not shown (--limit 0 lists all)\n", more)
			}
			if asJSON {
				if batches == nil {
					batches = []*job.BatchStatus{}
				}
				return writeJSON(a.stdout, batches)
			}
			t := newTable(a.stdout, "BATCH", "CREATED", "TOTAL", "SUCCEEDED", "DEAD", "PENDING", "FAILED", "CALLBACKS")
			for _, b := range batches {
				t.row(printable(b.ID), age(time.Since(b.CreatedAt))+" ago", count(b.Total), count(b.Succeeded), count(b.Dead), count(b.Pending), count(b.Failed), callbacks(b))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of batches")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many batches, the newest (0: all)")
	return cmd
}

func newBatchShowCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one batch's progress and callbacks",
		Long: `Show the batch with ID: its counts (total, succeeded, dead, pending, and the
jobs that had a failed attempt), whether every job ended, and its callbacks'
job IDs and whether each was enqueued. Exit status 1 if there is no such
batch.`,
		Example: `  jetjobs batch show import-2026-12
  jetjobs batch show --json import-2026-12 | jq .pending`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "batch show")
			if err != nil {
				return err
			}
			defer nc.Close()
			b, err := c.Batch(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, b)
			}
			return writeBatch(a.stdout, b)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the batch as JSON")
	return cmd
}

func writeBatch(w io.Writer, b *job.BatchStatus) error {
	bw := bufio.NewWriter(w)
	field := func(name, value string) { fmt.Fprintf(bw, "%-11s %s\n", name+":", value) }
	field("Batch", printable(b.ID))
	field("Created", b.CreatedAt.Format(time.RFC3339))
	state := "running"
	if b.Done {
		state = "done"
	}
	field("State", state)
	field("Total", count(b.Total))
	field("Succeeded", count(b.Succeeded))
	field("Dead", count(b.Dead))
	field("Pending", count(b.Pending))
	field("Failed", count(b.Failed)+" (jobs with a failed attempt)")
	if b.SuccessCallback != "" {
		field("On success", fmt.Sprintf("%s (%s)", printable(b.SuccessCallback), fired(b.SuccessFired)))
	}
	if b.CompleteCallback != "" {
		field("On complete", fmt.Sprintf("%s (%s)", printable(b.CompleteCallback), fired(b.CompleteFired)))
	}
	return bw.Flush()
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

func fired(ok bool) string {
	if ok {
		return "enqueued"
	}
	return "not enqueued"
}

// callbacks sums up a batch's callbacks in one cell: s for success, c for
// complete, upper case once enqueued.
func callbacks(b *job.BatchStatus) string {
	out := ""
	if b.SuccessCallback != "" {
		out += map[bool]string{true: "S", false: "s"}[b.SuccessFired]
	}
	if b.CompleteCallback != "" {
		out += map[bool]string{true: "C", false: "c"}[b.CompleteFired]
	}
	if out == "" {
		return "-"
	}
	return out
}
