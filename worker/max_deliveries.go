package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// maxDeliveriesAdvisory is the part of the server's MAX_DELIVERIES advisory
// the pool reads.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// maxDeliveries moves jobs that reached the consumer's MaxDeliver (the
// server stops delivering them) to the dead-letter stream with reason
// max-deliveries. It subscribes to the advisories of the pool's own queues
// only, each in a queue group shared by every pool of the namespace serving
// that queue, so one of those pools handles each advisory: a pool never
// receives (and drops) the advisory of a queue it does not serve, and a
// worker needs permission for its own queues' advisories only. It
// subscribes before the pool pulls its first job, and the server sends the
// advisory when a pull request finds the job over the limit, so a pool that
// pulls also listens.
//
// The server sends each advisory once, and in a burst when many jobs reach
// the limit together, so advisories are queued without bound as they arrive
// (nats.go never drops one for a slow subscriber) and handled one after
// another. At stop it stops listening and still handles what it queued, for
// up to stopAdvisoriesTimeout.
type maxDeliveries struct {
	js     jetstream.JetStream
	topo   job.Topology
	queues []string
	// partitions are the partition consumers of the queues' sequences.
	partitions []string
	log        *slog.Logger
	fire       func(Event) // the hooks
	states     *states     // records the end of jobs that keep their result
	flows      *flows      // advances the batch or workflow of a job in one

	mu     sync.Mutex
	queued []maxDeliveriesAdvisory
	wake   chan struct{}
	subs   []*nats.Subscription
	loops  loops
}

func (md *maxDeliveries) start(context.Context) error {
	md.wake = make(chan struct{}, 1)
	for _, q := range slices.Concat(md.queues, md.partitions) {
		sub, err := md.js.Conn().QueueSubscribe(wire.MaxDeliveriesSubject(md.topo.Stream, q), wire.AdvisoryGroup(md.topo.Stream), md.receive)
		if err == nil {
			err = sub.SetPendingLimits(-1, -1)
		}
		if err != nil {
			md.unsubscribe()
			return fmt.Errorf("jetjobs: subscribe to max-deliveries advisories of queue %s: %w", q, err)
		}
		md.subs = append(md.subs, sub)
	}
	md.loops.run(md.loop)
	return nil
}

func (md *maxDeliveries) stop() { md.loops.stop() }

func (md *maxDeliveries) unsubscribe() {
	for _, sub := range md.subs {
		_ = sub.Unsubscribe()
	}
}

// receive queues an advisory of a served queue.
func (md *maxDeliveries) receive(m *nats.Msg) {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 || adv.Stream != md.topo.Stream || !slices.Contains(md.queues, adv.Consumer) && !slices.Contains(md.partitions, adv.Consumer) {
		return
	}
	md.mu.Lock()
	md.queued = append(md.queued, adv)
	md.mu.Unlock()
	signal(md.wake)
}

// next takes the oldest queued advisory.
func (md *maxDeliveries) next() (maxDeliveriesAdvisory, bool) {
	md.mu.Lock()
	defer md.mu.Unlock()
	if len(md.queued) == 0 {
		md.queued = nil // let a burst's backing array go
		return maxDeliveriesAdvisory{}, false
	}
	adv := md.queued[0]
	md.queued = md.queued[1:]
	return adv, true
}

func (md *maxDeliveries) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			md.unsubscribe()
			deadline := time.Now().Add(stopAdvisoriesTimeout)
			var left []uint64
			for adv, ok := md.next(); ok; adv, ok = md.next() {
				if time.Now().Before(deadline) {
					md.deadLetter(adv)
				} else {
					left = append(left, adv.StreamSeq)
				}
			}
			if len(left) > 0 {
				md.log.LogAttrs(context.Background(), slog.LevelError,
					"stopped before dead-lettering jobs that reached max deliveries; they stay in the work stream, undelivered",
					slog.String("stream", md.topo.Stream), slog.Any("seqs", left))
			}
			return
		case <-md.wake:
			for ctx.Err() == nil {
				adv, ok := md.next()
				if !ok {
					break
				}
				md.deadLetter(adv)
			}
		}
	}
}

// stopAdvisoriesTimeout bounds how long Stop spends on max-deliveries
// advisories that arrived before it.
const stopAdvisoriesTimeout = 10 * time.Second

