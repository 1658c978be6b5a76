package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", func(a *app) *cobra.Command {
		cmd := group("workflow", "Show, cancel and retry workflows")
		a.addConnFlags(cmd)
		return cmd
	})
	register("workflow", newWorkflowListCommand)
	register("workflow", newWorkflowShowCommand)
	register("workflow", newWorkflowCancelCommand)
	register("workflow", newWorkflowRetryCommand)
}

func newWorkflowListCommand(a *app) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List workflows, newest first",
		Long: `List the workflows the flow bucket holds (started with job.Client.StartWorkflow
and kept for Topology.FlowMaxAge, 30 days by default after their last change),
newest first, with their number of tasks; "workflow show ID" gives each
task's state. --limit bounds how many (the newest; 0 for all); how many older
ones were left off is said on stderr.`,
		Example: `  jetjobs workflow ls
  jetjobs workflow ls --json --limit 0 | jq -r '.[].id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit %d: give a number of workflows, or 0 for all", limit)
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "workflow ls")
			if err != nil {
				return err
			}
			defer nc.Close()
			wfs, more, err := c.Workflows(ctx, limit)
			if err != nil {
				return err
			}
			if more > 0 {
				fmt.Fprintf(a.stderr, "%d older workflows not shown (--limit 0 lists all)\n", more)
			}
			if asJSON {
				if wfs == nil {
					wfs = []job.WorkflowSummary{}
				}
				return writeJSON(a.stdout, wfs)
			}
			t := newTable(a.stdout, "WORKFLOW", "CREATED", "TASKS")
			for _, w := range wfs {
				t.row(printable(w.ID), age(time.Since(w.CreatedAt))+" ago", count(int64(w.Tasks)))
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of workflows")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many workflows, the newest (0: all)")
	return cmd
}

func newWorkflowShowCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show every task of a workflow: state, dependencies, result, error",
		Long: `Show the tasks of the workflow with ID in the order they were declared:
their dependencies and state (pending while they wait for dependencies,
then the state of their job: waiting, running, retrying, succeeded, dead,
canceled, expired), with the result of those that succeeded, the error of
those that failed, and for a task canceled before it ran the dependency
that caused it. Exit status 1 if there is no such workflow.`,
		Example: `  jetjobs workflow show order-42
  jetjobs workflow show --json order-42 | jq -r '.tasks[] | select(.status=="dead") | .name'`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "workflow show")
			if err != nil {
				return err
			}
			defer nc.Close()
			st, err := c.Workflow(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, st)
			}
			return writeWorkflow(a.stdout, st)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the workflow and its tasks as JSON")
	return cmd
}

func writeWorkflow(w io.Writer, st *job.WorkflowStatus) error {
	bw := bufio.NewWriter(w)
	counts := map[job.Status]int{}
	for _, t := range st.Tasks {
		counts[t.Status]++
	}
	var sum []string
	for _, s := range []job.Status{job.StatusPending, job.StatusWaiting, job.StatusRunning, job.StatusRetrying, job.StatusSucceeded, job.StatusDead, job.StatusCanceled, job.StatusExpired} {
		if counts[s] > 0 {
			sum = append(sum, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(bw, "Workflow %s, created %s: %d tasks (%s)\n\n", printable(st.ID), st.CreatedAt.Format(time.RFC3339), len(st.Tasks), strings.Join(sum, ", "))
	if err := bw.Flush(); err != nil {
		return err
	}
	t := newTable(w, "TASK", "STATUS", "AFTER", "RESULT / ERROR")
	for _, ts := range st.Tasks {
		detail := ""
		switch {
		case ts.Error != "":
			detail = ts.Error
		case ts.Cause != "" && ts.Status == job.StatusCanceled:
			detail = "canceled: " + ts.Cause
			if ts.Cause != "workflow canceled" {
				detail = "canceled: " + ts.Cause + " did not succeed"
			}
		case len(ts.Result) > 0:
			detail = string(ts.Result)
		}
		after := strings.Join(ts.Deps, ",")
		if after == "" {
			after = "-"
		}
		t.row(printable(ts.Name), string(ts.Status), truncate(printable(after), 40), truncate(printable(detail), 80))
	}
	return t.flush()
}

func newWorkflowCancelCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel every task of a workflow that has not ended",
		Long: `Cancel the workflow with ID: tasks not enqueued yet never will be, and
enqueued ones are canceled by ID (a waiting job is dead-lettered as
canceled, a running one's context is canceled).`,
		Example: `  jetjobs workflow cancel order-42`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "workflow cancel")
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := c.CancelWorkflow(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "canceled workflow %s\n", printable(args[0]))
			return nil
		},
	}
	return cmd
}

func newWorkflowRetryCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "retry ID TASK",
		Short: "Run a dead, canceled or expired task of a workflow again",
		Long: `Replay the dead letter of TASK of the workflow with ID; the tasks canceled
because it failed wait for it again, and run once it succeeds.`,
		Example: `  jetjobs workflow retry order-42 charge`,
		Args:    argsBetween(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "workflow retry")
			if err != nil {
				return err
			}
			defer nc.Close()
			if _, err := c.RetryTask(ctx, args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "retrying task %s of workflow %s\n", printable(args[1]), printable(args[0]))
			return nil
		},
	}
	return cmd
}
