package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", func(a *app) *cobra.Command {
		cmd := group("job", "Look up jobs by ID")
		a.addConnFlags(cmd)
		return cmd
	})
	register("job", newJobShowCommand)
}

// foundJSON is one place of a job in `job show --json`.
type foundJSON struct {
	ID          string              `json:"id"`
	State       string              `json:"state"`
	Queue       string              `json:"queue,omitempty"`
	Kind        string              `json:"kind,omitempty"`
	Subject     string              `json:"subject"`
	Seq         uint64              `json:"seq"`
	StoredAt    time.Time           `json:"stored_at"`
	RunAt       *time.Time          `json:"run_at,omitempty"`
	Header      map[string][]string `json:"header"`
	Payload     json.RawMessage     `json:"payload,omitempty"`
	PayloadText string              `json:"payload_text,omitempty"`
	DeadLetter  *deadLetterJSON     `json:"dead_letter,omitempty"`
}

func newJobShowCommand(a *app) *cobra.Command {
	var (
		asJSON    bool
		scanLimit int
	)
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Find a job by ID: pending, running, delayed, snoozed or dead",
		Long: `Find the job with ID wherever it is and show its state, queue, kind, headers
and payload:

  pending   in its queue; no worker has received it yet
  running   delivered to a worker and not settled: running, or waiting out
            a retry delay
  snoozed   in its queue, not to run before a time (a snooze of a worker
            with --snooze-in-queue)
  delayed   waiting for its time in the schedule stream (enqueue --in, or a
            snooze)
  dead      in the dead letters (as jetjobs dlq show shows it)

It reads the streams without taking anything from them. Jobs' subjects do not
carry their IDs, so it reads the work stream job by job, up to --scan-limit
jobs; delayed jobs and dead letters it finds by ID at once. A job that
succeeded has left the streams: it is not found, and the exit status is 1.`,
		Example: `  jetjobs job show order-42
  jetjobs job show --json order-42 | jq -r '.[].state'`,
		Args: argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if scanLimit < 1 {
				return usagef("--scan-limit %d: use at least 1", scanLimit)
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "job show")
			if err != nil {
				return err
			}
			defer nc.Close()
			return a.showJob(ctx, c, args[0], scanLimit, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: an array with one object per place the job was found")
	cmd.Flags().IntVar(&scanLimit, "scan-limit", defaultScanLimit, "read at most this many jobs of the work stream")
	return cmd
}

func (a *app) showJob(ctx context.Context, c *job.Client, id string, scanLimit int, asJSON bool) error {
	found, complete, err := jobFinder{c: c, scanLimit: scanLimit}.find(ctx, id)
	if err != nil {
		return err
	}
	if !complete {
		fmt.Fprintf(a.stderr, "note: read only the first %d jobs of stream %s (--scan-limit)\n", scanLimit, c.Topology().Stream)
	}
	if len(found) == 0 {
		return fmt.Errorf("no job with ID %s is pending, running, snoozed, delayed or dead in stream %s; a job that succeeded leaves no trace", id, c.Topology().Stream)
	}
	if asJSON {
		out := make([]foundJSON, 0, len(found))
		for _, f := range found {
			fj := foundJSON{ID: id, State: f.State, Queue: f.Queue, Kind: f.Kind, Subject: f.Subject, Seq: f.Seq,
				StoredAt: f.Stored, Header: f.Header}
			if !f.RunAt.IsZero() {
				fj.RunAt = &f.RunAt
			}
			if json.Valid(f.Payload) {
				fj.Payload = f.Payload
			} else if len(f.Payload) > 0 {
				fj.PayloadText = string(f.Payload)
			}
			if f.Dead != nil {
				dl := toJSON(*f.Dead)
				fj.DeadLetter = &dl
			}
			out = append(out, fj)
		}
		return writeJSON(a.stdout, out)
	}
	bw := bufio.NewWriter(a.stdout)
	for i, f := range found {
		if i > 0 {
			fmt.Fprintln(bw)
		}
		if f.Dead != nil {
			fmt.Fprintf(bw, "%-10s %s\n", "State:", stateLine(f))
			if err := writeDeadLetter(bw, *f.Dead); err != nil {
				return err
			}
			continue
		}
		writeFoundJob(bw, id, f)
	}
	return bw.Flush()
}

func writeFoundJob(w io.Writer, id string, f foundJob) {
	field := func(name, value string) { fmt.Fprintf(w, "%-10s %s\n", name+":", value) }
	field("ID", printable(id))
	field("State", stateLine(f))
	field("Queue", printable(f.Queue))
	field("Kind", printable(f.Kind))
	field("Subject", printable(f.Subject))
	field("Seq", strconv.FormatUint(f.Seq, 10))
	field("Stored at", f.Stored.Local().Format(time.RFC3339)+" ("+age(time.Since(f.Stored))+" ago)")
	writeHeaders(w, f.Header)
	writePayload(w, f.Payload)
}

// stateLine says what a state means, with the time a waiting job is due.
func stateLine(f foundJob) string {
	switch f.State {
	case statePending:
		return "pending (in its queue; no worker has received it yet)"
	case stateRunning:
		return "running (delivered to a worker and not settled: running, or waiting out a retry delay)"
	case stateSnoozed, stateDelayed:
		if f.RunAt.IsZero() {
			return f.State
		}
		return fmt.Sprintf("%s until %s (in %s)", f.State, clock(f.RunAt), age(time.Until(f.RunAt)))
	case stateDead:
		return "dead (in the dead letters: jetjobs dlq replay runs it again)"
	}
	return f.State
}