// deadLetter reads the job of adv from the work stream, dead-letters it,
// and deletes it from the work stream once the dead letter is stored.
func (md *maxDeliveries) deadLetter(adv maxDeliveriesAdvisory) {
	seq, deliveries := adv.StreamSeq, int(adv.Deliveries)
	ctx, cancel := context.WithTimeout(context.Background(), 2*ackTimeout)
	defer cancel()
	stream, err := md.js.Stream(ctx, md.topo.Stream)
	if err != nil {
		return
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return // already handled
	}
	if err != nil {
		md.log.LogAttrs(ctx, slog.LevelError, "reading a job that reached max deliveries failed", slog.Uint64("seq", seq), slog.String("error", err.Error()))
		return
	}
	id := job.IDOf(raw.Header, md.topo.Stream, seq)
	queue, kind, _ := job.ParseSubject(md.topo.Prefix, raw.Subject)
	if wire.SubjectConsumer(md.topo.Prefix, raw.Subject) != adv.Consumer {
		// Whoever may publish on the advisory subject can name any
		// sequence: only a job of the advisory's own queue is dead-lettered.
		md.log.LogAttrs(ctx, slog.LevelWarn, "ignoring a max-deliveries advisory whose job belongs to another queue",
			slog.String("queue", adv.Consumer), slog.Uint64("seq", seq), slog.String("subject", raw.Subject))
		return
	}
	cause := fmt.Sprintf("delivered %d times (the consumer's MaxDeliver) without an outcome; its workers died or lost their connection on every attempt", deliveries)
	dl := wire.DeadLetterMessage(wire.DeadLetter{
		Prefix:  md.topo.DeadLetterPrefix,
		Subject: raw.Subject, Header: raw.Header, Data: raw.Data,
		ID: id, Queue: queue, Kind: kind, Stream: md.topo.Stream, Seq: seq, Stored: raw.Time,
		Reason: string(job.ReasonMaxDeliveries), Cause: cause, Attempts: deliveries,
	})
	if err := publishDeadLetter(md.js, dl); err != nil {
		md.log.LogAttrs(ctx, slog.LevelError, "dead-lettering a job that reached max deliveries failed; it stays in the work stream",
			slog.String("job_id", id), slog.Uint64("seq", seq), slog.String("error", err.Error()))
		return
	}
	info := &job.Info{ID: id, Queue: queue, Kind: kind, Subject: raw.Subject, Attempt: deliveries, Header: raw.Header, Payload: raw.Data, Seq: seq}
	if md.flows != nil && job.InFlow(info) {
		if err := md.flows.settle(info, job.StatusDead); err != nil {
			// Left in the work stream: the next advisory of it (a worker
			// restart replays none) or an operator's replay repeats it.
			md.log.LogAttrs(ctx, slog.LevelError, "advancing the batch or workflow of a job that reached max deliveries failed; it stays in the work stream",
				slog.String("job_id", id), slog.Uint64("seq", seq), slog.String("error", err.Error()))
			return
		}
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		md.log.LogAttrs(ctx, slog.LevelWarn, "deleting a dead-lettered job from the work stream failed", slog.Uint64("seq", seq), slog.String("error", err.Error()))
	}
	md.log.LogAttrs(ctx, slog.LevelError, "job dead-lettered",
		slog.String("job_id", id), slog.String("queue", queue), slog.String("kind", kind),
		slog.Int("attempt", deliveries), slog.String("reason", string(job.ReasonMaxDeliveries)), slog.String("error", cause))
	if ttl, err := time.ParseDuration(raw.Header.Get(job.HeaderKeepResult)); err == nil && ttl >= time.Second && md.states != nil {
		now := time.Now().UTC()
		md.states.store(&job.State{
			ID: id, Status: job.StatusDead, Queue: queue, Kind: kind, Attempt: deliveries,
			Reason: job.ReasonMaxDeliveries, Error: cause, UpdatedAt: now, FinishedAt: now,
		}, ttl)
	}
	md.fire(Event{
		Info:    info,
		Outcome: OutcomeDeadLettered, Reason: job.ReasonMaxDeliveries, Err: errors.New(cause),
	})
}
