package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// rawSide is the baseline: what an application does with nats.go alone.
// It publishes JSON arguments asynchronously, consumes each queue with
// Consume (default options) and Acks after decoding. With Config.Work it
// runs each job in a goroutine of its own, at most Concurrency at once per
// queue, as such a program would have to.
type rawSide struct {
	*run
	pad      string
	subjects []string
	ccs      []jetstream.ConsumeContext
	jobs     sync.WaitGroup
}

func newRawSide(r *run) *rawSide {
	s := &rawSide{run: r, pad: padding(r.cfg.PayloadBytes)}
	for n := range r.queues {
		s.subjects = append(s.subjects, r.subject(n))
	}
	return s
}

func (s *rawSide) enqueueRange(_ context.Context, from, to int) error {
	for n := from; n < to; n++ {
		if err := s.publish(n); err != nil {
			return err
		}
	}
	return nil
}

func (s *rawSide) publish(n int) error {
	data, err := encode(newArgs(n, s.pad))
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: s.subjects[n%len(s.subjects)], Data: data}
	if s.cfg.RawHeaders {
		id := nuid.Next()
		msg.Header = nats.Header{job.HeaderID: {id}, job.HeaderMsgID: {id}}
	}
	_, err = s.prodJS.PublishMsgAsync(msg, stallWait)
	return err
}

func (s *rawSide) await(ctx context.Context) error { return s.awaitPublished(ctx) }

func (s *rawSide) start(ctx context.Context) error {
	t := s.cfg.Topology
	for _, q := range s.queues {
		// The consumer jetjobs would create, so that only the client differs.
		cfg := worker.ConsumerConfig(t, q, 30*time.Second, 100, s.cfg.Limit)
		cons, err := s.workJS.CreateOrUpdateConsumer(ctx, t.Stream, cfg)
		if err != nil {
			return err
		}
		var opts []jetstream.PullConsumeOpt
		handler := s.handle
		if s.cfg.Work > 0 {
			sem := make(chan struct{}, s.cfg.Concurrency)
			opts = append(opts, jetstream.PullMaxMessages(s.cfg.Concurrency))
			handler = func(msg jetstream.Msg) {
				sem <- struct{}{}
				s.jobs.Go(func() {
					defer func() { <-sem }()
					s.handle(msg)
				})
			}
		}
		cc, err := cons.Consume(handler, opts...)
		if err != nil {
			return err
		}
		s.ccs = append(s.ccs, cc)
	}
	return nil
}

// handle decodes a job's arguments, does the work, and Acks.
func (s *rawSide) handle(msg jetstream.Msg) {
	var a args
	if err := json.Unmarshal(msg.Data(), &a); err != nil {
		_ = msg.Term()
		s.fail(fmt.Errorf("decode %s: %w", msg.Subject(), err))
		return
	}
	s.started(a.Sent)
	if s.cfg.Work > 0 {
		time.Sleep(s.cfg.Work) // the job's I/O
	}
	if err := msg.Ack(); err != nil {
		s.fail(fmt.Errorf("ack: %w", err))
		return
	}
	s.worked(1)
}

func (s *rawSide) stop() error {
	for _, cc := range s.ccs {
		cc.Drain()
	}
	for _, cc := range s.ccs {
		<-cc.Closed()
	}
	s.jobs.Wait()
	return s.work.Flush()
}
