package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newEnqueueCommand) }

type enqueueFlags struct {
	jobFlags
	id string
	// unique derives the ID from the kind, queue and arguments.
	unique bool
	// deadline is --deadline as given: an RFC 3339 time or a duration.
	deadline string
	in       time.Duration
	count    int
	batch    int
	quiet    bool
	// allowDuplicate: a job already stored under the ID is not an error.
	allowDuplicate bool
	// Results (docs/results.md).
	keepResult  time.Duration
	wait        bool
	waitTimeout time.Duration
	sequence    string
}

// jobFlags are the flags of the options every job has, shared by enqueue
// and cron add.
type jobFlags struct {
	queue       string
	maxAttempts int
	timeout     time.Duration
	headers     []string
	changed     func(name string) bool
}

// options checks the flags and returns the options they give, and those
// of --header apart (enqueue checks each against the server's rules).
// Zero is each number's default, "the worker's"; given, a value must make
// sense.
func (f jobFlags) options() (opts, headers []job.Option, err error) {
	switch {
	case f.changed("max-attempts") && f.maxAttempts < 1:
		return nil, nil, usagef("--max-attempts %d: use at least 1 (leave it out for the worker's)", f.maxAttempts)
	case f.changed("timeout") && f.timeout <= 0:
		return nil, nil, usagef("--timeout %s: use a positive duration (leave it out for the worker's)", f.timeout)
	}
	if err := job.ValidateQueue(f.queue); err != nil {
		return nil, nil, usagef("--queue: %w", err)
	}
	opts = []job.Option{job.Queue(f.queue)}
	if f.maxAttempts != 0 {
		opts = append(opts, job.MaxAttempts(f.maxAttempts))
	}
	if f.timeout != 0 {
		opts = append(opts, job.Timeout(f.timeout))
	}
	for _, h := range f.headers {
		name, value, ok := strings.Cut(h, "=")
		if !ok {
			return nil, nil, usagef("--header %q: use NAME=VALUE", h)
		}
		opt := job.Header(name, value)
		if err := job.ValidateOptions(opt); err != nil {
			return nil, nil, usagef("--header %q: %w", h, err)
		}
		headers = append(headers, opt)
	}
	return opts, headers, nil
}

// parseDeadline reads --deadline: an RFC 3339 time, or a positive Go
// duration counted from now.
func parseDeadline(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return time.Time{}, usagef("--deadline %q: use an RFC 3339 time such as 2026-12-24T18:00:00Z, or a duration from now such as 30m", s)
	case d <= 0:
		return time.Time{}, usagef("--deadline %s: use a positive duration from now, or an RFC 3339 time", s)
	}
	return now.Add(d), nil
}

