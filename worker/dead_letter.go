package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// deadLetter publishes msg to the dead-letter stream and, only once the
// server acknowledged that, terminates the original. If the publish keeps
// failing the job is Nak'd instead, so it is never lost between the two.
// handled says a handler ran and the logging middleware reported the
// outcome; otherwise deadLetter logs it.
func (p *Pool) deadLetter(msg jetstream.Msg, info *job.Info, reason job.Reason, cause error, handled bool) Event {
	meta, _ := msg.Metadata()
	var stream string
	if meta != nil {
		stream = meta.Stream
	}
	dl := p.cfg.Topology.DeadLetterMessage(msg.Subject(), msg.Headers(), msg.Data(), info.ID, info.Queue, stream, info.Seq, reason, cause.Error(), info.Attempt)
	if meta != nil {
		dl.Header.Set(job.HeaderMsgID, copyID("dlq", stream, info.Seq, meta.Timestamp))
	}
	if err := p.publishDeadLetter(dl); err != nil {
		p.log.LogAttrs(context.Background(), slog.LevelError, "dead-lettering failed; the job will be delivered again",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind),
			slog.String("reason", string(reason)), slog.String("error", err.Error()))
		_ = msg.NakWithDelay(5 * time.Second)
		return Event{Info: info, Outcome: OutcomeRetried, Err: cause, Delay: 5 * time.Second}
	}
	if err := msg.TermWithReason(string(reason)); err != nil {
		// The dead letter is stored; a redelivery dead-letters it again and
		// the dead-letter stream's deduplication keeps one copy.
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "terminating a dead-lettered job failed",
			slog.String("job_id", info.ID), slog.String("error", err.Error()))
	}
	if !handled || p.cfg.NoDefaultMiddleware {
		p.log.LogAttrs(context.Background(), slog.LevelError, "job dead-lettered",
			slog.String("job_id", info.ID), slog.String("queue", info.Queue), slog.String("kind", info.Kind),
			slog.Int("attempt", info.Attempt), slog.String("reason", string(reason)), slog.String("error", cause.Error()))
	}
	return Event{Info: info, Outcome: OutcomeDeadLettered, Reason: reason, Err: cause}
}

