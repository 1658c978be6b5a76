package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Where a job is, as `job show` and `cancel` find it.
const (
	statePending = "pending" // in its queue, delivered to no worker yet
	stateRunning = "running" // delivered and not settled: running, or waiting out a retry delay
	stateSnoozed = "snoozed" // in its queue with Jetjobs-Not-Before in the future
	stateDelayed = "delayed" // a one-shot schedule (enqueue --in, or a snooze) that has not fired
	stateDead    = "dead"    // a dead letter
)

// foundJob is one place a job ID was found.
type foundJob struct {
	State   string
	Queue   string
	Kind    string
	Subject string // where it is stored
	Seq     uint64 // in its stream
	Stored  time.Time
	RunAt   time.Time // delayed and snoozed: when it is due
	Header  nats.Header
	Payload []byte
	Dead    *job.DeadLetter
}

// defaultScanLimit bounds how many jobs of the work stream a lookup reads.
const defaultScanLimit = 100_000

// jobFinder looks a job up by ID wherever it is, reading the streams
// without consuming anything: the work stream message by message (jobs'
// subjects do not carry their IDs), the schedule stream and the dead
// letters by the subjects their IDs name.
type jobFinder struct {
	c         *job.Client
	scanLimit int
}

// find returns every place the job with ID id is in, and whether the work
// stream was read in full (false past scanLimit jobs).
func (f jobFinder) find(ctx context.Context, id string) (found []foundJob, complete bool, err error) {
	all, complete, err := f.findAll(ctx, []string{id})
	return all[id], complete, err
}

// findAll is find for several IDs, reading the work stream once.
func (f jobFinder) findAll(ctx context.Context, ids []string) (found map[string][]foundJob, complete bool, err error) {
	t := f.c.Topology().WithDefaults()
	js := f.c.JetStream()
	found = map[string][]foundJob{}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		delayed, err := f.delayed(ctx, js, t, id)
		if err != nil {
			return nil, false, err
		}
		found[id] = append(found[id], delayed...)
	}
	complete, err = f.queued(ctx, js, t, want, found)
	if err != nil {
		return nil, false, err
	}
	for _, id := range ids {
		dl, err := f.c.DeadLetter(ctx, id)
		switch {
		case err == nil:
			found[id] = append(found[id], foundJob{State: stateDead, Queue: dl.Queue, Kind: dl.Kind, Subject: dl.Subject, Seq: dl.Seq,
				Stored: dl.FailedAt, Header: dl.Header, Payload: dl.Payload, Dead: &dl})
		case errors.Is(err, job.ErrDeadLetterNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
		default:
			return nil, false, err
		}
	}
	return found, complete, nil
}

// delayed finds the job's one-shot schedules: <sched>.at.<id> (enqueued
// for later) and <sched>.at.<id>.<seq> (snoozes).
func (f jobFinder) delayed(ctx context.Context, js jetstream.JetStream, t job.Topology, id string) ([]foundJob, error) {
	s, err := js.Stream(ctx, t.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil // a server without schedules, or none created yet
	}
	if err != nil {
		return nil, err
	}
	var found []foundJob
	subject := t.AtSubject(id)
	for _, filter := range []string{subject, subject + ".>"} {
		for seq := uint64(1); ; seq++ {
			m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			seq = m.Sequence
			fj := foundJob{State: stateDelayed, Subject: m.Subject, Seq: m.Sequence, Stored: m.Time, Header: m.Header, Payload: m.Data}
			if at, ok := strings.CutPrefix(m.Header.Get(wire.ScheduleSpec), "@at "); ok {
				fj.RunAt, _ = time.Parse(time.RFC3339, at)
			}
			fj.Queue, fj.Kind, _ = wire.ParseFireSubject(t.SchedulePrefix, m.Header.Get(wire.ScheduleTarget))
			found = append(found, fj)
		}
	}
	return found, nil
}

// queued reads the work stream for jobs with the IDs of want, up to
// f.scanLimit jobs, adding them to found; it tells pending from running by
// the queue consumer's delivered sequence. It reports whether it read the
// stream to its end.
func (f jobFinder) queued(ctx context.Context, js jetstream.JetStream, t job.Topology, want map[string]bool, found map[string][]foundJob) (complete bool, err error) {
	s, err := js.Stream(ctx, t.Stream)
	if err != nil {
		return false, err
	}
	limit := f.scanLimit
	if limit <= 0 {
		limit = defaultScanLimit
	}
	delivered := map[string]uint64{} // per queue: the last stream sequence delivered
	seq := uint64(1)
	for range limit {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(t.Prefix+".>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		seq = m.Sequence + 1
		id := job.IDOf(m.Header, t.Stream, m.Sequence)
		if !want[id] {
			continue
		}
		queue, kind, err := job.ParseSubject(t.Prefix, m.Subject)
		if err != nil {
			continue
		}
		last, ok := delivered[queue]
		if !ok {
			if c, err := s.Consumer(ctx, queue); err == nil {
				if ci, err := c.Info(ctx); err == nil {
					last = ci.Delivered.Stream
				}
			}
			delivered[queue] = last
		}
		fj := foundJob{State: statePending, Queue: queue, Kind: kind, Subject: m.Subject, Seq: m.Sequence, Stored: m.Time, Header: m.Header, Payload: m.Data}
		if m.Sequence <= last {
			fj.State = stateRunning
		}
		if nb, err := time.Parse(time.RFC3339Nano, m.Header.Get(job.HeaderNotBefore)); err == nil && nb.After(time.Now()) && fj.State == statePending {
			fj.State, fj.RunAt = stateSnoozed, nb
		}
		found[id] = append(found[id], fj)
	}
	// Past the limit: complete only if nothing is left.
	_, err = s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(t.Prefix+".>"))
	return errors.Is(err, jetstream.ErrMsgNotFound), nil
}
