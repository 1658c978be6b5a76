package jetjobstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/inline"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// found is one job or dead letter read from the streams.
type found struct {
	kind, queue, id string
	header          nats.Header
	payload         []byte
	maxAttempts     int       // the job's own limit; 0 when it sets none
	enqueuedAt      time.Time // the job's enqueue time
	runAt           time.Time // when a scheduled job becomes due
	info            *job.Info // a job's, as a worker would read it
	decodeErr       error     // why info could not be read in full
	dl              *job.DeadLetter
}

// readTimeout bounds the reading of the streams for one Require call.
const readTimeout = 10 * time.Second

// readJobs reads the jobs waiting in c's namespace without consuming them:
// those in the work stream, then those in the schedule stream (delayed
// jobs and snoozes), ordered by the time they were enqueued.
func readJobs(ctx context.Context, c *job.Client) ([]*found, error) {
	topo, js := c.Topology(), c.JetStream()
	var out []*found
	err := eachMsg(ctx, js, topo.Stream, topo.Prefix+".>", func(m *jetstream.RawStreamMsg) {
		out = append(out, readJob(topo, m.Subject, m))
	})
	if err != nil {
		return nil, err
	}
	err = eachMsg(ctx, js, topo.ScheduleStream, topo.SchedulePrefix+"."+wire.ScheduleAtToken+".>", func(m *jetstream.RawStreamMsg) {
		target := m.Header.Get(wire.ScheduleTarget)
		f := readJob(topo, wire.FiredJobSubject(topo.Prefix, topo.SchedulePrefix, target), m)
		f.runAt = scheduledAt(m)
		out = append(out, f)
	})
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = nil // a server without schedules: no delayed jobs
	}
	slices.SortStableFunc(out, func(a, b *found) int { return a.enqueuedAt.Compare(b.enqueuedAt) })
	return out, err
}

// scheduledAt is when the one-shot schedule m fires (the time it was
// stored if it is not one).
func scheduledAt(m *jetstream.RawStreamMsg) time.Time {
	t, err := time.Parse(time.RFC3339, strings.TrimPrefix(m.Header.Get(wire.ScheduleSpec), "@at "))
	if err != nil {
		return m.Time
	}
	return t
}

// readJob reads the job stored as m, to be delivered on subject, as a
// worker reads its first delivery.
func readJob(topo job.Topology, subject string, m *jetstream.RawStreamMsg) *found {
	d := inline.NewDelivery(subject, m.Header, m.Data, topo.Stream, m.Sequence, m.Time, 1)
	info, err := job.ReadInfo(topo.Prefix, d, 0)
	return &found{
		kind: info.Kind, queue: info.Queue, id: info.ID, header: m.Header, payload: m.Data,
		maxAttempts: info.MaxAttempts, enqueuedAt: info.EnqueuedAt, info: info, decodeErr: err,
	}
}

// readDeadLetters reads the dead letters of c's namespace, oldest first.
func readDeadLetters(ctx context.Context, c *job.Client) ([]*found, error) {
	dls, err := c.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]*found, len(dls))
	for i := range dls {
		dl := &dls[i]
		n, _ := strconv.Atoi(dl.Header.Get(job.HeaderMaxAttempts))
		out[i] = &found{kind: dl.Kind, queue: dl.Queue, id: dl.ID, header: dl.Header, payload: dl.Payload, maxAttempts: n, dl: dl}
	}
	return out, nil
}

// eachMsg calls fn with each message of stream on filter, in order, read
// with direct or API gets (no consumer, so nothing is consumed).
func eachMsg(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(*jetstream.RawStreamMsg)) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read stream %s: %w", stream, err)
		}
		fn(m)
		seq = m.Sequence + 1
	}
}

// describe is one line about f in a failure message.
func (f *found) describe() string {
	var b strings.Builder
	if f.dl != nil {
		fmt.Fprintf(&b, "%s queue=%s id=%s reason=%s attempts=%d", orDash(f.kind), orDash(f.queue), f.id, f.dl.Reason, f.dl.Attempts)
	} else {
		fmt.Fprintf(&b, "%s queue=%s id=%s", orDash(f.kind), orDash(f.queue), f.id)
	}
	if f.maxAttempts > 0 {
		fmt.Fprintf(&b, " max_attempts=%d", f.maxAttempts)
	}
	if !f.runAt.IsZero() {
		fmt.Fprintf(&b, " scheduled_at=%s", f.runAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, " args=%s", clip(f.payload))
	if f.dl != nil && f.dl.Error != "" {
		fmt.Fprintf(&b, " error=%q", f.dl.Error)
	}
	if f.decodeErr != nil {
		fmt.Fprintf(&b, " (a worker cannot read it: %v)", f.decodeErr)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
