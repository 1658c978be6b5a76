package job

import (
	"errors"
	"fmt"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
)

var (
	// ErrInvalidName is returned for an invalid queue name, kind or subject.
	ErrInvalidName = wire.ErrInvalidName
	// ErrInvalidOption is returned for an option or config value out of range.
	ErrInvalidOption = errors.New("jetjobs: invalid option")
	// ErrEncode is returned when a job's arguments cannot be encoded as JSON.
	ErrEncode = errors.New("jetjobs: cannot encode job arguments")
	// ErrPayloadTooLarge is returned when an encoded job exceeds the stream's
	// maximum message size, or the server's maximum payload less 4 KiB kept
	// for the headers its dead letter would add.
	ErrPayloadTooLarge = errors.New("jetjobs: job payload too large")
	// ErrQueueFull is returned when the work stream has reached its limits
	// (MaxMsgs or MaxBytes) and refuses new jobs. Nothing already accepted is
	// dropped to make room (the stream uses DiscardNew).
	ErrQueueFull = errors.New("jetjobs: work stream is full")
	// ErrStorageFull is returned when the server refuses a job for want of
	// storage: the server's JetStream storage (max_file_store, or the disk
	// it sized that from) or the account's storage limit is used up. The job
	// was not stored. Jobs already stored still run, and as workers
	// acknowledge them their space is freed; an enqueue may then succeed.
	ErrStorageFull = errors.New("jetjobs: the server is out of storage")
	// ErrTopologyMismatch is returned when an existing stream cannot serve as
	// the jetjobs stream it is named as, and changing it would lose data or
	// behaviour someone relies on.
	ErrTopologyMismatch = errors.New("jetjobs: existing stream is incompatible")
	// ErrNoStream is returned when the work stream does not exist yet.
	ErrNoStream = errors.New("jetjobs: work stream not found; create it with Client.EnsureTopology, a worker pool, or `jetjobs` CLI")
	// ErrDeadLetterNotFound is returned when no dead letter has the given ID.
	ErrDeadLetterNotFound = errors.New("jetjobs: dead letter not found")
	// ErrInvalidDeadLetter reports a dead letter that replay refuses: its
	// headers do not name a job of the queue it is filed under.
	ErrInvalidDeadLetter = errors.New("jetjobs: invalid dead letter")
	// ErrDecode wraps a payload or header that cannot be decoded into a job.
	// A worker dead-letters such a job with reason "decode".
	ErrDecode = errors.New("jetjobs: cannot decode job")
	// ErrSchedulingUnsupported is returned when the server is too old for
	// message schedules (delayed jobs need nats-server 2.12, periodic 2.14).
	ErrSchedulingUnsupported = errors.New("jetjobs: the NATS server does not support message schedules")
	// ErrScheduleNotFound is returned when no periodic schedule has the
	// given name.
	ErrScheduleNotFound = errors.New("jetjobs: schedule not found")
	// ErrQueueNotFound is returned when a queue has no consumer yet: no
	// worker has served it.
	ErrQueueNotFound = errors.New("jetjobs: queue not found")
	// ErrJobNotFound is returned by Client.Status, and by Client.Await when
	// the state it watched expired, for a job ID with no state record: the
	// job did not ask to keep its result (KeepResult), its record expired,
	// or the ID is wrong.
	ErrJobNotFound = errors.New("jetjobs: no state kept for this job")
	// ErrStateUnsupported is returned when the server is too old to keep
	// job states (per-message TTLs need nats-server 2.11).
	ErrStateUnsupported = errors.New("jetjobs: the NATS server does not support per-message TTLs, which job states need")
	// ErrResultTooLarge is returned by RecordResult (and fails the attempt
	// of a handler returning its result) for a result of more than
	// MaxResultSize bytes.
	ErrResultTooLarge = errors.New("jetjobs: job result too large")
	// ErrJobActive is returned by an enqueue with UniqueUntilDone while a
	// job with the same ID is waiting, scheduled, running or retrying.
	ErrJobActive = errors.New("jetjobs: a job with this ID has not finished")
	// ErrCanceled is the cause (context.Cause) of a running job's context
	// when the job was canceled with Client.Cancel.
	ErrCanceled = errors.New("jetjobs: job canceled")
)

// SnoozeError asks the worker to run the job again after Delay without using
// up an attempt. Create it with Snooze.
type SnoozeError struct{ Delay time.Duration }

// Error says for how long the job was snoozed.
func (e *SnoozeError) Error() string { return fmt.Sprintf("jetjobs: job snoozed for %s", e.Delay) }

// Snooze returns an error that, returned by a handler, runs the job again
// after d without counting the attempt. The job waits on a server schedule,
// which fires on whole seconds: a delay under a second waits until the next
// one. Zero (or negative) d puts the job at the back of its queue at once.
// Against a server without message schedules (before nats-server 2.12) a
// delay becomes a Nak with that delay, and then the attempt does count.
func Snooze(d time.Duration) error {
	return &SnoozeError{Delay: max(d, 0)}
}

// PermanentError marks a failure that no retry can fix: the job goes to
// dead letters at once with reason "failed". Create it with Permanent.
type PermanentError struct{ Err error }

// Error returns the wrapped error's message.
func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "jetjobs: permanent failure"
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the worker dead-letters the job without retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }

// CanceledError says the job was canceled (see Client.Cancel); the worker
// dead-letters it with reason "canceled" and does not retry it.
type CanceledError struct{ Err error }

// Error says the job was canceled, and why if known.
func (e *CanceledError) Error() string {
	if e.Err == nil {
		return "jetjobs: job canceled"
	}
	return "jetjobs: job canceled: " + e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *CanceledError) Unwrap() error { return e.Err }

// Cancel wraps err so the worker dead-letters the job with reason
// "canceled" without retrying it.
func Cancel(err error) error { return &CanceledError{Err: err} }

// PanicError is the failure of an attempt whose handler panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error names the value the handler panicked with.
func (e *PanicError) Error() string { return fmt.Sprintf("jetjobs: handler panic: %v", e.Value) }
