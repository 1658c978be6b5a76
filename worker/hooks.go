package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// Outcome is what the pool did with one delivery of a job.
type Outcome string

// Outcomes of a delivery.
const (
	// OutcomeSucceeded: the handler returned nil and the job was acked.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeRetried: the attempt failed and the job was Nak'd with a delay.
	OutcomeRetried Outcome = "retried"
	// OutcomeSnoozed: the handler asked to run again later (job.Snooze).
	OutcomeSnoozed Outcome = "snoozed"
	// OutcomeDeadLettered: the job went to the dead-letter stream.
	OutcomeDeadLettered Outcome = "dead_lettered"
	// OutcomeInterrupted: shutdown canceled the attempt; the job was handed
	// back (republished with its attempts so far) for immediate redelivery.
	OutcomeInterrupted Outcome = "interrupted"
)

// Event describes the end of one delivery, for Hooks.
type Event struct {
	Info    *job.Info
	Outcome Outcome
	// Reason is set for OutcomeDeadLettered.
	Reason job.Reason
	// Err is the handler's error or the reason the job could not run. For
	// OutcomeSucceeded it is nil, unless the server did not confirm the
	// acknowledgement: then it says so, and the job may run again.
	Err error
	// Duration is how long the handler ran; zero if it did not run.
	Duration time.Duration
	// Delay is the retry or snooze delay.
	Delay time.Duration
}

// Hooks are called after the pool settled a delivery with the server (for
// a success: once the server confirmed the acknowledgement, see
// Config.AckAsync), on one of the pool's goroutines: keep them fast and do
// not block. Any may be nil.
// They are the place for alerts and metrics that need no middleware, and
// they also see jobs that never reached a handler (undecodable, expired, no
// handler, max deliveries). A hook that panics is logged with its stack at
// error level; the pool and the job's outcome are not affected.
type Hooks struct {
	// OnEvent is called for every outcome, before the specific hook.
	OnEvent      func(Event)
	OnSuccess    func(Event)
	OnRetry      func(Event)
	OnSnooze     func(Event)
	OnDeadLetter func(Event)
}

func (h *Hooks) fire(ev Event, log *slog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			log.LogAttrs(context.Background(), slog.LevelError, "a hook panicked",
				slog.String("outcome", string(ev.Outcome)), slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
		}
	}()
	if h.OnEvent != nil {
		h.OnEvent(ev)
	}
	var f func(Event)
	switch ev.Outcome {
	case OutcomeSucceeded:
		f = h.OnSuccess
	case OutcomeRetried:
		f = h.OnRetry
	case OutcomeSnoozed:
		f = h.OnSnooze
	case OutcomeDeadLettered:
		f = h.OnDeadLetter
	}
	if f != nil {
		f(ev)
	}
}