func newEnqueueCommand(a *app) *cobra.Command {
	var f enqueueFlags
	cmd := &cobra.Command{
		Use:   "enqueue [flags] KIND [JSON|-]",
		Short: "Enqueue a job and print its ID",
		Long: `Enqueue a job of KIND with JSON arguments (none if omitted; - reads them from
stdin) and print its ID. With --count N, enqueue N copies pipelined and print
every ID (a progress bar shows on a terminal; --quiet prints only a summary).`,
		Example: `  jetjobs enqueue email.send '{"to":"ada@example.com"}'
  echo '{"to":"ada@example.com"}' | jetjobs enqueue --queue mail --max-attempts 5 email.send -
  jetjobs enqueue --id order-42 --timeout 30s invoice.render '{"order":42}'
  jetjobs enqueue --in 10m reminder.send '{"user":7}'
  jetjobs enqueue --unique --deadline 30m report.build '{"month":"2026-11"}'
  jetjobs enqueue --deadline 2026-12-24T18:00:00Z greeting.send '{"user":7}'
  jetjobs enqueue --sequence customer-42 invoice.send '{"invoice":7}'
  jetjobs enqueue --count 100000 --quiet load.test '{}'`,
		Args: argsBetween(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.changed = cmd.Flags().Changed
			return a.enqueue(cmd.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.queue, "queue", "q", job.DefaultQueue, "queue to enqueue to")
	fl.StringVar(&f.id, "id", "", "job ID (jobs with the same ID within the duplicate window are stored once); default: a new unique ID")
	fl.BoolVar(&f.unique, "unique", false, "derive the job's ID from its kind, queue and JSON, so the same job enqueued again within the duplicate window is stored once (exit 0, the same ID); not with --id or --count")
	fl.IntVar(&f.maxAttempts, "max-attempts", 0, "attempts before the job is dead-lettered; default: the worker's")
	fl.DurationVar(&f.timeout, "timeout", 0, "time limit of each attempt; default: the worker's")
	fl.DurationVar(&f.in, "in", 0, "run the job after this delay (needs nats-server 2.12 or newer)")
	fl.StringVar(&f.deadline, "deadline", "", "the job must start by then, or a worker dead-letters it as expired without running it: an RFC 3339 time (2026-12-24T18:00:00Z) or a duration from now (30m)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "extra header NAME=VALUE for the job (repeatable)")
	fl.IntVarP(&f.count, "count", "n", 1, "enqueue this many copies, pipelined")
	fl.IntVar(&f.batch, "batch", 1000, "with --count: jobs published before awaiting their acknowledgements")
	fl.BoolVar(&f.quiet, "quiet", false, "print no job IDs, only errors (and a summary with --count)")
	fl.BoolVar(&f.allowDuplicate, "allow-duplicate", false, "exit 0 when a job with the same --id was already enqueued (idempotent retries); without it that is an error, since the ID may be another queue's")
	fl.DurationVar(&f.keepResult, "keep-result", 0, "keep the job's state and result this long after each change, for status and wait (default with --wait: 24h)")
	fl.BoolVar(&f.wait, "wait", false, "wait for the job to finish and print its result as JSON instead of its ID; exit 1 if it ends dead, canceled or expired")
	fl.DurationVar(&f.waitTimeout, "wait-timeout", 0, "with --wait: give up after this long (exit 1); 0 waits as long as it takes")
	fl.StringVar(&f.sequence, "sequence", "", "run the job in the sequence KEY of its queue: jobs of one key run one at a time, in enqueue order (KEY: A-Z a-z 0-9 _ -, at most 128 characters); not with --in")
	a.addConnFlags(cmd)
	a.topo.addReplicas(cmd, false)
	return cmd
}

func (a *app) enqueue(ctx context.Context, f enqueueFlags, args []string) error {
	kind := args[0]
	if err := job.ValidateKind(kind); err != nil {
		return usageError{err}
	}
	var payload []byte
	if len(args) == 2 {
		payload = []byte(args[1])
		if args[1] == "-" {
			var err error
			if payload, err = io.ReadAll(a.stdin); err != nil {
				return fmt.Errorf("read the payload from stdin: %w", err)
			}
		}
	}
	if err := checkJSON(payload); err != nil {
		return usageError{err}
	}
	opts, headers, err := f.options()
	if err != nil {
		return err
	}
	if f.id != "" {
		switch {
		case f.unique:
			return usagef("--unique derives the job's ID from its kind, queue and JSON; it cannot go with --id %s (leave one out)", f.id)
		case f.count != 1:
			return usagef("--id names one job; it cannot go with --count %d", f.count)
		}
		opts = append(opts, job.ID(f.id))
		if err := job.ValidateOptions(job.ID(f.id)); err != nil {
			return usagef("--id: %w", err)
		}
	}
	if f.unique {
		if f.count != 1 {
			return usagef("--unique stores one job for one content; it cannot go with --count %d", f.count)
		}
		opts = append(opts, job.Unique())
	}
	if f.in < 0 {
		return usagef("--in %s: use a duration of 0 or more", f.in)
	}
	if f.in != 0 {
		opts = append(opts, job.In(f.in))
	}
	if f.changed("sequence") {
		opt, err := sequenceOption(f.sequence, f.in)
		if err != nil {
			return err
		}
		opts = append(opts, opt)
	}
	if f.changed("deadline") {
		opt, err := a.deadlineOption(ctx, f)
		if err != nil {
			return err
		}
		opts = append(opts, opt)
	}
	opts = append(opts, headers...)
	if f.count < 1 {
		return usagef("--count %d: use at least 1", f.count)
	}
	if err := f.resultOptions(&opts); err != nil {
		return err
	}
	if f.batch < 1 {
		return usagef("--batch %d: use at least 1", f.batch)
	}
	// Whatever the flags above did not catch is still bad input, not a
	// reason to connect.
	if err := job.ValidateOptions(opts...); err != nil {
		return usageError{err}
	}
	nc, c, err := a.client(ctx, "enqueue", expectStream)
	if err != nil {
		return err
	}
	defer nc.Close()
	// What depends on the server (the size limits) is checked when the
	// message is built: refuse bad input before publishing anything.
	if _, _, err := c.Message(kind, json.RawMessage(payload), opts...); errors.Is(err, job.ErrInvalidOption) || errors.Is(err, job.ErrInvalidName) {
		return usageError{err}
	}
	out := bufio.NewWriter(a.stdout)
	defer out.Flush()

	if f.count == 1 {
		r, err := c.Enqueue(ctx, kind, json.RawMessage(payload), opts...)
		if needsTopology(err) || errors.Is(err, job.ErrSchedulingUnsupported) && job.SupportsSchedules(c.JetStream(), false) {
			// A new namespace: create the streams (the schedule stream too,
			// for --in) and try again.
			if err = c.EnsureTopology(ctx); err == nil {
				r, err = c.Enqueue(ctx, kind, json.RawMessage(payload), opts...)
			}
		}
		if err != nil {
			return err
		}
		// With --unique the ID is the content's: a job stored under it is
		// this same job, enqueued before.
		if r.Duplicate && !f.allowDuplicate && !f.unique {
			// IDs are shared by every queue of the namespace: the job stored
			// under this ID may be another queue's, and this one would never
			// run. Say so with a failing exit, unless asked not to.
			return fmt.Errorf("job ID %s was already enqueued within the stream's duplicate window, nothing new was stored: job IDs are shared by every queue of the namespace, so the job stored under it may belong to another queue; use another --id, or give --allow-duplicate when enqueueing the same job again on purpose", r.ID)
		}
		if f.wait {
			return a.waitEnqueued(ctx, c, f, r.ID)
		}
		if !f.quiet {
			fmt.Fprintln(out, r.ID)
		}
		if r.Duplicate {
			a.log.LogAttrs(ctx, slog.LevelInfo, "a job with this ID was already enqueued within the duplicate window; nothing new was stored",
				slog.String("job_id", r.ID))
		}
		if f.in == 0 {
			a.warnUnserved(ctx, c, f.queue, kind)
		}
		return nil
	}
	if err := a.enqueueMany(ctx, c, out, f, kind, payload, opts); err != nil {
		return err
	}
	if f.in == 0 {
		a.warnUnserved(ctx, c, f.queue, kind)
	}
	return nil
}

// warnUnserved warns when queue has no consumer (no worker ever served
// it) while other queues have one: most likely --queue was forgotten or
// mistyped. Queues that hold jobs of kind come first in the advice. It
// says nothing when no queue has a consumer yet (workers not started), or
// when the user may not read consumers (an enqueuer of least privilege),
// and gives up after probeTimeout.
func (a *app) warnUnserved(ctx context.Context, c *job.Client, queue, kind string) {
	a.probe(ctx, probeTimeout, func(ctx context.Context) { a.checkServed(ctx, c, queue, kind) })
}

// probeTimeout bounds the look of warnUnserved.
const probeTimeout = 2 * time.Second

func (a *app) checkServed(ctx context.Context, c *job.Client, queue, kind string) {
	t := c.Topology().WithDefaults()
	s, err := c.JetStream().Stream(ctx, t.Stream)
	if err != nil {
		return
	}
	if _, err := s.Consumer(ctx, queue); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return
	}
	var served []string
	names := s.ConsumerNames(ctx)
	for name := range names.Name() {
		if name != queue && job.ValidateQueue(name) == nil {
			served = append(served, name)
		}
	}
	if names.Err() != nil || len(served) == 0 {
		return
	}
	// Queues served that hold jobs of this kind now.
	var withKind []string
	if info, err := s.Info(ctx, jetstream.WithSubjectFilter(t.Prefix+".*."+kind)); err == nil {
		for subj := range info.State.Subjects {
			if q, k, err := job.ParseSubject(t.Prefix, subj); err == nil && k == kind && slices.Contains(served, q) && !slices.Contains(withKind, q) {
				withKind = append(withKind, q)
			}
		}
	}
	slices.Sort(served)
	slices.Sort(withKind)
	suggest := served
	why := ""
	if len(withKind) > 0 {
		suggest = withKind
		why = fmt.Sprintf(" and holds jobs of kind %s", kind)
		if len(withKind) > 1 {
			why = fmt.Sprintf(" and hold jobs of kind %s", kind)
		}
	}
	has := "queue " + suggest[0] + " has one"
	if len(suggest) > 1 {
		has = "queues " + strings.Join(suggest, ", ") + " have one"
	}
	a.log.LogAttrs(ctx, slog.LevelWarn,
		fmt.Sprintf("no worker has served queue %s (it has no consumer), while %s%s: the job waits in %s until a worker serves that queue; to enqueue to %s, give --queue %s",
			queue, has, why, queue, suggest[0], suggest[0]),
		slog.String("queue", queue), slog.String("kind", kind), slog.Any("served_queues", served))
}

// deadlineOption checks --deadline against --in and returns its option.
// A time already past is allowed, as by job.Deadline: the job is stored and
// a worker dead-letters it as expired; a warning says so.
func (a *app) deadlineOption(ctx context.Context, f enqueueFlags) (job.Option, error) {
	now := time.Now()
	t, err := parseDeadline(f.deadline, now)
	if err != nil {
		return nil, err
	}
	switch {
	case f.in > 0 && !t.After(now.Add(f.in)):
		return nil, usagef("--deadline %s is not after the job's time (--in %s): it would expire unrun; give a later --deadline or a shorter --in", f.deadline, f.in)
	case !t.After(now):
		a.log.LogAttrs(ctx, slog.LevelWarn, "--deadline "+f.deadline+" has passed: a worker dead-letters the job as expired without running it")
	}
	return job.Deadline(t), nil
}

// resultOptions checks --keep-result, --wait and --wait-timeout and adds
// the option they give.
func (f enqueueFlags) resultOptions(opts *[]job.Option) error {
	switch {
	case f.changed("keep-result") && f.keepResult < time.Second:
		return usagef("--keep-result %s: use at least 1s", f.keepResult)
	case f.waitTimeout < 0:
		return usagef("--wait-timeout %s: use a positive duration, or 0 to wait as long as it takes", f.waitTimeout)
	case f.changed("wait-timeout") && !f.wait:
		return usagef("--wait-timeout goes with --wait")
	case f.wait && f.count != 1:
		return usagef("--wait awaits one job; it cannot go with --count %d", f.count)
	}
	keep := f.keepResult
	if keep == 0 && f.wait {
		keep = job.DefaultKeepResult
	}
	if keep > 0 {
		*opts = append(*opts, job.KeepResult(keep))
	}
	return nil
}

// waitEnqueued awaits the job just enqueued with --wait: its result on
// stdout, or how it failed on stderr and exit 1.
func (a *app) waitEnqueued(ctx context.Context, c *job.Client, f enqueueFlags, id string) error {
	if f.waitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.waitTimeout)
		defer cancel()
	}
	_, err := a.awaitAndPrint(ctx, c, id)
	return err
}

