package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// Browsing reads jobs, delayed jobs and dead letters page by page without
// consuming or changing anything, for the dashboard and other tools. Every
// call reads at most its page (and, with filters on headers, a bounded
// number of headers): none reads a whole stream.

// StoredJob is a job message as stored in the work stream.
type StoredJob struct {
	ID      string
	Queue   string
	Kind    string
	Subject string
	// Seq is the job's sequence in the work stream, StoredAt when the
	// server stored it.
	Seq      uint64
	StoredAt time.Time
	Header   nats.Header
	Payload  []byte
}

// JobPage is one page of jobs. Next is the cursor of the following page
// (pass it as JobFilter.After); zero when there is none.
type JobPage struct {
	Jobs []StoredJob
	Next uint64
}

// JobFilter selects a page of a queue's jobs.
type JobFilter struct {
	// Kind limits the page to one kind; empty means all.
	Kind string
	// After lists the jobs with a sequence above it (a page's Next); zero
	// starts at the oldest.
	After uint64
	// Newest lists the newest jobs instead, newest first (After is then
	// ignored).
	Newest bool
	// Limit is the page size; default 50, at most 500.
	Limit int
}

func (f JobFilter) limit() int {
	switch {
	case f.Limit <= 0:
		return 50
	case f.Limit > 500:
		return 500
	}
	return f.Limit
}

// queueFilter returns the work-stream subject filter of queue and kind.
func (c *Client) queueFilter(queue, kind string) (string, error) {
	if err := ValidateQueue(queue); err != nil {
		return "", err
	}
	if kind == "" {
		return Subject(c.topo.Prefix, queue, ">"), nil
	}
	if err := ValidateKind(kind); err != nil {
		return "", err
	}
	return Subject(c.topo.Prefix, queue, kind), nil
}

// workStream returns the work stream, or ErrNoStream.
func (c *Client) workStream(ctx context.Context) (jetstream.Stream, error) {
	s, err := c.js.Stream(ctx, c.topo.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w (stream %s)", ErrNoStream, c.topo.Stream)
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: work stream %s: %w", c.topo.Stream, err)
	}
	return s, nil
}

// floors returns the stream sequences below which the queue's consumer
// has settled every job (ack floor) and delivered every job (delivered); both
// zero when the queue has no consumer.
func (c *Client) floors(ctx context.Context, s jetstream.Stream, queue string) (ack, delivered uint64, err error) {
	cons, err := s.Consumer(ctx, queue)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("jetjobs: consumer of queue %s: %w", queue, err)
	}
	info := cons.CachedInfo()
	return info.AckFloor.Stream, info.Delivered.Stream, nil
}

// PendingJobs returns a page of the jobs of queue that no worker has
// received yet, oldest first (or newest first with JobFilter.Newest). It
// reads them by sequence; nothing is consumed.
//
// Errors: ErrInvalidName, ErrNoStream, or the connection's error.
func (c *Client) PendingJobs(ctx context.Context, queue string, f JobFilter) (JobPage, error) {
	filter, err := c.queueFilter(queue, f.Kind)
	if err != nil {
		return JobPage{}, err
	}
	s, err := c.workStream(ctx)
	if err != nil {
		return JobPage{}, err
	}
	_, delivered, err := c.floors(ctx, s, queue)
	if err != nil {
		return JobPage{}, err
	}
	if f.Newest {
		return c.newestJobs(ctx, s, filter, delivered, f.limit())
	}
	return c.jobsFrom(ctx, s, filter, max(f.After, delivered)+1, 0, f.limit())
}

// RunningJobs returns up to limit (default 50) of the jobs of queue that
// were delivered and are not settled: running now, or waiting out a retry
// delay, oldest first.
//
// Errors: ErrInvalidName, ErrNoStream, or the connection's error.
func (c *Client) RunningJobs(ctx context.Context, queue string, limit int) ([]StoredJob, error) {
	filter, err := c.queueFilter(queue, "")
	if err != nil {
		return nil, err
	}
	s, err := c.workStream(ctx)
	if err != nil {
		return nil, err
	}
	ack, delivered, err := c.floors(ctx, s, queue)
	if err != nil || delivered == 0 {
		return nil, err
	}
	page, err := c.jobsFrom(ctx, s, filter, ack+1, delivered, JobFilter{Limit: limit}.limit())
	return page.Jobs, err
}

// jobsFrom reads up to limit jobs on filter from sequence from on, up to
// sequence through (0: no bound).
func (c *Client) jobsFrom(ctx context.Context, s jetstream.Stream, filter string, from, through uint64, limit int) (JobPage, error) {
	var page JobPage
	seq := from
	for len(page.Jobs) < limit {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return page, nil
		}
		if err != nil {
			return page, fmt.Errorf("jetjobs: read jobs of %s: %w", filter, err)
		}
		if through > 0 && m.Sequence > through {
			return page, nil
		}
		page.Jobs = append(page.Jobs, c.topo.storedJob(m))
		seq = m.Sequence + 1
	}
	// One more read tells whether there is a next page.
	if m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter)); err == nil && (through == 0 || m.Sequence <= through) {
		page.Next = seq - 1
	}
	return page, nil
}

