package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

func init() {
	register("", func(a *app) *cobra.Command {
		cmd := group("cron", "List, add and remove periodic jobs")
		cmd.Long = `Periodic jobs are schedules on the NATS server (nats-server 2.14 or newer):
each fires a job of a kind with fixed arguments every period, once however
many workers run. A schedule has a name; adding one with an existing name
replaces it, and adding it unchanged changes nothing.`
		a.addConnFlags(cmd)
		return cmd
	})
	register("cron", newCronListCommand)
	register("cron", newCronAddCommand)
	register("cron", newCronRemoveCommand)
}

// scheduleJSON is one schedule in `cron ls --json`.
type scheduleJSON struct {
	Name        string          `json:"name"`
	Spec        string          `json:"spec"`
	TimeZone    string          `json:"time_zone,omitempty"`
	Queue       string          `json:"queue"`
	Kind        string          `json:"kind"`
	Args        json.RawMessage `json:"args,omitempty"`
	MaxAttempts int             `json:"max_attempts,omitempty"`
	Timeout     string          `json:"timeout,omitempty"`
	// Header holds the extra headers given with -H.
	Header     map[string][]string `json:"header,omitempty"`
	DeclaredAt time.Time           `json:"declared_at"`
	// NextRun is when it fires next, as its spec says (absent if that
	// cannot be read).
	NextRun *time.Time `json:"next_run,omitempty"`
}