// enqueueMany enqueues f.count copies in pipelined batches.
func (a *app) enqueueMany(ctx context.Context, c *job.Client, out *bufio.Writer, f enqueueFlags, kind string, payload []byte, opts []job.Option) error {
	bar := newProgress(a.stderr, a.stderrTTY, "enqueue", f.count)
	start := time.Now()
	done, ensured := 0, false
	for done < f.count {
		n := min(f.batch, f.count-done)
		reqs := make([]job.Request, n)
		for i := range reqs {
			reqs[i] = job.Request{Kind: kind, Args: json.RawMessage(payload), Options: opts}
		}
		results, err := c.EnqueueMany(ctx, reqs)
		if !ensured && len(results) > 0 && (needsTopology(results[0].Err) ||
			errors.Is(results[0].Err, job.ErrSchedulingUnsupported) && job.SupportsSchedules(c.JetStream(), false)) {
			ensured = true
			if err := c.EnsureTopology(ctx); err != nil {
				return err
			}
			continue
		}
		ensured = true
		for _, r := range results {
			if r.Err != nil {
				if err == nil {
					err = r.Err
				}
				continue
			}
			done++
			if !f.quiet {
				fmt.Fprintln(out, r.ID)
			}
		}
		bar.set(done)
		if err != nil {
			bar.finish()
			return fmt.Errorf("enqueued %d of %d jobs: %w", done, f.count, err)
		}
	}
	bar.finish()
	elapsed := time.Since(start)
	if f.quiet || a.stderrTTY {
		fmt.Fprintf(a.stderr, "enqueued %s of kind %s on queue %s in %s (%s)\n",
			plural(done, "job"), kind, f.queue, elapsed.Round(time.Millisecond), rateString(float64(done)/elapsed.Seconds()))
	}
	return nil
}

