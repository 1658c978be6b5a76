package jetjobstest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Enqueued is a job found waiting in the streams.
type Enqueued[T any] struct {
	// Job is the job as a worker would read its next delivery, its
	// arguments decoded into T. Its MaxAttempts is zero when the job sets
	// no limit of its own (the pool's applies); for a scheduled job, Seq is
	// the schedule's sequence in the schedule stream.
	*job.Job[T]
	// RunAt is when a scheduled job becomes due; zero for a job in its
	// queue now.
	RunAt time.Time
}

// DeadLettered is a dead letter found in the dead-letter stream, its
// arguments decoded into T.
type DeadLettered[T any] struct {
	job.DeadLetter
	Args T
}

// Want is one job that RequireManyEnqueued or RequireManyDeadLettered
// expects: of Kind, meeting every Expect.
type Want struct {
	Kind   string
	Expect []Expect
}

// RequireEnqueued requires exactly one job of kind meeting every Expect to
// wait in c's namespace (in its queue, or scheduled), and returns it with
// its arguments decoded into T. A job matches only if a worker can read
// its subject and headers (job.ReadInfo), and RequireEnqueued fails if its
// payload does not decode into T. It reads the streams without consuming
// anything: a job a worker has already finished is gone from them. On
// failure it lists the jobs there are, each with why it does not match.
func RequireEnqueued[T any](tb testing.TB, c *job.Client, kind string, opts ...Expect) *Enqueued[T] {
	tb.Helper()
	all, ok := read(tb, "RequireEnqueued", c, onJobs, opts)
	if !ok {
		return nil
	}
	m := matching(all, kind, opts)
	if len(m) != 1 {
		requireOne(tb, "RequireEnqueued", "job", kind, opts, all, m, c.Topology().Stream)
		return nil
	}
	var e Enqueued[T]
	e.Job = &job.Job[T]{Info: m[0].info}
	e.RunAt = m[0].runAt
	if !decodeInto(tb, "RequireEnqueued", m[0], &e.Job.Args) {
		return nil
	}
	return &e
}

// RequireNotEnqueued requires that no job of kind ("" for any) meeting
// every Expect waits in c's namespace, and lists those that do on failure.
func RequireNotEnqueued(tb testing.TB, c *job.Client, kind string, opts ...Expect) {
	tb.Helper()
	all, ok := read(tb, "RequireNotEnqueued", c, onJobs, opts)
	if !ok {
		return
	}
	if m := matching(all, kind, opts); len(m) > 0 {
		tb.Fatalf("jetjobstest: RequireNotEnqueued: %s, want none:\n%s", count(len(m), "job", kind, opts, "is enqueued", "are enqueued"), list(m, nil))
	}
}

// RequireManyEnqueued requires the jobs waiting in c's namespace whose
// kinds are among wants' to be exactly wants, in the order they were
// enqueued, and returns them with their arguments as raw JSON. On failure
// it lists the jobs of those kinds there are.
func RequireManyEnqueued(tb testing.TB, c *job.Client, wants ...Want) []*Enqueued[json.RawMessage] {
	tb.Helper()
	all, ok := readMany(tb, "RequireManyEnqueued", c, onJobs, wants)
	if !ok {
		return nil
	}
	got, ok := requireMany(tb, "RequireManyEnqueued", "jobs", all, wants)
	if !ok {
		return nil
	}
	out := make([]*Enqueued[json.RawMessage], len(got))
	for i, f := range got {
		out[i] = &Enqueued[json.RawMessage]{Job: &job.Job[json.RawMessage]{Info: f.info, Args: f.payload}, RunAt: f.runAt}
	}
	return out
}

// RequireDeadLettered requires exactly one dead letter of kind meeting
// every Expect in c's namespace, and returns it with its arguments decoded
// into T (use json.RawMessage for a payload that did not decode). On
// failure it lists the dead letters there are, each with why it does not
// match.
func RequireDeadLettered[T any](tb testing.TB, c *job.Client, kind string, opts ...Expect) *DeadLettered[T] {
	tb.Helper()
	all, ok := read(tb, "RequireDeadLettered", c, onDeadLetters, opts)
	if !ok {
		return nil
	}
	m := matching(all, kind, opts)
	if len(m) != 1 {
		requireOne(tb, "RequireDeadLettered", "dead letter", kind, opts, all, m, c.Topology().DeadLetterStream)
		return nil
	}
	d := &DeadLettered[T]{DeadLetter: *m[0].dl}
	if !decodeInto(tb, "RequireDeadLettered", m[0], &d.Args) {
		return nil
	}
	return d
}