// newestJobs reads the newest limit jobs on filter above sequence floor,
// newest first.
func (c *Client) newestJobs(ctx context.Context, s jetstream.Stream, filter string, floor uint64, limit int) (JobPage, error) {
	msgs, err := newestMsgs(ctx, s, filter, floor, 0, limit)
	if err != nil {
		return JobPage{}, err
	}
	page := JobPage{Jobs: make([]StoredJob, 0, len(msgs))}
	for i := len(msgs) - 1; i >= 0; i-- {
		page.Jobs = append(page.Jobs, c.topo.storedJob(msgs[i]))
	}
	return page, nil
}

func (t Topology) storedJob(m *jetstream.RawStreamMsg) StoredJob {
	j := StoredJob{Subject: m.Subject, Seq: m.Sequence, StoredAt: m.Time, Header: m.Header, Payload: m.Data}
	j.ID = IDOf(m.Header, t.Stream, m.Sequence)
	var err error
	if j.Queue, j.Kind, err = ParseSubject(t.Prefix, m.Subject); err != nil {
		// A foreign publisher's job with names jetjobs refuses: show what
		// its subject says all the same.
		j.Queue, j.Kind, _ = strings.Cut(strings.TrimPrefix(m.Subject, t.Prefix+"."), ".")
	}
	return j
}

// StoredJobAt returns the job stored at sequence seq of the work stream.
//
// Errors: ErrJobNotLocated, ErrNoStream, or the connection's error.
func (c *Client) StoredJobAt(ctx context.Context, seq uint64) (StoredJob, error) {
	s, err := c.workStream(ctx)
	if err != nil {
		return StoredJob{}, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return StoredJob{}, fmt.Errorf("%w: nothing at sequence %d of %s (finished or removed)", ErrJobNotLocated, seq, c.topo.Stream)
	}
	if err != nil {
		return StoredJob{}, fmt.Errorf("jetjobs: read job %d: %w", seq, err)
	}
	return c.topo.storedJob(m), nil
}

// ErrJobNotLocated is returned by FindJob and StoredJobAt when a job is not
// where they looked for it (finished, deeper in its queue, or never
// enqueued). ErrJobNotFound is about job states (Client.Status).
var ErrJobNotLocated = errors.New("jetjobs: job not located")

// JobState is where a job is.
type JobState string

// States of a job FindJob can report.
const (
	JobPending JobState = "pending"
	JobRunning JobState = "running"
	JobDelayed JobState = "delayed"
	JobDead    JobState = "dead"
)

// FoundJob is a job FindJob found, and where.
type FoundJob struct {
	State JobState
	// Job is set for a pending or running job, Delayed for a delayed one,
	// DeadLetter for a dead one.
	Job        *StoredJob
	Delayed    *DelayedJob
	DeadLetter *DeadLetter
	// Worker is the ID of the worker pool running it, Attempt its attempt
	// there.
	Worker  string
	Attempt int
}

// FindOptions bound FindJob's search of pending jobs.
type FindOptions struct {
	// Seq, if known (the dashboard's links carry it), is where to look in
	// the work stream first.
	Seq uint64
	// ScanPending is how many of the oldest stored jobs to look through
	// for the ID when the job is nowhere else; default 500. Jobs have no
	// index by ID, so a pending job deeper in the stream is found only by
	// its sequence.
	ScanPending int
}