// publishDeadLetter publishes dl, retrying briefly through a reconnect.
func (p *Pool) publishDeadLetter(dl *nats.Msg) error {
	var err error
	for try := range 4 {
		if try > 0 {
			// Bounded (1.5s in all) and not canceled by shutdown: a dead
			// letter must be stored or the job handed back.
			t := time.NewTimer(time.Duration(try) * 250 * time.Millisecond)
			<-t.C
		}
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		_, err = p.js.PublishMsg(ctx, dl)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// maxDeliveriesAdvisory is the part of the server's MAX_DELIVERIES advisory
// the pool reads.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// listenMaxDeliveries moves jobs that reached the consumer's MaxDeliver (the
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
// another. At Stop the pool stops listening and still handles what it
// queued, for up to stopAdvisoriesTimeout.
func (p *Pool) listenMaxDeliveries(ctx context.Context) error {
	var (
		mu     sync.Mutex
		queued []maxDeliveriesAdvisory
		wake   = make(chan struct{}, 1)
		subs   []*nats.Subscription
	)
	unsubscribe := func() {
		for _, sub := range subs {
			_ = sub.Unsubscribe()
		}
	}
	receive := func(m *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
			return
		}
		if _, ok := p.cfg.Queues[adv.Consumer]; !ok {
			return
		}
		mu.Lock()
		queued = append(queued, adv)
		mu.Unlock()
		signal(wake)
	}
	next := func() (maxDeliveriesAdvisory, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(queued) == 0 {
			queued = nil // let a burst's backing array go
			return maxDeliveriesAdvisory{}, false
		}
		adv := queued[0]
		queued = queued[1:]
		return adv, true
	}
	for _, q := range p.queues {
		subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", p.cfg.Topology.Stream, q.name)
		sub, err := p.js.Conn().QueueSubscribe(subject, "jetjobs-"+p.cfg.Topology.Stream, receive)
		if err == nil {
			err = sub.SetPendingLimits(-1, -1)
		}
		if err != nil {
			unsubscribe()
			return fmt.Errorf("jetjobs: subscribe to max-deliveries advisories of queue %s: %w", q.name, err)
		}
		subs = append(subs, sub)
	}
	p.background.Add(1)
	go func() {
		defer p.background.Done()
		for {
			select {
			case <-ctx.Done():
				unsubscribe()
				deadline := time.Now().Add(stopAdvisoriesTimeout)
				var left []uint64
				for adv, ok := next(); ok; adv, ok = next() {
					if time.Now().Before(deadline) {
						p.deadLetterBySeq(adv.StreamSeq, int(adv.Deliveries))
					} else {
						left = append(left, adv.StreamSeq)
					}
				}
				if len(left) > 0 {
					p.log.LogAttrs(context.Background(), slog.LevelError,
						"stopped before dead-lettering jobs that reached max deliveries; they stay in the work stream, undelivered",
						slog.String("stream", p.cfg.Topology.Stream), slog.Any("seqs", left))
				}
				return
			case <-wake:
				for ctx.Err() == nil {
					adv, ok := next()
					if !ok {
						break
					}
					p.deadLetterBySeq(adv.StreamSeq, int(adv.Deliveries))
				}
			}
		}
	}()
	return nil
}

// stopAdvisoriesTimeout bounds how long Stop spends on max-deliveries
// advisories that arrived before it.
const stopAdvisoriesTimeout = 10 * time.Second

// deadLetterBySeq reads job seq from the work stream, dead-letters it, and
// deletes it from the work stream once the dead letter is stored.
func (p *Pool) deadLetterBySeq(seq uint64, deliveries int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*ackTimeout)
	defer cancel()
	stream, err := p.js.Stream(ctx, p.cfg.Topology.Stream)
	if err != nil {
		return
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return // already handled
	}
	if err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "reading a job that reached max deliveries failed", slog.Uint64("seq", seq), slog.String("error", err.Error()))
		return
	}
	id := job.IDOf(raw.Header, p.cfg.Topology.Stream, seq)
	queue, kind, _ := job.ParseSubject(p.cfg.Topology.Prefix, raw.Subject)
	cause := fmt.Sprintf("delivered %d times (the consumer's MaxDeliver) without an outcome; its workers died or lost their connection on every attempt", deliveries)
	dl := p.cfg.Topology.DeadLetterMessage(raw.Subject, raw.Header, raw.Data, id, queue, p.cfg.Topology.Stream, seq, job.ReasonMaxDeliveries, cause, deliveries)
	dl.Header.Set(job.HeaderMsgID, copyID("dlq", p.cfg.Topology.Stream, seq, raw.Time))
	if err := p.publishDeadLetter(dl); err != nil {
		p.log.LogAttrs(ctx, slog.LevelError, "dead-lettering a job that reached max deliveries failed; it stays in the work stream",
			slog.String("job_id", id), slog.Uint64("seq", seq), slog.String("error", err.Error()))
		return
	}
	if err := stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		p.log.LogAttrs(ctx, slog.LevelWarn, "deleting a dead-lettered job from the work stream failed", slog.Uint64("seq", seq), slog.String("error", err.Error()))
	}
	p.log.LogAttrs(ctx, slog.LevelError, "job dead-lettered",
		slog.String("job_id", id), slog.String("queue", queue), slog.String("kind", kind),
		slog.Int("attempt", deliveries), slog.String("reason", string(job.ReasonMaxDeliveries)), slog.String("error", cause))
	p.cfg.Hooks.fire(Event{
		Info:    &job.Info{ID: id, Queue: queue, Kind: kind, Subject: raw.Subject, Attempt: deliveries, Header: raw.Header, Payload: raw.Data, Seq: seq},
		Outcome: OutcomeDeadLettered, Reason: job.ReasonMaxDeliveries, Err: errors.New(cause),
	}, p.log)
}
