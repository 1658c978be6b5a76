package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", newStatusCommand)
	register("", newWaitCommand)
}

func newStatusCommand(a *app) *cobra.Command {
	var (
		asJSON    bool
		scanLimit int
	)
	cmd := &cobra.Command{
		Use:   "status ID...",
		Short: "Show the state of jobs by ID, wherever they are",
		Long: `Show the state of the jobs with the given IDs: waiting, scheduled, running
(attempt, worker, progress), retrying (next attempt, last error), succeeded
(result), dead (reason, error), canceled or expired.

Jobs enqueued with --keep-result or --wait (job.KeepResult, the
Jetjobs-Keep-Result header, or a kind registered with WithKeepResult) have a
state record, which status shows. For any other job, status finds it in the
streams as jetjobs job show does (reading them without taking anything, up
to --scan-limit jobs of the work stream) and shows where it is: waiting,
running, scheduled (delayed or snoozed) or dead. A job found nowhere (one
that succeeded without keeping its result leaves no trace) is reported on
stderr and the exit status is 1.`,
		Example: `  jetjobs status order-42
  jetjobs status --json order-42 order-43`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "status")
			if err != nil {
				return err
			}
			defer nc.Close()
			var states []*job.State
			err = a.eachArg(args, func(id string) (bool, error) {
				st, err := c.Status(ctx, id)
				if errors.Is(err, job.ErrJobNotFound) {
					// No state kept: where is the job now?
					found, _, ferr := jobFinder{c: c, scanLimit: scanLimit}.find(ctx, id)
					if ferr != nil {
						return false, ferr
					}
					if len(found) == 0 {
						return true, fmt.Errorf("%w; and it is in none of the streams (a job that succeeded without keeping its result leaves no trace)", err)
					}
					st, err = stateOfFound(id, found[0]), nil
				}
				if err != nil {
					return false, err
				}
				if asJSON {
					states = append(states, st)
				} else {
					printState(a.stdout, st)
				}
				return false, nil
			})
			if asJSON && len(states) > 0 {
				if jerr := writeJSON(a.stdout, states); jerr != nil && err == nil {
					err = jerr
				}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the states as a JSON array")
	cmd.Flags().IntVar(&scanLimit, "scan-limit", defaultScanLimit, "for jobs without a state record: read at most this many jobs of the work stream")
	a.addConnFlags(cmd)
	return cmd
}

// stateOfFound is the state of a job that keeps none, from where it was
// found in the streams (job show's places).
func stateOfFound(id string, f foundJob) *job.State {
	st := &job.State{ID: id, Queue: f.Queue, Kind: f.Kind, EnqueuedAt: f.Stored.UTC(), UpdatedAt: f.Stored.UTC()}
	switch f.State {
	case "running":
		st.Status = job.StatusRunning
	case "delayed", "snoozed":
		st.Status, st.RunAt = job.StatusScheduled, f.RunAt.UTC()
	case "dead":
		st.Status = job.StatusDead
		if f.Dead != nil {
			st.Status = job.StatusOfReason(f.Dead.Reason)
			st.Reason, st.Error, st.Attempt, st.FinishedAt = f.Dead.Reason, f.Dead.Error, f.Dead.Attempts, f.Dead.FailedAt.UTC()
		}
	default:
		st.Status = job.StatusWaiting
	}
	return st
}

func newWaitCommand(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ID...",
		Short: "Wait for jobs to finish and print their results",
		Long: `Wait until each job with the given ID finished (the server tells jetjobs the
moment it does; nothing is polled) and print its result as JSON on stdout,
one line per job. A job that ended dead, canceled or expired has its reason
and error printed on stderr; wait then exits 1. A job that has no state yet
is waited for until --timeout: it may still be enqueued.`,
		Example: `  id=$(jetjobs enqueue --keep-result 1h report.build '{"month":"2026-11"}')
  jetjobs wait "$id" | jq .url`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return usagef("--timeout %s: use a positive duration, or 0 to wait as long as it takes", timeout)
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "wait")
			if err != nil {
				return err
			}
			defer nc.Close()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return a.eachArg(args, func(id string) (bool, error) {
				return a.awaitAndPrint(ctx, c, id)
			})
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (exit 1); 0 waits as long as it takes")
	a.addConnFlags(cmd)
	return cmd
}

// awaitAndPrint awaits the job id, showing its progress on a terminal, and
// prints its result on stdout, or how it failed as the error (own true).
func (a *app) awaitAndPrint(ctx context.Context, c *job.Client, id string) (own bool, err error) {
	var show func(*job.State)
	line := false
	if a.stderrTTY {
		show = func(st *job.State) {
			fmt.Fprintf(a.stderr, "\r\033[K%s", progressLine(st))
			line = true
		}
	}
	st, err := c.Await(ctx, id, job.OnProgress(show))
	if line {
		fmt.Fprint(a.stderr, "\r\033[K")
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return true, fmt.Errorf("job %s: gave up waiting: %w", printable(id), err)
		}
		return errors.Is(err, job.ErrJobNotFound), err
	}
	if jerr := st.Err(); jerr != nil {
		return true, errors.New(escapeUnprintable(strings.TrimPrefix(jerr.Error(), "jetjobs: ")))
	}
	result := []byte(st.Result)
	if len(result) == 0 {
		result = []byte("null")
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", escapeJSON(result))
	return false, err
}

// progressLine is one line on a job's progress for a terminal.
func progressLine(st *job.State) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", printable(st.ID), st.Status)
	if st.Attempt > 0 {
		fmt.Fprintf(&b, " (attempt %d)", st.Attempt)
	}
	if p := st.Progress; p != nil {
		fmt.Fprintf(&b, " %3.0f%%", p.Fraction*100)
		if p.Message != "" {
			b.WriteString(" " + escapeUnprintable(truncate(p.Message, 60)))
		}
	}
	return b.String()
}

// printState writes st for a human, one field a line.
func printState(w io.Writer, st *job.State) {
	var rows [][2]string
	row := func(name, value string) {
		if value != "" {
			rows = append(rows, [2]string{name, value})
		}
	}
	at := func(tm time.Time) string {
		if tm.IsZero() {
			return ""
		}
		return tm.Format(time.RFC3339)
	}
	row("id", printable(st.ID))
	row("status", string(st.Status))
	row("queue", printable(st.Queue))
	row("kind", printable(st.Kind))
	if st.Attempt > 0 {
		row("attempt", fmt.Sprintf("%d of %d", st.Attempt, st.MaxAttempts))
	}
	row("worker", printable(st.Worker))
	row("enqueued", at(st.EnqueuedAt))
	row("run at", at(st.RunAt))
	row("started", at(st.StartedAt))
	row("next attempt", at(st.NextAttemptAt))
	row("finished", at(st.FinishedAt))
	if p := st.Progress; p != nil {
		row("progress", fmt.Sprintf("%.0f%% %s", p.Fraction*100, escapeUnprintable(p.Message)))
	}
	row("reason", string(st.Reason))
	row("error", escapeUnprintable(st.Error))
	if len(st.Result) > 0 {
		row("result", string(escapeJSON(st.Result)))
	}
	t := newTable(w, rows[0][0], rows[0][1])
	for _, r := range rows[1:] {
		t.row(r[0], r[1])
	}
	_ = t.flush()
	fmt.Fprintln(w)
}
