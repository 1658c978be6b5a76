package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", func(a *app) *cobra.Command {
		cmd := group("dlq", "List, show, replay and purge dead letters")
		cmd.Long = `Dead letters are jobs that could not succeed: their last attempt failed, they
could not be decoded, no handler served them, or their worker died on every
attempt. Each keeps its payload and headers and says why it died.`
		a.addConnFlags(cmd)
		return cmd
	})
	register("dlq", newDLQListCommand)
	register("dlq", newDLQShowCommand)
	register("dlq", newDLQReplayCommand)
	register("dlq", newDLQPurgeCommand)
}

func newDLQListCommand(a *app) *cobra.Command {
	var (
		filter       job.DeadLetterFilter
		kind, reason string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List dead letters, oldest first",
		Example: `  jetjobs dlq ls
  jetjobs dlq ls --queue mail --limit 10
  jetjobs dlq ls --kind email.send --reason decode
  jetjobs dlq ls --json | jq -r '.[] | select(.reason == "decode") | .id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if filter.Queue != "" {
				if err := job.ValidateQueue(filter.Queue); err != nil {
					return usagef("--queue: %w", err)
				}
			}
			if filter.Limit < 0 {
				return usagef("--limit %d: use 0 (all) or more", filter.Limit)
			}
			q, err := deadLetterQuery(filter.Queue, kind, reason)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "dlq ls")
			if err != nil {
				return err
			}
			defer nc.Close()
			// One more than the limit tells whether there are more.
			f := filter
			if f.Limit > 0 {
				f.Limit++
			}
			var dls []job.DeadLetter
			if kind != "" || reason != "" {
				dls, err = queriedDeadLetters(ctx, c, q, f.Limit)
			} else {
				dls, err = c.DeadLetters(ctx, f)
			}
			if err != nil {
				return err
			}
			if filter.Limit > 0 && len(dls) > filter.Limit {
				dls = dls[:filter.Limit]
				more := "more"
				if n, err := c.CountDeadLetters(ctx, q); err == nil {
					more = fmt.Sprintf("the %d", n)
				}
				fmt.Fprintf(a.stderr, "note: listed the oldest %d of %s dead letters; --limit 0 lists all\n", filter.Limit, more)
			}
			if asJSON {
				out := make([]deadLetterJSON, 0, len(dls))
				for _, dl := range dls {
					out = append(out, toJSON(dl))
				}
				return writeJSON(a.stdout, out)
			}
			if len(dls) == 0 {
				fmt.Fprintln(a.stderr, "no dead letters")
				return nil
			}
			t := newTable(a.stdout, "ID", "QUEUE", "KIND", "REASON", "ATTEMPTS", "FAILED", "ERROR")
			now := time.Now()
			for _, dl := range dls {
				t.row(dl.ID, dl.Queue, dl.Kind, string(dl.Reason), strconv.Itoa(dl.Attempts),
					age(now.Sub(dl.FailedAt))+" ago", truncate(dl.Error, 72))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVarP(&filter.Queue, "queue", "q", "", "only this queue's dead letters")
	addKindReasonFlags(cmd, &kind, &reason)
	cmd.Flags().IntVarP(&filter.Limit, "limit", "n", 100, "list at most this many (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, payloads and headers included")
	return cmd
}

func newDLQShowCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one dead letter: why it died, its headers and payload",
		Example: `  jetjobs dlq show order-42`,
		Args:    argsBetween(1, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "dlq show")
			if err != nil {
				return err
			}
			defer nc.Close()
			dl, err := c.DeadLetter(ctx, args[0])
			if err != nil {
				return err
			}
			if n, err := deadLettersOfID(ctx, c, args[0]); err == nil && n > 1 {
				fmt.Fprintf(a.stderr, "note: %d dead letters have ID %s; this is the newest (jetjobs dlq ls --json lists them all; jetjobs dlq replay %s replays them all)\n", n, args[0], args[0])
			}
			if asJSON {
				return writeJSON(a.stdout, toJSON(dl))
			}
			return writeDeadLetter(a.stdout, dl)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeDeadLetter(w io.Writer, dl job.DeadLetter) error {
	bw := bufio.NewWriter(w)
	// Every value but the counts and times is the job's or its
	// publisher's: shown printable.
	field := func(name, value string) { fmt.Fprintf(bw, "%-10s %s\n", name+":", printable(value)) }
	field("ID", dl.ID)
	field("Queue", dl.Queue)
	field("Kind", dl.Kind)
	field("Subject", dl.Subject)
	field("Reason", string(dl.Reason))
	field("Attempts", strconv.Itoa(dl.Attempts))
	field("Failed at", dl.FailedAt.Local().Format(time.RFC3339)+" ("+age(time.Since(dl.FailedAt))+" ago)")
	field("Error", dl.Error)
	writeHeaders(bw, dl.Header)
	writePayload(bw, dl.Payload)
	return bw.Flush()
}

// writeHeaders writes a job's headers, sorted, one per line.
func writeHeaders(w io.Writer, h map[string][]string) {
	fmt.Fprintln(w, "Headers:")
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(w, "  %s: %s\n", printable(k), printable(v))
		}
	}
}

// writePayload writes a job's payload: JSON pretty-printed, anything else
// as its lines of text, unprintable characters escaped.
func writePayload(w io.Writer, payload []byte) {
	switch {
	case len(payload) == 0:
		fmt.Fprintln(w, "Payload: (none)")
	case json.Valid(payload):
		fmt.Fprintln(w, "Payload:")
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetIndent("  ", "  ")
		_ = enc.Encode(json.RawMessage(payload))
		fmt.Fprint(w, "  "+string(escapeJSON([]byte(buf.String()))))
	default:
		fmt.Fprintln(w, "Payload (not JSON, as text):")
		for line := range strings.Lines(string(payload)) {
			fmt.Fprintln(w, "  "+escapeUnprintable(strings.TrimSuffix(line, "\n")))
		}
	}
}

// deadLetterJSON is a dead letter in `dlq ls --json` and `dlq show --json`.
type deadLetterJSON struct {
	ID          string              `json:"id"`
	Queue       string              `json:"queue"`
	Kind        string              `json:"kind"`
	Subject     string              `json:"subject"`
	Reason      string              `json:"reason"`
	Error       string              `json:"error"`
	Attempts    int                 `json:"attempts"`
	FailedAt    time.Time           `json:"failed_at"`
	Seq         uint64              `json:"seq"`
	Header      map[string][]string `json:"header"`
	Payload     json.RawMessage     `json:"payload,omitempty"`
	PayloadText string              `json:"payload_text,omitempty"` // a payload that is not JSON
}

func toJSON(dl job.DeadLetter) deadLetterJSON {
	out := deadLetterJSON{
		ID: dl.ID, Queue: dl.Queue, Kind: dl.Kind, Subject: dl.Subject, Reason: string(dl.Reason),
		Error: dl.Error, Attempts: dl.Attempts, FailedAt: dl.FailedAt, Seq: dl.Seq, Header: dl.Header,
	}
	if json.Valid(dl.Payload) {
		out.Payload = dl.Payload
	} else if len(dl.Payload) > 0 {
		out.PayloadText = string(dl.Payload)
	}
	return out
}

func newDLQReplayCommand(a *app) *cobra.Command {
	var (
		all                 bool
		queue, kind, reason string
	)
	cmd := &cobra.Command{
		Use:   "replay (ID... | --all)",
		Short: "Enqueue dead letters again, with fresh attempts",
		Long: `Replay publishes each dead letter to its original subject as a fresh job (same
ID, payload and headers; attempts start over) and deletes the dead letter only
after the server stored the job.

With IDs, it replays every dead letter with each ID (a job enqueued again
with the same ID after it died can die again: then each ID has several) and
prints each ID replayed. An ID without a dead letter is reported on a line of
its own on stderr and the others are still replayed; the exit status is then 1.`,
		Example: `  jetjobs dlq replay order-42 order-43
  jetjobs dlq replay --all --queue mail
  jetjobs dlq replay --all --kind email.send --reason failed`,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case all && len(args) > 0:
				return usagef("give IDs or --all, not both")
			case !all && len(args) == 0:
				return usagef("name the dead letters to replay by ID, or give --all")
			case !all && (queue != "" || kind != "" || reason != ""):
				return usagef("--queue, --kind and --reason go with --all")
			}
			q, err := deadLetterQuery(queue, kind, reason)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "dlq replay")
			if err != nil {
				return err
			}
			defer nc.Close()
			if !all {
				return a.replayIDs(ctx, c, args)
			}
			if kind != "" || reason != "" {
				// The server selects them by subject; those there now
				// are replayed, not the replayed jobs that die again.
				if q.Through, err = c.DeadLetterSequence(ctx); err != nil || q.Through == 0 {
					fmt.Fprintln(a.stdout, "replayed 0 dead letters")
					return err
				}
				n, err := c.ReplayDeadLetters(ctx, q)
				fmt.Fprintf(a.stdout, "replayed %s\n", plural(n, "dead letter"))
				return err
			}
			total, err := deadLetterCount(ctx, c, queue)
			if err != nil {
				return err
			}
			bar := newProgress(a.stderr, a.stderrTTY, "replay", int(total))
			n, err := c.ReplayAll(ctx, queue, bar.set)
			bar.finish()
			fmt.Fprintf(a.stdout, "replayed %s\n", plural(n, "dead letter"))
			return err
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "replay every dead letter (of --queue, --kind and --reason, if given)")
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "with --all: only this queue's dead letters")
	addKindReasonFlags(cmd, &kind, &reason)
	return cmd
}

func newDLQPurgeCommand(a *app) *cobra.Command {
	var (
		force               bool
		queue, kind, reason string
	)
	cmd := &cobra.Command{
		Use:   "purge",
		Short: "Delete dead letters for good",
		Long: `Purge deletes the dead letters (of --queue, if given). It asks for
confirmation on stdin unless --force is given: anything but y or yes, or
no answer, purges nothing and exits 1. Dead letters that arrive while the
question waits are kept: only those there when it counted are deleted.`,
		Example: `  jetjobs dlq purge --queue mail
  jetjobs dlq purge --kind email.send --reason decode
  jetjobs dlq purge --force`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := deadLetterQuery(queue, kind, reason)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "dlq purge")
			if err != nil {
				return err
			}
			defer nc.Close()
			// The mark first: whatever is counted and confirmed below is at
			// or under it, and dead letters that arrive while the question
			// waits for an answer are spared.
			mark, err := c.DeadLetterSequence(ctx)
			if err != nil {
				return err
			}
			q.Through = mark
			var total uint64
			if kind != "" || reason != "" {
				total, err = c.CountDeadLetters(ctx, q)
			} else {
				total, err = deadLetterCount(ctx, c, queue)
			}
			if err != nil {
				return err
			}
			if total == 0 {
				fmt.Fprintln(a.stdout, "purged 0 dead letters")
				return nil
			}
			if !force {
				what := "all " + plural(int(total), "dead letter")
				if total == 1 {
					what = "the 1 dead letter"
				}
				if of := q.Describe(); of != "" {
					what = fmt.Sprintf("the %s of %s", plural(int(total), "dead letter"), of)
				}
				ok, err := a.confirm(fmt.Sprintf("Delete %s for good? [y/N] ", what))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("nothing purged: answer y to confirm, or pass --force")
				}
			}
			n, err := c.DeleteDeadLetters(ctx, q)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "purged %s\n", plural(n, "dead letter"))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().StringVarP(&queue, "queue", "q", "", "only this queue's dead letters")
	addKindReasonFlags(cmd, &kind, &reason)
	return cmd
}

// replayIDs replays every dead letter of each ID, newest first, going on
// past IDs without one; those are reported each on a line of its own.
func (a *app) replayIDs(ctx context.Context, c *job.Client, ids []string) error {
	return a.eachArg(ids, func(id string) (bool, error) {
		// Several dead letters may share the ID: replay them all, so that
		// none is left behind. Replay takes the newest; count them first.
		n, err := deadLettersOfID(ctx, c, id)
		if err != nil {
			return false, err
		}
		replayed := 0
		for range max(n, 1) {
			if _, err = c.Replay(ctx, id); err != nil {
				break
			}
			replayed++
		}
		if replayed > 0 {
			fmt.Fprintln(a.stdout, id)
		}
		if replayed > 1 {
			fmt.Fprintf(a.stderr, "note: %d dead letters had ID %s; replayed all %d\n", replayed, id, replayed)
		}
		if errors.Is(err, job.ErrDeadLetterNotFound) && replayed > 0 {
			return false, nil // the rest replayed meanwhile by someone else
		}
		own := errors.Is(err, job.ErrDeadLetterNotFound) || errors.Is(err, job.ErrDecode) ||
			errors.Is(err, job.ErrPayloadTooLarge) || errors.Is(err, job.ErrTopologyMismatch)
		return own, err
	})
}

// deadLettersOfID counts the dead letters of the job with ID id, from the
// dead-letter stream's subjects (one per queue, reason and kind that have
// them, and one per queue for those an older version stored).
func deadLettersOfID(ctx context.Context, c *job.Client, id string) (int, error) {
	t := c.Topology()
	s, err := c.JetStream().Stream(ctx, t.DeadLetterStream)
	if err != nil {
		return 0, err
	}
	current, v1 := wire.DeadLetterIDFilters(t.DeadLetterPrefix, id)
	n := 0
	for _, filter := range []string{current, v1} {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return 0, err
		}
		for _, count := range info.State.Subjects {
			n += int(count)
		}
	}
	return n, nil
}

// confirm asks question on stderr and reads the answer from stdin, as
// rm -i does: anything but y or yes, or no answer at all, is no.
func (a *app) confirm(question string) (bool, error) {
	fmt.Fprint(a.stderr, question)
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// deadLetterCount counts the dead letters of queue (all when empty).
func deadLetterCount(ctx context.Context, c *job.Client, queue string) (uint64, error) {
	stats, err := c.Inspector().Queues(ctx)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, s := range stats {
		if queue == "" || s.Queue == queue {
			n += s.DeadLetters
		}
	}
	return n, nil
}

// deadLetterReasons are the reasons --reason takes.
var deadLetterReasons = []job.Reason{job.ReasonFailed, job.ReasonMaxDeliveries, job.ReasonDecode, job.ReasonNoHandler, job.ReasonCanceled, job.ReasonExpired}

func addKindReasonFlags(cmd *cobra.Command, kind, reason *string) {
	cmd.Flags().StringVarP(kind, "kind", "k", "", "only dead letters of this kind")
	cmd.Flags().StringVarP(reason, "reason", "r", "", "only dead letters that died for this reason (failed, max-deliveries, decode, no-handler, canceled, expired)")
}

// deadLetterQuery checks the --queue, --kind and --reason flags and returns
// the query they make.
func deadLetterQuery(queue, kind, reason string) (job.DeadLetterQuery, error) {
	if queue != "" {
		if err := job.ValidateQueue(queue); err != nil {
			return job.DeadLetterQuery{}, usagef("--queue: %w", err)
		}
	}
	if kind != "" {
		if err := job.ValidateKind(kind); err != nil {
			return job.DeadLetterQuery{}, usagef("--kind: %w", err)
		}
	}
	if reason != "" && !slices.Contains(deadLetterReasons, job.Reason(reason)) {
		return job.DeadLetterQuery{}, usagef("--reason %q: use one of %v", reason, deadLetterReasons)
	}
	return job.DeadLetterQuery{Queue: queue, Kind: kind, Reason: job.Reason(reason)}, nil
}

// queriedDeadLetters lists the dead letters q selects, oldest first, at
// most limit of them (0: all), page by page.
func queriedDeadLetters(ctx context.Context, c *job.Client, q job.DeadLetterQuery, limit int) ([]job.DeadLetter, error) {
	var out []job.DeadLetter
	for {
		q.Limit = 500
		page, err := c.QueryDeadLetters(ctx, q)
		if err != nil {
			return out, err
		}
		out = append(out, page.DeadLetters...)
		if limit > 0 && len(out) >= limit {
			return out[:limit], nil
		}
		if page.Next == 0 {
			return out, nil
		}
		q.After = page.Next
	}
}
