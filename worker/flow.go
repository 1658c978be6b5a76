package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
)

// A job of a batch or workflow (job.InFlow) is settled in one more step:
// after its final state (and dead letter) is stored and before it is
// acknowledged (or terminated), job.Client.SettleFlow counts it in its
// batch and enqueues the callbacks, or enqueues the workflow tasks it made
// ready. A worker that dies anywhere in between leaves the job
// unacknowledged, and its redelivery repeats the step, which is
// idempotent. Jobs outside batches and workflows never reach this file.

// flows is what the pool uses of batches and workflows.
type flows struct {
	client *job.Client
	log    *slog.Logger
}

// flowTimeout bounds one try of a flow step: a task that fans out to
// thousands enqueues them all in it.
const flowTimeout = 30 * time.Second

// flowBackoff spaces the tries of a flow step, as dead-letter publishes.
var flowBackoff = retry.Exponential{Initial: 250 * time.Millisecond, Max: time.Second, Jitter: retry.NoJitter}

// flowTries bounds the tries of a flow step before the job is left to be
// delivered again.
const flowTries = 4

// settle runs the flow step of a job that ended with status, retrying
// briefly. An error means the step may be incomplete: the caller must not
// acknowledge the job.
func (f *flows) settle(info *job.Info, status job.Status) error {
	faultpoint.Reach(faultpoint.BeforeFlow, info.ID)
	var err error
	for try := range flowTries {
		if try > 0 {
			t := time.NewTimer(flowBackoff.Delay(try))
			<-t.C
		}
		ctx, cancel := context.WithTimeout(context.Background(), flowTimeout)
		err = f.client.SettleFlow(ctx, info, status)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, job.ErrBatchNotFound) || errors.Is(err, job.ErrWorkflowNotFound) {
			// Its record expired (FlowMaxAge) or was deleted: there is
			// nothing left to advance, and trying again would not change
			// that. The job itself is settled as it ended.
			f.log.LogAttrs(context.Background(), slog.LevelWarn, "the job's batch or workflow no longer exists; settling the job alone",
				slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.String("error", err.Error()))
			return nil
		}
	}
	return fmt.Errorf("%w: %w", errFlowStep, err)
}

// errFlowStep marks the failure of a flow step.
var errFlowStep = errors.New("advancing the job's batch or workflow failed")

// attemptFailed counts a failed attempt in the job's batch.
func (f *flows) attemptFailed(info *job.Info) { f.client.FlowAttemptFailed(info) }

// alreadySettled reports whether this delivery's flow step was done by a
// worker that died before its acknowledgement reached the server. If the
// check fails the job runs (and its step repeats, idempotently).
func (f *flows) alreadySettled(info *job.Info) bool {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	done, err := f.client.FlowSettled(ctx, info)
	return err == nil && done
}

// ackSettled acknowledges a delivery whose flow step was done already,
// without running the job again.
func (p *Pool) ackSettled(msg jetstream.Msg, info *job.Info, token uint64) {
	err := msg.DoubleAck(context.Background())
	p.inflight.remove(token)
	attrs := []slog.Attr{slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.Int("attempt", info.Attempt)}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	p.log.LogAttrs(context.Background(), slog.LevelInfo, "job's batch or workflow step was done before its worker stopped; acknowledged without running it again", attrs...)
	p.jobs.Done() // not an attempt: no hooks
}