// RequireNotDeadLettered requires that no dead letter of kind ("" for
// any) meeting every Expect is in c's namespace, and lists those that are
// on failure.
func RequireNotDeadLettered(tb testing.TB, c *job.Client, kind string, opts ...Expect) {
	tb.Helper()
	all, ok := read(tb, "RequireNotDeadLettered", c, onDeadLetters, opts)
	if !ok {
		return
	}
	if m := matching(all, kind, opts); len(m) > 0 {
		tb.Fatalf("jetjobstest: RequireNotDeadLettered: %s, want none:\n%s", count(len(m), "dead letter", kind, opts, "is stored", "are stored"), list(m, nil))
	}
}

// RequireManyDeadLettered requires the dead letters in c's namespace whose
// kinds are among wants' to be exactly wants, oldest first, and returns
// them with their arguments as raw JSON.
func RequireManyDeadLettered(tb testing.TB, c *job.Client, wants ...Want) []*DeadLettered[json.RawMessage] {
	tb.Helper()
	all, ok := readMany(tb, "RequireManyDeadLettered", c, onDeadLetters, wants)
	if !ok {
		return nil
	}
	got, ok := requireMany(tb, "RequireManyDeadLettered", "dead letters", all, wants)
	if !ok {
		return nil
	}
	out := make([]*DeadLettered[json.RawMessage], len(got))
	for i, f := range got {
		out[i] = &DeadLettered[json.RawMessage]{DeadLetter: *f.dl, Args: f.payload}
	}
	return out
}

// read checks that opts apply to src and reads src's jobs or dead letters.
func read(tb testing.TB, fn string, c *job.Client, src where, opts []Expect) ([]*found, bool) {
	tb.Helper()
	if c == nil {
		tb.Fatalf("jetjobstest: %s: nil *job.Client", fn)
		return nil, false
	}
	for _, e := range opts {
		if e.check == nil {
			tb.Fatalf("jetjobstest: %s: a zero Expect; create one with Queue, Args, Match and the like", fn)
			return nil, false
		}
		if e.on&src == 0 {
			tb.Fatalf("jetjobstest: %s: %s does not apply to %s", fn, e.what, map[where]string{onJobs: "enqueued jobs", onDeadLetters: "dead letters"}[src])
			return nil, false
		}
	}
	ctx, cancel := context.WithTimeout(tb.Context(), readTimeout)
	defer cancel()
	var (
		all []*found
		err error
	)
	if src == onJobs {
		all, err = readJobs(ctx, c)
	} else {
		all, err = readDeadLetters(ctx, c)
	}
	if err != nil {
		tb.Fatalf("jetjobstest: %s: %v", fn, err)
		return nil, false
	}
	return all, true
}

func readMany(tb testing.TB, fn string, c *job.Client, src where, wants []Want) ([]*found, bool) {
	tb.Helper()
	var opts []Expect
	for _, w := range wants {
		opts = append(opts, w.Expect...)
	}
	return read(tb, fn, c, src, opts)
}

// mismatch says why f is not a job of kind ("" for any) meeting opts, or
// returns "".
func mismatch(f *found, kind string, opts []Expect) string {
	if kind != "" && f.kind != kind {
		return fmt.Sprintf("kind is %q", f.kind)
	}
	if f.decodeErr != nil { // a worker would dead-letter it unrun
		return "a worker cannot read it"
	}
	for _, e := range opts {
		if why := e.check(f); why != "" {
			return why
		}
	}
	return ""
}

func matching(all []*found, kind string, opts []Expect) []*found {
	var m []*found
	for _, f := range all {
		if mismatch(f, kind, opts) == "" {
			m = append(m, f)
		}
	}
	return m
}