// extraHeaders returns the headers of a schedule given with -H: all but
// the NATS server's and jetjobs' own.
func extraHeaders(h map[string][]string) map[string][]string {
	var out map[string][]string
	for k, v := range h {
		if wire.ReservedHeader(k) {
			continue
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[k] = v
	}
	return out
}

func newCronListCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the periodic jobs and when each runs next",
		Long: `List the periodic jobs: name, spec, time zone, queue, kind, arguments, when it
runs next and when it was declared. The next run is computed from the spec
as the server reads it; an @every period counts from its declaration, and a
server restart starts it again from the restart.

--json prints an array of objects with name, spec, queue, kind and
declared_at, and where they apply time_zone, args, max_attempts, timeout,
header (the -H headers) and next_run.`,
		Example: `  jetjobs cron ls
  jetjobs cron ls --json | jq -r '.[].name'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "cron ls")
			if err != nil {
				return err
			}
			defer nc.Close()
			list, err := c.Schedules(ctx)
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]scheduleJSON, 0, len(list))
				for _, s := range list {
					sj := scheduleJSON{Name: s.Name, Spec: s.Spec, TimeZone: s.TimeZone, Queue: s.Queue, Kind: s.Kind,
						MaxAttempts: s.MaxAttempts, Header: extraHeaders(s.Header), DeclaredAt: s.DeclaredAt}
					if next, err := nextRun(s.Spec, s.TimeZone, s.DeclaredAt, time.Now()); err == nil {
						sj.NextRun = &next
					}
					if len(s.Payload) > 0 {
						sj.Args = s.Payload
					}
					if s.Timeout > 0 {
						sj.Timeout = s.Timeout.String()
					}
					out = append(out, sj)
				}
				return writeJSON(a.stdout, out)
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stderr, "no periodic jobs; add one with jetjobs cron add")
				return nil
			}
			t := newTable(a.stdout, "NAME", "SPEC", "TIME ZONE", "QUEUE", "KIND", "ARGS", "NEXT RUN", "DECLARED")
			now := time.Now()
			for _, s := range list {
				tz := s.TimeZone
				if tz == "" {
					tz = "UTC"
					if strings.HasPrefix(s.Spec, "@every") {
						tz = "-"
					}
				}
				args := string(s.Payload)
				if args == "" {
					args = "-"
				}
				next := "-"
				if at, err := nextRun(s.Spec, s.TimeZone, s.DeclaredAt, now); err == nil {
					next = "in " + age(at.Sub(now))
				}
				t.row(s.Name, s.Spec, tz, s.Queue, s.Kind, truncate(args, 40), next, age(now.Sub(s.DeclaredAt))+" ago")
			}
			return t.flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type cronAddFlags struct {
	jobFlags
	timeZone string
}

func newCronAddCommand(a *app) *cobra.Command {
	var f cronAddFlags
	cmd := &cobra.Command{
		Use:   "add [flags] NAME SPEC KIND [JSON|-]",
		Short: "Add or replace a periodic job",
		Long: `Add the periodic job NAME: every time SPEC says, a job of KIND with the JSON
arguments (none if omitted; - reads them from stdin) is enqueued.

SPEC is one of
  @every DURATION       a Go duration of at least 1s: "@every 15m"
  a 6-field cron        second minute hour day-of-month month day-of-week:
                        "0 30 9 * * 1-5" is 09:30:00 on weekdays
  a preset              @hourly @daily @midnight @weekly @monthly @yearly @annually
Cron expressions and presets are read in UTC unless --tz names a zone.

Adding a job that exists under NAME replaces it; adding it unchanged does
nothing (so its period is not restarted). Needs nats-server 2.14 or newer.`,
		Example: `  jetjobs cron add cleanup '@every 1h' tmp.cleanup
  jetjobs cron add nightly-report '0 30 2 * * *' --tz Europe/Berlin --queue reports report.build '{"scope":"all"}'
  jetjobs cron add weekly @weekly --max-attempts 3 --timeout 10m digest.send`,
		Args: argsBetween(3, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.changed = cmd.Flags().Changed
			return a.cronAdd(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.queue, "queue", "q", job.DefaultQueue, "queue the fired jobs go to")
	fl.StringVar(&f.timeZone, "tz", "", "IANA time zone of a cron expression or preset, such as Europe/Berlin; default UTC")
	fl.IntVar(&f.maxAttempts, "max-attempts", 0, "attempts of each fired job; default: the worker's")
	fl.DurationVar(&f.timeout, "timeout", 0, "time limit of each attempt; default: the worker's")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "extra header NAME=VALUE for the fired jobs (repeatable)")
	a.topo.addReplicas(cmd, false)
	return cmd
}

func (a *app) cronAdd(ctx context.Context, f cronAddFlags, args []string) error {
	s := job.Schedule{Name: args[0], Spec: args[1], Kind: args[2], TimeZone: f.timeZone}
	if len(args) == 4 {
		payload := []byte(args[3])
		if args[3] == "-" {
			var err error
			if payload, err = io.ReadAll(a.stdin); err != nil {
				return fmt.Errorf("read the arguments from stdin: %w", err)
			}
		}
		if err := checkJSON(payload); err != nil {
			return usageError{err}
		}
		s.Args = json.RawMessage(payload)
	}
	opts, headers, err := f.options()
	if err != nil {
		return err
	}
	s.Options = append(opts, headers...)
	if err := checkSchedule(s); err != nil {
		return err
	}
	nc, c, err := a.client(ctx, "cron add")
	if err != nil {
		return err
	}
	defer nc.Close()
	changed, err := c.DeclareSchedule(ctx, s)
	if errors.Is(err, job.ErrSchedulingUnsupported) && job.SupportsSchedules(c.JetStream(), true) {
		// A new namespace: create the streams and try again.
		if err = c.EnsureTopology(ctx); err == nil {
			changed, err = c.DeclareSchedule(ctx, s)
		}
	}
	switch {
	case errors.Is(err, job.ErrInvalidOption), errors.Is(err, job.ErrInvalidName), errors.Is(err, job.ErrEncode):
		return usageError{err}
	case err != nil:
		return err
	case changed:
		fmt.Fprintf(a.stdout, "%s: %s, kind %s on queue %s\n", s.Name, describeSpec(s.Spec, s.TimeZone), s.Kind, f.queue)
	default:
		fmt.Fprintf(a.stdout, "%s: unchanged\n", s.Name)
	}
	return nil
}

// checkSchedule refuses a schedule the server would refuse for its input
// alone, before connecting.
func checkSchedule(s job.Schedule) error {
	if tz := s.TimeZone; tz != "" {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			return usagef("--tz %q: use an IANA time zone such as Europe/Berlin or America/New_York", tz)
		}
		if strings.HasPrefix(strings.TrimSpace(s.Spec), "@every") {
			return usagef("--tz %s: an @every period does not depend on a time zone; leave --tz out", tz)
		}
	}
	if err := s.Validate(); err != nil {
		return usageError{err}
	}
	return nil
}

// describeSpec says when a spec fires, for the confirmation line.
func describeSpec(spec, tz string) string {
	spec = strings.Join(strings.Fields(spec), " ")
	if strings.HasPrefix(spec, "@every") {
		return strings.Replace(spec, "@every", "every", 1)
	}
	if tz == "" {
		tz = "UTC"
	}
	return strconv.Quote(spec) + " in " + tz
}

func newCronRemoveCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove periodic jobs",
		Long: `Remove the named periodic jobs: they fire no more. Jobs they fired already are not affected.

A name that is not a schedule's is reported on a line of its own on stderr and
the others are still removed; the exit status is then 1.`,
		Example: `  jetjobs cron rm nightly-report
  jetjobs cron rm cleanup weekly`,
		Args: argsBetween(1, -1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
					return usagef("cron rm %q: not a schedule name; names are one token of A-Z a-z 0-9 _ -", name)
				}
			}
			ctx := cmd.Context()
			nc, c, err := a.client(ctx, "cron rm")
			if err != nil {
				return err
			}
			defer nc.Close()
			return a.eachArg(args, func(name string) (bool, error) {
				err := c.RemoveSchedule(ctx, name)
				if err == nil {
					fmt.Fprintf(a.stdout, "%s: removed\n", name)
				}
				return errors.Is(err, job.ErrScheduleNotFound), err
			})
		},
	}
	return cmd
}
