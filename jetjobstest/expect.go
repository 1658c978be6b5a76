package jetjobstest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Expect narrows the jobs or dead letters a Require function looks for.
// Create it with Queue, ID, Args, Match, MaxAttempts, Timeout, Header, Scheduled,
// ScheduledAt, Delayed, Due (jobs), Reason and ErrorContains (dead
// letters). A found job or dead letter matches when it meets every Expect.
type Expect struct {
	what  string // how the expectation reads: `queue "mail"`
	on    where
	check func(f *found) string
}

// where says which Require functions an Expect applies to.
type where uint8

const (
	onJobs where = 1 << iota
	onDeadLetters
	onBoth = onJobs | onDeadLetters
)

// Queue expects the job in queue q.
func Queue(q string) Expect {
	return Expect{what: fmt.Sprintf("queue %q", q), on: onBoth, check: func(f *found) string {
		if f.queue != q {
			return fmt.Sprintf("queue is %q", f.queue)
		}
		return ""
	}}
}

// ID expects the job with ID id.
func ID(id string) Expect {
	return Expect{what: fmt.Sprintf("ID %q", id), on: onBoth, check: func(f *found) string {
		if f.id != id {
			return fmt.Sprintf("ID is %q", f.id)
		}
		return ""
	}}
}

// Args expects the job's payload to decode into a value equal to args
// (reflect.DeepEqual), in args' own type. Args(nil) expects no payload.
func Args(args any) Expect {
	return Expect{what: fmt.Sprintf("args %s", show(args)), on: onBoth, check: func(f *found) string {
		if args == nil {
			if len(f.payload) != 0 {
				return fmt.Sprintf("payload is %s", clip(f.payload))
			}
			return ""
		}
		got := reflect.New(reflect.TypeOf(args))
		if err := json.Unmarshal(f.payload, got.Interface()); err != nil {
			return fmt.Sprintf("payload %s does not decode into %T: %v", clip(f.payload), args, err)
		}
		if !reflect.DeepEqual(got.Elem().Interface(), args) {
			return fmt.Sprintf("args are %s", show(got.Elem().Interface()))
		}
		return ""
	}}
}

// Match expects the job's payload to decode into a T for which match
// returns true.
func Match[T any](match func(args T) bool) Expect {
	var zero T
	return Expect{what: fmt.Sprintf("args matching a func(%T) bool", zero), on: onBoth, check: func(f *found) string {
		var v T
		if len(f.payload) > 0 {
			if err := json.Unmarshal(f.payload, &v); err != nil {
				return fmt.Sprintf("payload %s does not decode into %T: %v", clip(f.payload), v, err)
			}
		}
		if !match(v) {
			return fmt.Sprintf("args %s do not match", show(v))
		}
		return ""
	}}
}

// MaxAttempts expects the job to carry its own attempt limit n
// (job.MaxAttempts at enqueue); MaxAttempts(0) expects it to set none.
func MaxAttempts(n int) Expect {
	return Expect{what: fmt.Sprintf("max attempts %d", n), on: onBoth, check: func(f *found) string {
		if f.maxAttempts != n {
			if f.maxAttempts == 0 {
				return "it sets no max attempts (the pool's limit applies)"
			}
			return fmt.Sprintf("max attempts is %d", f.maxAttempts)
		}
		return ""
	}}
}

// Timeout expects the job to carry its own timeout d (job.Timeout at
// enqueue).
func Timeout(d time.Duration) Expect {
	return Expect{what: fmt.Sprintf("timeout %s", d), on: onBoth, check: func(f *found) string {
		got, _ := time.ParseDuration(f.header.Get(job.HeaderTimeout))
		if got != d {
			if got == 0 {
				return "it sets no timeout"
			}
			return fmt.Sprintf("timeout is %s", got)
		}
		return ""
	}}
}

// Header expects the job message to carry header name with value.
func Header(name, value string) Expect {
	return Expect{what: fmt.Sprintf("header %s=%q", name, value), on: onBoth, check: func(f *found) string {
		if got := f.header.Get(name); got != value {
			if got == "" {
				return fmt.Sprintf("it has no header %s", name)
			}
			return fmt.Sprintf("header %s is %q", name, got)
		}
		return ""
	}}
}

// Scheduled expects the job to wait for its time in the schedule stream
// (job.At or job.In at enqueue, or a snooze).
func Scheduled() Expect {
	return Expect{what: "scheduled", on: onJobs, check: func(f *found) string {
		if f.runAt.IsZero() {
			return "it is due now, not scheduled"
		}
		return ""
	}}
}

// Due expects the job in its queue now, not scheduled.
func Due() Expect {
	return Expect{what: "due now", on: onJobs, check: func(f *found) string {
		if !f.runAt.IsZero() {
			return fmt.Sprintf("it is scheduled for %s", f.runAt.Format(time.RFC3339))
		}
		return ""
	}}
}

// ScheduledAt expects the job scheduled for t, rounded up to a whole
// second as job.At rounds it (schedules fire on whole seconds).
func ScheduledAt(t time.Time) Expect {
	want := wire.CeilSecond(t)
	return Expect{what: "scheduled at " + want.UTC().Format(time.RFC3339), on: onJobs, check: func(f *found) string {
		switch {
		case f.runAt.IsZero():
			return "it is due now, not scheduled"
		case !f.runAt.Equal(want):
			return fmt.Sprintf("it is scheduled at %s", f.runAt.UTC().Format(time.RFC3339))
		}
		return ""
	}}
}

// Delayed expects the job scheduled d after it was enqueued (job.In(d)),
// to the whole second its schedule fires on.
func Delayed(d time.Duration) Expect {
	return Expect{what: fmt.Sprintf("delayed by %s", d), on: onJobs, check: func(f *found) string {
		if f.runAt.IsZero() {
			return "it is due now, not scheduled"
		}
		// job.In takes the time a moment before the enqueue time is
		// stamped, and the schedule rounds it up to a whole second.
		got := f.runAt.Sub(f.enqueuedAt)
		if got < d-delaySlack || got > d+time.Second {
			return fmt.Sprintf("it is scheduled %s after it was enqueued", got.Round(time.Millisecond))
		}
		return ""
	}}
}

// delaySlack is how much earlier than its enqueue time stamp job.In may
// have taken the time it added the delay to.
const delaySlack = 50 * time.Millisecond

// Reason expects the dead letter's reason r.
func Reason(r job.Reason) Expect {
	return Expect{what: fmt.Sprintf("reason %s", r), on: onDeadLetters, check: func(f *found) string {
		if f.dl.Reason != r {
			return fmt.Sprintf("reason is %s", f.dl.Reason)
		}
		return ""
	}}
}

// ErrorContains expects the dead letter's error to contain s.
func ErrorContains(s string) Expect {
	return Expect{what: fmt.Sprintf("error containing %q", s), on: onDeadLetters, check: func(f *found) string {
		if !strings.Contains(f.dl.Error, s) {
			return fmt.Sprintf("error is %q", f.dl.Error)
		}
		return ""
	}}
}

// show formats v for a failure message: a struct with its field names.
func show(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// clip formats a payload for a failure message.
func clip(b []byte) string {
	if len(b) == 0 {
		return "(none)"
	}
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