// requireOne fails the test of fn, which found m (not one) of all.
func requireOne(tb testing.TB, fn, noun, kind string, opts []Expect, all, m []*found, stream string) {
	tb.Helper()
	if len(m) > 1 {
		tb.Fatalf("jetjobstest: %s: %s, want exactly one (expect more to tell them apart, or use %s):\n%s",
			fn, count(len(m), noun, kind, opts, "is", "are"), strings.Replace(fn, "Require", "RequireMany", 1), list(m, nil))
		return
	}
	if len(all) == 0 {
		tb.Fatalf("jetjobstest: %s: want %s; stream %s holds none", fn, describeWant(noun, kind, opts), stream)
		return
	}
	tb.Fatalf("jetjobstest: %s: want %s; stream %s holds %d %s:\n%s", fn, describeWant(noun, kind, opts), stream, len(all), plural(len(all), noun), list(all, func(f *found) string {
		return mismatch(f, kind, opts)
	}))
}

// requireMany checks that the found of wants' kinds are wants, in order.
func requireMany(tb testing.TB, fn, nouns string, all []*found, wants []Want) ([]*found, bool) {
	tb.Helper()
	var got []*found
	for _, f := range all {
		if slices.ContainsFunc(wants, func(w Want) bool { return w.Kind == f.kind }) {
			got = append(got, f)
		}
	}
	ok := len(got) == len(wants)
	for i := 0; ok && i < len(got); i++ {
		ok = mismatch(got[i], wants[i].Kind, wants[i].Expect) == ""
	}
	if ok {
		return got, true
	}
	var b strings.Builder
	for i, w := range wants {
		fmt.Fprintf(&b, "\t%d. %s\n", i+1, describeWant("", w.Kind, w.Expect))
	}
	var have string
	if len(got) == 0 {
		have = "there are none"
	} else {
		have = fmt.Sprintf("there are %d:\n%s", len(got), list(got, func(f *found) string {
			i := slices.Index(got, f)
			if i >= len(wants) {
				return "not wanted"
			}
			return mismatch(f, wants[i].Kind, wants[i].Expect)
		}))
	}
	tb.Fatalf("jetjobstest: %s: want these %s of their kinds, in order:\n%s%s", fn, nouns, b.String(), have)
	return nil, false
}

// decodeInto decodes f's payload into v, failing the test if it cannot.
func decodeInto[T any](tb testing.TB, fn string, f *found, v *T) bool {
	tb.Helper()
	if len(f.payload) == 0 {
		return true
	}
	if err := json.Unmarshal(f.payload, v); err != nil {
		tb.Fatalf("jetjobstest: %s: found %s, but its payload does not decode into %T (use json.RawMessage to get it as it is): %v", fn, f.describe(), *v, err)
		return false
	}
	return true
}

// describeWant reads as "a job of kind "x" with queue "q" and args {…}".
func describeWant(noun, kind string, opts []Expect) string {
	var b strings.Builder
	if noun != "" {
		b.WriteString("a " + noun + " ")
	}
	if kind == "" {
		b.WriteString("of any kind")
	} else {
		fmt.Fprintf(&b, "of kind %q", kind)
	}
	for i, e := range opts {
		if i == 0 {
			b.WriteString(" with ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(e.what)
	}
	return b.String()
}

// count reads as "2 jobs of kind "x" with … are enqueued".
func count(n int, noun, kind string, opts []Expect, one, many string) string {
	want := strings.TrimPrefix(describeWant(noun, kind, opts), "a "+noun+" ")
	if n == 1 {
		return fmt.Sprintf("1 %s %s %s", noun, want, one)
	}
	return fmt.Sprintf("%d %s %s %s", n, plural(n, noun), want, many)
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// maxListed bounds the lines a failure message lists.
const maxListed = 25

// list is one numbered line per found, with why (if not nil) says about it.
func list(fs []*found, why func(*found) string) string {
	var b strings.Builder
	for i, f := range fs {
		if i == maxListed {
			fmt.Fprintf(&b, "\t… and %d more\n", len(fs)-maxListed)
			break
		}
		fmt.Fprintf(&b, "\t%d. %s", i+1, f.describe())
		if why != nil {
			if w := why(f); w != "" {
				fmt.Fprintf(&b, ": %s", w)
			} else {
				b.WriteString(": matches")
			}
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}
