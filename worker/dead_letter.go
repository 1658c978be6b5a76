package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// deadLetter publishes msg to the dead-letter stream and, only once the
// server acknowledged that, terminates the original. If the publish keeps
// failing it returns the error and leaves msg as it is: the caller hands it
// back, so it is never lost between the two.
//
// afterStored runs between the two (the caller records the job's state and
// runs the flow step of a job of a batch or workflow there): its error
// leaves the job to be delivered (and dead-lettered, and the step
// repeated) again.
func (p *Pool) deadLetter(msg jetstream.Msg, info *job.Info, reason job.Reason, cause error, afterStored func() error) error {
	meta, _ := msg.Metadata()
	var (
		stream string
		stored time.Time
	)
	if meta != nil {
		stream, stored = meta.Stream, meta.Timestamp
	}
	// The queue the job was delivered from, also when its kind does not
	// parse: a worker may write the dead letters of its own queues only.
	queue := info.Queue
	if queue == "" {
		queue = wire.QueueToken(p.cfg.Topology.Prefix, msg.Subject())
	}
	dl := wire.DeadLetterMessage(wire.DeadLetter{
		Prefix:  p.cfg.Topology.DeadLetterPrefix,
		Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data(),
		ID: info.ID, Queue: queue, Kind: info.Kind, Stream: stream, Seq: info.Seq, Stored: stored,
		Reason: string(reason), Cause: cause.Error(), Attempts: info.Attempt,
	})
	if err := publishDeadLetter(p.js, dl); err != nil {
		return err
	}
	if err := afterStored(); err != nil {
		return err
	}
	if err := msg.TermWithReason(string(reason)); err != nil {
		// The dead letter is stored; a redelivery dead-letters it again and
		// the dead-letter stream's deduplication keeps one copy.
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "terminating a dead-lettered job failed",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
	}
	return nil
}

// deadLetterBackoff spaces the tries of a dead-letter publish: 1.75s of
// waits in all, enough for a reconnect, and not canceled by shutdown, since
// a dead letter must be stored or the job handed back.
var deadLetterBackoff = retry.Exponential{Initial: 250 * time.Millisecond, Max: time.Second, Jitter: retry.NoJitter}

// deadLetterTries bounds the tries of a dead-letter publish.
const deadLetterTries = 4

// publishDeadLetter publishes dl through js, retrying briefly, but not a
// publish the server refused for lack of permission: that fails the same
// way every time.
func publishDeadLetter(js jetstream.JetStream, dl *nats.Msg) error {
	var err error
	for try := range deadLetterTries {
		if try > 0 {
			t := time.NewTimer(deadLetterBackoff.Delay(try))
			<-t.C
		}
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		_, err = js.PublishMsg(ctx, dl)
		cancel()
		if err == nil {
			return nil
		}
		if perr := js.Conn().LastError(); errors.Is(perr, nats.ErrPermissionViolation) && strings.Contains(perr.Error(), `"`+dl.Subject+`"`) {
			return fmt.Errorf("%w (%w)", perr, err)
		}
	}
	return err
}
