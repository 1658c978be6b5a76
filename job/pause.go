package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pausing a queue pauses its consumer on the server (nats-server 2.11 or
// newer): every worker process bound to it stops receiving jobs at once,
// running jobs finish, enqueueing goes on, and jobs wait in the stream. The
// pause is the consumer's state, so it survives worker and server restarts;
// the server resumes the consumer by itself at the pause's end.

// indefinitely is how far ahead a pause "until resumed" is set: the server
// needs a time.
const indefinitely = 100 * 365 * 24 * time.Hour

// PausedIndefinitely reports whether a pause that ends at until was set
// without an end (PauseQueue with a zero time).
func PausedIndefinitely(until time.Time) bool {
	return time.Until(until) > indefinitely/2
}

// PauseQueue stops the delivery of queue's jobs to every worker until the
// given time, or until ResumeQueue when until is zero, and returns the time
// the pause ends. Jobs already running finish; new jobs are still accepted
// and wait. Pausing a paused queue moves the end of its pause.
//
// Errors: ErrInvalidName, ErrInvalidOption for a time in the past,
// ErrQueueNotFound if no worker has served the queue yet, ErrNoStream, or
// the connection's error. The queue's sequences (Sequence) pause with it.
func (c *Client) PauseQueue(ctx context.Context, queue string, until time.Time) (time.Time, error) {
	if err := ValidateQueue(queue); err != nil {
		return time.Time{}, err
	}
	switch {
	case until.IsZero():
		until = time.Now().Add(indefinitely)
	case !until.After(time.Now()):
		return time.Time{}, fmt.Errorf("%w: pause of queue %s until %s: the time has passed", ErrInvalidOption, queue, until.Format(time.RFC3339))
	}
	resp, err := c.js.PauseConsumer(ctx, c.topo.Stream, queue, until)
	if err != nil {
		return time.Time{}, c.consumerError("pause", queue, err)
	}
	if err := c.pauseSequences(ctx, queue, resp.PauseUntil); err != nil {
		return time.Time{}, err
	}
	return resp.PauseUntil, nil
}

// ResumeQueue resumes delivery of a paused queue's jobs. Resuming a queue
// that is not paused does nothing.
//
// Errors: ErrInvalidName, ErrQueueNotFound, ErrNoStream, or the
// connection's error.
func (c *Client) ResumeQueue(ctx context.Context, queue string) error {
	if err := ValidateQueue(queue); err != nil {
		return err
	}
	if _, err := c.js.ResumeConsumer(ctx, c.topo.Stream, queue); err != nil {
		return c.consumerError("resume", queue, err)
	}
	return c.pauseSequences(ctx, queue, time.Time{})
}

func (c *Client) consumerError(verb, queue string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("%w: %s queue %s: no worker has served it yet, so it has no consumer on stream %s; start a worker for it first", ErrQueueNotFound, verb, queue, c.topo.Stream)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w (stream %s): %w", ErrNoStream, c.topo.Stream, err)
	}
	return fmt.Errorf("jetjobs: %s queue %s: %w", verb, queue, err)
}
