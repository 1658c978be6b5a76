package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newQueuesCommand) }

func newQueuesCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "queues",
		Short: "Show each queue's pending, running and dead jobs",
		Long: `Show one row per queue:

  PENDING      jobs no worker has received yet
  RUNNING      jobs delivered and not yet settled: running, or waiting out a retry delay
  REDELIVERED  of those, the ones delivered more than once (retries, dead workers)
  DEAD         jobs in the dead letters (see jetjobs dlq)
  DELAYED      jobs waiting for their time in the schedule stream (enqueue --in,
               snoozes); they join PENDING when due
  UNSERVED     jobs in the queue whose kind no live worker of the queue has a
               handler for (from the workers' presence, see jetjobs workers);
               they wait for one (docs/semantics.md), "-" where a live worker
               does not report its kinds
  WAITING      pull requests workers have open: > 0 means a worker is bound and idle
  OLDEST       age of the oldest pending job

A queue is listed once a worker served it or a job was enqueued to it.
DELAYED reads each delayed job's target queue, up to 10000 jobs; past that a
note says how many it counted.

--json prints an array of objects with queue, pending, running, redelivered,
dead_letters, delayed, waiting, bound and paused; and, only where they apply,
unserved (with the kinds in unserved_kinds),
paused_until (a pause with an end), oldest_pending_at and
oldest_pending_seconds (a queue with pending jobs).`,
		Example: `  jetjobs queues
  jetjobs queues --json | jq '.[] | select(.dead_letters > 0)'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.queues(cmd.Context(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	a.addConnFlags(cmd)
	return cmd
}

// queueJSON is one queue in `queues --json`.
type queueJSON struct {
	Queue             string     `json:"queue"`
	Pending           uint64     `json:"pending"`
	Running           int        `json:"running"`
	Redelivered       int        `json:"redelivered"`
	DeadLetters       uint64     `json:"dead_letters"`
	Delayed           uint64     `json:"delayed"`
	Unserved          *uint64    `json:"unserved,omitempty"`
	UnservedKinds     []string   `json:"unserved_kinds,omitempty"`
	Waiting           int        `json:"waiting"`
	Bound             bool       `json:"bound"`
	Paused            bool       `json:"paused"`
	PausedUntil       *time.Time `json:"paused_until,omitempty"`      // a pause with an end
	OldestPendingAt   *time.Time `json:"oldest_pending_at,omitempty"` // with jobs pending
	OldestPendingSecs *float64   `json:"oldest_pending_seconds,omitempty"`
}

func (a *app) queues(ctx context.Context, asJSON bool) error {
	nc, c, err := a.client(ctx, "queues")
	if err != nil {
		return err
	}
	defer nc.Close()
	stats, err := c.Inspector().Queues(ctx)
	if err != nil {
		return err
	}
	delayed, counted, total, err := delayedByQueue(ctx, c, delayedCountLimit)
	if err != nil {
		return err
	}
	if counted < total {
		fmt.Fprintf(a.stderr, "note: DELAYED counts the first %d of %d delayed jobs\n", counted, total)
	}
	unserved := unservedByQueue(ctx, c)
	// Queues that have nothing but delayed jobs yet are listed too.
	for q := range delayed {
		if !slices.ContainsFunc(stats, func(s job.QueueStats) bool { return s.Queue == q }) {
			stats = append(stats, job.QueueStats{Queue: q})
		}
	}
	slices.SortFunc(stats, func(x, y job.QueueStats) int { return strings.Compare(x.Queue, y.Queue) })
	if asJSON {
		out := make([]queueJSON, 0, len(stats))
		for _, s := range stats {
			q := queueJSON{
				Queue: s.Queue, Pending: s.Pending, Running: s.Running, Redelivered: s.Redelivered,
				DeadLetters: s.DeadLetters, Delayed: delayed[s.Queue], Waiting: s.Waiting, Bound: s.Bound, Paused: s.Paused,
			}
			if un, ok := unserved[s.Queue]; ok && un.known {
				q.Unserved, q.UnservedKinds = &un.jobs, un.kinds
			}
			if !s.PausedUntil.IsZero() {
				q.PausedUntil = &s.PausedUntil
			}
			if !s.OldestPendingAt.IsZero() {
				q.OldestPendingAt = &s.OldestPendingAt
				secs := s.OldestPendingAge.Seconds()
				q.OldestPendingSecs = &secs
			}
			out = append(out, q)
		}
		return writeJSON(a.stdout, out)
	}
	if len(stats) == 0 {
		fmt.Fprintf(a.stderr, "no queues yet in stream %s: enqueue a job or start a worker\n", c.Topology().Stream)
		return nil
	}
	t := newTable(a.stdout, "QUEUE", "PENDING", "RUNNING", "REDELIVERED", "DEAD", "DELAYED", "UNSERVED", "WAITING", "OLDEST", "")
	for _, s := range stats {
		un := "0"
		if x, ok := unserved[s.Queue]; ok {
			un = "-"
			if x.known {
				un = u(x.jobs)
			}
		}
		t.row(s.Queue, u(s.Pending), strconv.Itoa(s.Running), strconv.Itoa(s.Redelivered), u(s.DeadLetters),
			u(delayed[s.Queue]), un, strconv.Itoa(s.Waiting), age(s.OldestPendingAge), queueNote(s))
	}
	return t.flush()
}

// unserved is what `queues` knows of a queue's jobs of kinds no live worker
// serves: known is false where a live worker of the queue does not report
// its kinds (an older version).
type unserved struct {
	jobs  uint64
	kinds []string
	known bool
}

// unservedByQueue counts, for each queue with jobs in the work stream, the
// jobs whose kind no live worker of the queue has a handler for, from the
// workers' presence. Where presence cannot be read it returns nothing.
func unservedByQueue(ctx context.Context, c *job.Client) map[string]unserved {
	workers, err := c.Workers(ctx)
	if err != nil {
		return nil
	}
	served := map[string]map[string]bool{} // queue -> kind; nil map: kinds unknown
	unknown := map[string]bool{}
	for _, w := range workers {
		for _, q := range w.Queues {
			if len(w.Kinds) == 0 {
				unknown[q.Name] = true
				continue
			}
			if served[q.Name] == nil {
				served[q.Name] = map[string]bool{}
			}
			for _, k := range w.Kinds {
				served[q.Name][k] = true
			}
		}
	}
	t := c.Topology()
	s, err := c.JetStream().Stream(ctx, t.Stream)
	if err != nil {
		return nil
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(t.Prefix+".>"))
	if err != nil {
		return nil
	}
	out := map[string]unserved{}
	for subject, n := range info.State.Subjects {
		queue, kind, err := job.ParseSubject(t.Prefix, subject)
		if err != nil || served[queue][kind] {
			continue
		}
		x := out[queue]
		x.known = !unknown[queue]
		x.jobs += n
		if !slices.Contains(x.kinds, kind) {
			x.kinds = append(x.kinds, kind)
		}
		out[queue] = x
	}
	for q, x := range out {
		slices.Sort(x.kinds)
		out[q] = x
	}
	return out
}

// delayedCountLimit bounds the delayed jobs whose queue `queues` reads.
const delayedCountLimit = 10_000

// delayedByQueue counts the delayed jobs (one-shot schedules: enqueued for
// later, or snoozed) of each queue, reading the target of each, up to
// limit of them; counted is how many it read, total how many there are.
// A server without the schedule stream has none.
func delayedByQueue(ctx context.Context, c *job.Client, limit int) (perQueue map[string]uint64, counted, total uint64, err error) {
	t := c.Topology().WithDefaults()
	perQueue = map[string]uint64{}
	s, err := c.JetStream().Stream(ctx, t.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return perQueue, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	filter := t.SchedulePrefix + "." + wire.ScheduleAtToken + ".>"
	seq := uint64(1)
	for counted < uint64(limit) {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return perQueue, counted, counted, nil
		}
		if err != nil {
			return nil, 0, 0, err
		}
		seq = m.Sequence + 1
		counted++
		if q, _, ok := wire.ParseFireSubject(t.SchedulePrefix, m.Header.Get(wire.ScheduleTarget)); ok {
			perQueue[q]++
		}
	}
	// Past the limit: count the rest by subject, without reading them.
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, 0, 0, err
	}
	for _, n := range info.State.Subjects {
		total += n
	}
	return perQueue, counted, max(total, counted), nil
}

func queueNote(s job.QueueStats) string {
	switch {
	case s.Paused && !s.PausedUntil.IsZero():
		return "paused until " + clock(s.PausedUntil)
	case s.Paused:
		return "paused"
	case !s.Bound:
		return "no worker has served it yet"
	}
	return ""
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

// clock formats a moment for people, in the local zone and naming it:
// 2026-11-27 10:42:00 CET (with the UTC offset where the zone has no
// abbreviation).
func clock(t time.Time) string {
	return t.Local().Format("2006-01-02 15:04:05 MST")
}