// expectStream makes the server store each job only in the namespace's
// own streams: with Nats-Expected-Stream it refuses a job whose subject
// another stream stores, as when --stream names a new stream but --prefix
// is left at the default of an existing namespace. (The header costs no
// permission and no request; the copies the worker makes of a job, such as
// its dead letter, drop every Nats- header.)
func expectStream(cfg *job.ClientConfig) {
	t := cfg.Topology.WithDefaults()
	cfg.BeforePublish = func(_ context.Context, msg *nats.Msg) {
		// Delayed jobs (--in) go to the schedule stream, which the server
		// fires from; they are left as they are.
		if strings.HasPrefix(msg.Subject, t.Prefix+".") {
			msg.Header.Set(jetstream.ExpectedStreamHeader, t.Stream)
		}
	}
}

// needsTopology reports whether an enqueue failed because the namespace's
// streams are missing, or because the subject belongs to another stream;
// creating the streams then either makes the enqueue work or fails with
// the reason, such as subjects that overlap with another stream's.
func needsTopology(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, job.ErrNoStream) || errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeStreamNotMatch
}

// checkJSON reports a payload that is not JSON, saying where.
func checkJSON(payload []byte) error {
	if len(payload) == 0 || json.Valid(payload) {
		return nil
	}
	var v any
	err := json.Unmarshal(payload, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("the payload is not valid JSON: %v at byte %d (quote it for the shell, e.g. '{\"to\":\"a@b.c\"}')", err, se.Offset)
	}
	return fmt.Errorf("the payload is not valid JSON: %v", err)
}