// FindJob looks for the job with the given ID: in the dead letters, among
// the delayed jobs, among the jobs the live workers run, at opts.Seq of
// the work stream (for an ID of the form <stream>-<sequence>, at that
// sequence), then among the oldest opts.ScanPending stored jobs. It
// returns ErrJobNotLocated when it is in none of these places: finished,
// deeper in a queue, or never enqueued.
func (c *Client) FindJob(ctx context.Context, id string, opts FindOptions) (FoundJob, error) {
	if id == "" {
		return FoundJob{}, fmt.Errorf("%w: empty job ID", ErrInvalidOption)
	}
	if opts.ScanPending == 0 {
		opts.ScanPending = 500
	}
	if dl, err := c.DeadLetter(ctx, id); err == nil {
		return FoundJob{State: JobDead, DeadLetter: &dl}, nil
	} else if !errors.Is(err, ErrDeadLetterNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return FoundJob{}, err
	}
	if d, err := c.delayedJob(ctx, id); err == nil {
		return FoundJob{State: JobDelayed, Delayed: &d}, nil
	} else if !errors.Is(err, ErrJobNotLocated) {
		return FoundJob{}, err
	}
	s, err := c.workStream(ctx)
	if err != nil {
		return FoundJob{}, err
	}
	workers, err := c.Workers(ctx)
	if err != nil {
		return FoundJob{}, err
	}
	for _, w := range workers {
		for _, r := range w.Running {
			if r.ID == id {
				found := FoundJob{State: JobRunning, Worker: w.ID, Attempt: r.Attempt}
				if j, err := c.StoredJobAt(ctx, r.Seq); err == nil {
					found.Job = &j
				}
				return found, nil
			}
		}
	}
	state := func(j StoredJob) (FoundJob, error) {
		_, delivered, err := c.floors(ctx, s, j.Queue)
		if err != nil {
			return FoundJob{}, err
		}
		st := JobPending
		if j.Seq <= delivered {
			st = JobRunning // delivered and not settled (else it would be gone)
		}
		return FoundJob{State: st, Job: &j}, nil
	}
	if opts.Seq == 0 {
		// A job enqueued without an ID header is known by its sequence.
		if n, found := strings.CutPrefix(id, c.topo.Stream+"-"); found {
			opts.Seq, _ = strconv.ParseUint(n, 10, 64)
		}
	}
	if opts.Seq > 0 {
		if j, err := c.StoredJobAt(ctx, opts.Seq); err == nil && j.ID == id {
			return state(j)
		}
	}
	seq := uint64(0)
	for range opts.ScanPending {
		m, err := s.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(c.topo.Prefix+".>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return FoundJob{}, fmt.Errorf("jetjobs: look for job %q: %w", id, err)
		}
		if IDOf(m.Header, c.topo.Stream, m.Sequence) == id {
			return state(c.topo.storedJob(m))
		}
		seq = m.Sequence
	}
	return FoundJob{}, fmt.Errorf("%w: %q is not dead, delayed or running, nor among the %d oldest jobs: it finished, waits deeper in its queue (open it from the queue's page), or never existed", ErrJobNotLocated, id, opts.ScanPending)
}

// DelayedJob is a job waiting in the schedule stream for its time (enqueued
// with At or In, or snoozed).
type DelayedJob struct {
	ID      string
	Queue   string
	Kind    string
	RunAt   time.Time
	Header  nats.Header
	Payload []byte
	// Seq is the schedule message's sequence in the schedule stream.
	Seq uint64
}

func (t Topology) delayedJob(m *jetstream.RawStreamMsg) DelayedJob {
	d := DelayedJob{Header: m.Header, Payload: m.Data, Seq: m.Sequence}
	d.ID = m.Header.Get(HeaderID)
	if d.ID == "" {
		d.ID = strings.TrimPrefix(m.Subject, t.SchedulePrefix+".at.")
	}
	d.RunAt, _ = time.Parse(time.RFC3339, strings.TrimSpace(strings.TrimPrefix(m.Header.Get(wire.ScheduleSpec), "@at")))
	target := strings.TrimPrefix(m.Header.Get(wire.ScheduleTarget), t.SchedulePrefix+".fire.")
	d.Queue, d.Kind, _ = strings.Cut(target, ".")
	return d
}

// DelayedJobs returns up to limit (default 50) delayed jobs stored above
// sequence after of the schedule stream, in the order they were scheduled,
// and the cursor of the next page (0: none). Without a schedule stream
// there are none.
func (c *Client) DelayedJobs(ctx context.Context, after uint64, limit int) ([]DelayedJob, uint64, error) {
	limit = JobFilter{Limit: limit}.limit()
	s, err := c.js.Stream(ctx, c.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("jetjobs: schedule stream %s: %w", c.topo.ScheduleStream, err)
	}
	var out []DelayedJob
	seq := after
	for len(out) <= limit {
		m, err := s.GetMsg(ctx, seq+1, jetstream.WithGetMsgSubject(c.topo.SchedulePrefix+".at.>"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("jetjobs: read delayed jobs: %w", err)
		}
		if len(out) == limit {
			return out, seq, nil
		}
		out = append(out, c.topo.delayedJob(m))
		seq = m.Sequence
	}
	return out, 0, nil
}

// delayedJob returns the delayed job with the given ID, or ErrJobNotLocated.
func (c *Client) delayedJob(ctx context.Context, id string) (DelayedJob, error) {
	s, err := c.js.Stream(ctx, c.topo.ScheduleStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return DelayedJob{}, ErrJobNotLocated
	}
	if err != nil {
		return DelayedJob{}, fmt.Errorf("jetjobs: schedule stream %s: %w", c.topo.ScheduleStream, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, c.topo.AtSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DelayedJob{}, ErrJobNotLocated
	}
	if err != nil {
		return DelayedJob{}, fmt.Errorf("jetjobs: read delayed job %q: %w", id, err)
	}
	return c.topo.delayedJob(m), nil
}
