package job

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Option sets a per-job enqueue option.
type Option func(*options) error

type options struct {
	queue       string
	id          string
	unique      bool
	maxAttempts int
	timeout     time.Duration
	deadline    time.Time
	runAt       time.Time
	header      nats.Header
	keepResult  time.Duration
	untilDone   bool
	sequence    string
}

// ValidateOptions checks opts as Enqueue does, without a client or a
// connection: each option's value, and the combinations refused (ID with
// Unique, UniqueUntilDone without ID or Unique). What depends on the server
// or the client, such as the size limits and support for delayed jobs, is
// left to Enqueue. Tools call it to refuse bad input before connecting.
//
// Errors: ErrInvalidOption, ErrInvalidName.
func ValidateOptions(opts ...Option) error {
	o := &options{}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return err
		}
	}
	return o.check()
}

// check refuses the options that cannot go together.
func (o *options) check() error {
	switch {
	case o.id != "" && o.unique:
		return fmt.Errorf("%w: ID and Unique both set; use one", ErrInvalidOption)
	case o.untilDone && o.id == "" && !o.unique:
		return fmt.Errorf("%w: UniqueUntilDone needs the job's ID: add ID or Unique", ErrInvalidOption)
	}
	return o.checkSequence()
}

// KeepResult keeps the job's state and result for ttl (at least 1s) after
// each change: Client.Status and Client.Await then report it, and a
// handler's result (RecordResult, worker.HandleResult) is stored. It costs
// one key-value write at enqueue and a few per attempt; jobs without it
// cost none. See docs/results.md.
func KeepResult(ttl time.Duration) Option {
	return func(o *options) error {
		if ttl < minKeepResult {
			return fmt.Errorf("%w: KeepResult(%s): use at least 1s (the server counts state TTLs in seconds)", ErrInvalidOption, ttl)
		}
		o.keepResult = ttl
		return nil
	}
}

// UniqueUntilDone refuses the job, with ErrJobActive, while a job with the
// same ID (ID or Unique) is waiting, scheduled, running or retrying, however
// long ago it was enqueued; once that job finished a new one is accepted,
// even within the duplicate window. It keeps the job's state (KeepResult,
// DefaultKeepResult unless set), where the check is made: a compare-and-set
// on the job's state record, so concurrent enqueues store one job.
func UniqueUntilDone() Option {
	return func(o *options) error {
		o.untilDone = true
		return nil
	}
}

// Queue sends the job to queue q instead of the client's default queue.
func Queue(q string) Option {
	return func(o *options) error {
		if err := ValidateQueue(q); err != nil {
			return err
		}
		o.queue = q
		return nil
	}
}

// ID sets the job's ID. Within the stream's duplicate window a second job
// with the same ID is not stored again: Enqueue reports it as a duplicate.
func ID(id string) Option {
	return func(o *options) error {
		if err := validateID(id); err != nil {
			return err
		}
		o.id = id
		return nil
	}
}

// Unique derives the job's ID from its kind, queue (and sequence key, with
// Sequence) and encoded arguments, so the same work enqueued twice within
// the duplicate window runs once.
func Unique() Option {
	return func(o *options) error {
		o.unique = true
		return nil
	}
}

// MaxAttempts bounds the attempts of this job (>= 1).
func MaxAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: MaxAttempts(%d): use at least 1", ErrInvalidOption, n)
		}
		o.maxAttempts = n
		return nil
	}
}

// Timeout bounds each attempt of this job; the handler's context is
// canceled when it expires.
func Timeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: Timeout(%s): use a positive duration", ErrInvalidOption, d)
		}
		o.timeout = d
		return nil
	}
}

// Deadline makes the job expire: if no attempt has started by t it is
// dead-lettered with reason "expired" instead of running.
func Deadline(t time.Time) Option {
	return func(o *options) error {
		if t.IsZero() {
			return fmt.Errorf("%w: Deadline: use a non-zero time", ErrInvalidOption)
		}
		o.deadline = t
		return nil
	}
}

// Header adds a header to the job message. Names starting with "Nats-" or
// "Jetjobs-" are reserved and refused.
func Header(name, value string) Option {
	return func(o *options) error {
		if name == "" || wire.ReservedHeader(name) || strings.ContainsAny(name, ":") || !printableASCII(name) {
			return fmt.Errorf("%w: header %q: use a name of printable ASCII without ':' or spaces, not starting with Nats- or Jetjobs-", ErrInvalidOption, name)
		}
		if strings.ContainsAny(value, "\r\n") || strings.TrimSpace(value) != value {
			// The wire trims values, so a padded one would not arrive as given.
			return fmt.Errorf("%w: header %s value %q: use a value without line breaks or surrounding spaces", ErrInvalidOption, name, value)
		}
		if o.header == nil {
			o.header = nats.Header{}
		}
		o.header.Add(name, value)
		return nil
	}
}

// At schedules the job to become available at t (server message schedules,
// nats-server 2.12 or newer). The server fires schedules with a resolution of
// one second; a time in the past runs the job as soon as the server fires it.
func At(t time.Time) Option {
	return func(o *options) error {
		if t.IsZero() {
			return fmt.Errorf("%w: At: use a non-zero time", ErrInvalidOption)
		}
		o.runAt = t
		return nil
	}
}

// In schedules the job to become available after d; see At.
func In(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("%w: In(%s): use a duration >= 0", ErrInvalidOption, d)
		}
		o.runAt = time.Now().Add(d)
		return nil
	}
}

// printableASCII reports whether s has only the characters '!' to '~'.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
