package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// A job that keeps its result (job.KeepResult, the Jetjobs-Keep-Result
// header, or WithKeepResult for its kind) has its state record written by
// the worker that runs it: running when an attempt starts (with progress
// while it runs), and what settle carried out once decide gave the
// attempt's verdict. Jobs that do not keep it never reach this file: their
// stateWriter is nil, and every method is a no-op on nil.

// states is what state writers use of the pool.
type states struct {
	js     jetstream.JetStream
	topo   job.Topology
	worker string // names this process in running records
	log    *slog.Logger
}

// workerName names this process in the records it writes.
func workerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// progressEvery is the least time between two progress writes of a job.
const progressEvery = 250 * time.Millisecond

// stateWriter writes the state record of one delivery of a job that keeps
// its result, and is its attempt's job.Recorder.
type stateWriter struct {
	s     *states
	msg   jetstream.Msg
	info  *job.Info
	ttl   time.Duration
	start time.Time

	mu        sync.Mutex
	result    []byte
	lastWrite time.Time
	pending   *job.ProgressReport
	timer     *time.Timer
	done      bool // settled: progress is no longer written
}

func (s *states) writer(msg jetstream.Msg, info *job.Info, ttl time.Duration) *stateWriter {
	return &stateWriter{s: s, msg: msg, info: info, ttl: ttl}
}

var _ job.Recorder = (*stateWriter)(nil)

// record is the job's state with status st, as of now.
func (w *stateWriter) record(st job.Status, now time.Time) *job.State {
	info := w.info
	return &job.State{
		ID: info.ID, Status: st, Queue: info.Queue, Kind: info.Kind,
		Attempt: info.Attempt, MaxAttempts: info.MaxAttempts, Worker: w.s.worker,
		EnqueuedAt: info.EnqueuedAt.UTC(), StartedAt: w.start, UpdatedAt: now.UTC(),
	}
}

// running records that the attempt starts. It does not wait for the
// server: the record that settles the attempt follows it on the same
// connection, so it cannot overtake it.
func (w *stateWriter) running() {
	if w == nil {
		return
	}
	now := time.Now()
	w.start = now.UTC()
	w.mu.Lock()
	w.lastWrite = now
	w.mu.Unlock()
	w.publish(w.record(job.StatusRunning, now))
}

// RecordProgress writes the attempt's progress, at most once every
// progressEvery; a report within that time waits for its end, replaced by
// any later one. A write also tells the server the job is alive.
func (w *stateWriter) RecordProgress(fraction float64, message string) error {
	now := time.Now()
	rep := &job.ProgressReport{Fraction: fraction, Message: message, At: now.UTC()}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	if wait := progressEvery - now.Sub(w.lastWrite); wait > 0 {
		w.pending = rep
		if w.timer == nil {
			w.timer = time.AfterFunc(wait, w.flush)
		}
		return nil
	}
	w.writeProgress(rep, now)
	return nil
}

// flush writes the progress report that waited for its turn.
func (w *stateWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = nil
	if w.done || w.pending == nil {
		return
	}
	w.writeProgress(w.pending, time.Now())
	w.pending = nil
}

// writeProgress writes rep with the running record. Called with mu held,
// so reports are written in order and none after the attempt settled.
func (w *stateWriter) writeProgress(rep *job.ProgressReport, now time.Time) {
	w.lastWrite = now
	st := w.record(job.StatusRunning, now)
	st.Progress = rep
	w.publish(st)
	_ = w.msg.InProgress()
}

// RecordResult keeps the attempt's result for its record if it succeeds.
func (w *stateWriter) RecordResult(result []byte) error {
	if len(result) > job.MaxResultSize {
		return fmt.Errorf("%w: %d bytes exceeds %d", job.ErrResultTooLarge, len(result), job.MaxResultSize)
	}
	w.mu.Lock()
	w.result = result
	w.mu.Unlock()
	return nil
}

// publish writes st without waiting for the server.
func (w *stateWriter) publish(st *job.State) {
	m, err := w.s.topo.StateMessage(st, w.ttl)
	if err == nil {
		err = w.s.js.Conn().PublishMsg(m)
	}
	if err != nil {
		w.s.log.LogAttrs(context.Background(), slog.LevelWarn, "recording a job's state failed",
			slog.String("job_id", st.ID), slog.String("status", string(st.Status)), slog.String("error", err.Error()))
	}
}

// settled records what settle carries out for v, and waits until the
// server stored it: settle then carries it out, so a job the server counts
// as done always has its final record. A verdict that changes nothing a
// waiter sees (a job not due yet) writes nothing.
func (w *stateWriter) settled(v verdict) {
	if w == nil {
		return
	}
	w.mu.Lock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	result := w.result
	w.mu.Unlock()
	now := time.Now()
	var st *job.State
	switch v.action {
	case actAck:
		st = w.record(job.StatusSucceeded, now)
		st.Result, st.FinishedAt = result, now.UTC()
	case actRetry:
		st = w.record(job.StatusRetrying, now)
		st.NextAttemptAt, st.Error = now.Add(v.delay).UTC(), job.ClipError(v.err)
	case actSnooze:
		st = w.record(job.StatusScheduled, now)
		st.RunAt = now.Add(v.delay).UTC()
	case actHandBack:
		st = w.record(job.StatusWaiting, now)
	case actDeadLetter:
		st = w.record(job.StatusOfReason(v.reason), now)
		st.Reason, st.Error, st.FinishedAt = v.reason, job.ClipError(v.err), now.UTC()
	default:
		return
	}
	w.s.store(st, w.ttl)
}

// store writes st and waits until the server stored it.
func (s *states) store(st *job.State, ttl time.Duration) {
	m, err := s.topo.StateMessage(st, ttl)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
		_, err = s.js.PublishMsg(ctx, m)
		cancel()
	}
	if err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "recording a job's state failed; waiters see its earlier state until it expires or the job runs again",
			slog.String("job_id", st.ID), slog.String("status", string(st.Status)), slog.String("error", err.Error()))
	}
}
