package job

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/nats-io/nats.go"
)

// A job that keeps its result (KeepResult, the Jetjobs-Keep-Result header,
// or its kind's setting at registration) has a state record in the key-value
// bucket Topology.StateBucket, under the key SubjectToken(id). The enqueuer
// writes the first one (waiting or scheduled), the worker that runs the job
// every later one, each as a whole JSON document, and each write carries a
// per-message TTL (Nats-TTL) so the record disappears that long after the
// job's last change. Jobs that do not ask have no record and cost nothing
// more. See docs/results.md.

// Status is where a job stands; it is the "status" of its State.
type Status string

// Statuses of protocol v1. Succeeded, dead, canceled and expired are final.
const (
	// StatusWaiting: in its queue, not running (also after a shutdown
	// handed it back).
	StatusWaiting Status = "waiting"
	// StatusScheduled: delayed (At, In) or snoozed until State.RunAt.
	StatusScheduled Status = "scheduled"
	// StatusRunning: an attempt is running (State.Attempt, State.Worker).
	StatusRunning Status = "running"
	// StatusRetrying: an attempt failed; the next starts at
	// State.NextAttemptAt.
	StatusRetrying Status = "retrying"
	// StatusSucceeded: the handler returned nil; State.Result holds what it
	// recorded.
	StatusSucceeded Status = "succeeded"
	// StatusDead: dead-lettered (State.Reason, State.Error).
	StatusDead Status = "dead"
	// StatusCanceled: canceled (Client.Cancel, job.Cancel) before or while
	// it ran.
	StatusCanceled Status = "canceled"
	// StatusExpired: its deadline passed before it started.
	StatusExpired Status = "expired"
)

// Final reports whether s is an outcome: the job will not run again unless
// it is enqueued or replayed anew.
func (s Status) Final() bool {
	switch s {
	case StatusSucceeded, StatusDead, StatusCanceled, StatusExpired:
		return true
	}
	return false
}

// State is the record of a job that keeps its result. Times are UTC.
type State struct {
	ID          string `json:"id"`
	Status      Status `json:"status"`
	Queue       string `json:"queue,omitempty"`
	Kind        string `json:"kind,omitempty"`
	Attempt     int    `json:"attempt,omitempty"`
	MaxAttempts int    `json:"max_attempts,omitempty"`
	// Worker names the worker process of the running or last attempt
	// (host name and process ID).
	Worker     string    `json:"worker,omitempty"`
	EnqueuedAt time.Time `json:"enqueued_at,omitzero"`
	// RunAt is when a scheduled job becomes due.
	RunAt time.Time `json:"run_at,omitzero"`
	// StartedAt is when the running or last attempt started.
	StartedAt time.Time `json:"started_at,omitzero"`
	// NextAttemptAt is when a retrying job's next attempt is due.
	NextAttemptAt time.Time `json:"next_attempt_at,omitzero"`
	// FinishedAt is when the job reached a final status.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// UpdatedAt is when this record was written.
	UpdatedAt time.Time `json:"updated_at"`
	// Progress is the running attempt's last report (Progress).
	Progress *ProgressReport `json:"progress,omitempty"`
	// Result is what the handler recorded (RecordResult, a handler that
	// returns a result); JSON, at most MaxResultSize bytes.
	Result json.RawMessage `json:"result,omitempty"`
	// Reason is the dead-letter reason of a dead, canceled or expired job.
	Reason Reason `json:"reason,omitempty"`
	// Error is the last attempt's error (retrying, dead, canceled,
	// expired), one line of at most 2 KiB.
	Error string `json:"error,omitempty"`

	// Revision is the record's revision in the bucket (not stored in it).
	Revision uint64 `json:"-"`
}

// ProgressReport is a running attempt's progress.
type ProgressReport struct {
	// Fraction done, 0 to 1.
	Fraction float64   `json:"fraction"`
	Message  string    `json:"message,omitempty"`
	At       time.Time `json:"at"`
}

// Err returns nil for a job that succeeded or has not finished, and a
// *JobError for one that ended dead, canceled or expired.
func (s *State) Err() error {
	switch s.Status {
	case StatusDead, StatusCanceled, StatusExpired:
		return &JobError{ID: s.ID, Status: s.Status, Reason: s.Reason, Message: s.Error, Attempts: s.Attempt}
	}
	return nil
}

// JobError is how a job that did not succeed ended, as its State says.
type JobError struct {
	ID       string
	Status   Status // dead, canceled or expired
	Reason   Reason
	Message  string // the last attempt's error
	Attempts int
}

// Error says how the job ended and why.
func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jetjobs: job %s %s", e.ID, e.Status)
	if e.Reason != "" && string(e.Reason) != string(e.Status) {
		fmt.Fprintf(&b, " (reason %s)", e.Reason)
	}
	if e.Attempts > 0 {
		fmt.Fprintf(&b, " after %d attempt(s)", e.Attempts)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrCanceled) true for a canceled job.
func (e *JobError) Is(target error) bool {
	return target == ErrCanceled && e.Status == StatusCanceled
}

// StatusOfReason is the final status of a job dead-lettered with reason r.
func StatusOfReason(r Reason) Status {
	switch r {
	case ReasonCanceled:
		return StatusCanceled
	case ReasonExpired:
		return StatusExpired
	}
	return StatusDead
}

// MaxResultSize bounds a job's encoded result. A larger one fails the
// attempt with ErrResultTooLarge (permanently, when it comes from a handler
// that returns its result): store large output elsewhere and return a
// reference to it.
const MaxResultSize = 64 << 10

// maxStateError bounds State.Error, as the dead letter's error header.
const maxStateError = 2048

// ClipError makes err's text one line of at most 2 KiB, as State.Error and
// the dead letter's error header carry it.
func ClipError(err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	if len(s) > maxStateError {
		s = s[:maxStateError] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

// minKeepResult is the shortest TTL a state record can have: the server
// counts message TTLs in whole seconds.
const minKeepResult = time.Second

// DefaultKeepResult is how long EnqueueAndAwait keeps a job's state when
// the request does not say (KeepResult).
const DefaultKeepResult = 24 * time.Hour

// StateSubject is the subject of the state record of job id: the key-value
// bucket's subject for the key SubjectToken(id).
func (t Topology) StateSubject(id string) string {
	return wire.KVSubject(t.WithDefaults().StateBucket, SubjectToken(id))
}

// StateMessage is the message that stores st as the state of its job, kept
// for ttl after it is written. Publish it with a JetStream publish to know
// it was stored.
func (t Topology) StateMessage(st *State, ttl time.Duration) (*nats.Msg, error) {
	data, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("jetjobs: encode state of job %q: %w", st.ID, err)
	}
	h := make(nats.Header, 1)
	h[headerTTL] = []string{formatTTL(ttl)}
	return &nats.Msg{Subject: t.StateSubject(st.ID), Header: h, Data: data}, nil
}

// headerTTL is the server's per-message TTL header.
const headerTTL = wire.MsgTTL

// formatTTL writes ttl as the server reads Nats-TTL: whole seconds, at
// least one.
func formatTTL(ttl time.Duration) string {
	secs := max(int64((ttl+time.Second-1)/time.Second), 1)
	return fmt.Sprintf("%ds", secs)
}

// decodeState decodes a state record stored at revision.
func decodeState(data []byte, revision uint64) (*State, error) {
	st := &State{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("jetjobs: state record at revision %d does not decode: %w", revision, err)
	}
	st.Revision = revision
	return st, nil
}
