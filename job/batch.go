package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/internal/wire"
)

// Batch describes a group of jobs enqueued together (Client.EnqueueBatch)
// whose ends are counted by the server: its progress is readable by ID
// (Client.Batch), and its callbacks are jobs enqueued exactly once when the
// last job ends. See docs/workflows.md.
type Batch struct {
	// ID names the batch: 1 to 128 characters of A-Z a-z 0-9 _ -; empty
	// for a generated one.
	ID string
	// OnSuccess, if set, is enqueued once every job of the batch succeeded.
	OnSuccess *Request
	// OnComplete, if set, is enqueued once every job of the batch ended
	// (succeeded, dead, canceled or expired). Its Info.Header carries the
	// final counts (BatchCountsOf).
	OnComplete *Request
}

// BatchCounts are a batch's counts of jobs.
type BatchCounts struct {
	// Total is the number of jobs in the batch (including those added by
	// its jobs).
	Total int64 `json:"total"`
	// Succeeded, Dead (dead-lettered: failed, canceled or expired) and
	// Pending (not ended yet) add up to Total.
	Succeeded int64 `json:"succeeded"`
	Dead      int64 `json:"dead"`
	Pending   int64 `json:"pending"`
	// Failed counts the jobs that had at least one failed attempt (some of
	// which may have succeeded later).
	Failed int64 `json:"failed"`
}

// BatchStatus is a batch's progress.
type BatchStatus struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	BatchCounts
	// Done: every job ended.
	Done bool `json:"done"`
	// SuccessCallback and CompleteCallback are the job IDs of the
	// callbacks, if the batch has them; SuccessFired and CompleteFired say
	// whether they were enqueued.
	SuccessCallback  string `json:"success_callback,omitempty"`
	CompleteCallback string `json:"complete_callback,omitempty"`
	SuccessFired     bool   `json:"success_fired,omitempty"`
	CompleteFired    bool   `json:"complete_fired,omitempty"`
}

// batchRecord is a batch's record in the flow bucket.
type batchRecord struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	Success   *storedMsg `json:"on_success,omitempty"`
	Complete  *storedMsg `json:"on_complete,omitempty"`
}

// BatchError is the error of an EnqueueBatch or AddToBatch of which some
// jobs were not stored: the batch holds the others (Stored) and counts only
// them, so its callbacks fire once they end.
type BatchError struct {
	Batch     string
	Stored    []string // IDs of the jobs stored in the batch
	NotStored []Result // the jobs not stored, each with its Err
}

// Error says how many jobs were not stored and why the first was not.
func (e *BatchError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jetjobs: batch %s: %d of %d jobs not stored", e.Batch, len(e.NotStored), len(e.NotStored)+len(e.Stored))
	if len(e.NotStored) > 0 {
		fmt.Fprintf(&b, " (first: job %q: %v)", e.NotStored[0].ID, e.NotStored[0].Err)
	}
	b.WriteString("; the batch holds the stored ones")
	return b.String()
}

// Unwrap returns the first job's error.
func (e *BatchError) Unwrap() error {
	if len(e.NotStored) == 0 {
		return nil
	}
	return e.NotStored[0].Err
}

// errDuplicateInBatch is the error of a batch job whose ID the work stream
// already had: it was not stored again, so it is not part of the batch.
var errDuplicateInBatch = errors.New("a job with this ID was stored within the duplicate window; it is not part of the batch")

// EnqueueBatch creates batch b with the jobs reqs and returns one Result per
// job, in order. Every request and callback is validated before anything is
// stored. The batch's counts are stored before its jobs, so no job can
// finish it early; if some jobs are not stored (or are duplicates of stored
// jobs), the batch counts only the stored ones and the error is a
// *BatchError naming both.
//
// Errors: ErrInvalidOption, ErrInvalidName and the other errors of Enqueue
// (nothing was stored), ErrBatchExists, ErrFlowsUnsupported, *BatchError.
func (c *Client) EnqueueBatch(ctx context.Context, b Batch, reqs ...Request) ([]Result, error) {
	if b.ID == "" {
		b.ID = nuid.Next()
	}
	if err := validateFlowID("batch ID", b.ID); err != nil {
		return nil, err
	}
	if len(reqs) == 0 {
		return nil, fmt.Errorf("%w: batch %s has no jobs; give EnqueueBatch at least one", ErrInvalidOption, b.ID)
	}
	rec := batchRecord{ID: b.ID, CreatedAt: time.Now().UTC()}
	var err error
	if rec.Success, err = c.callback(b.ID, wire.CallbackSuccess, b.OnSuccess); err != nil {
		return nil, err
	}
	if rec.Complete, err = c.callback(b.ID, wire.CallbackComplete, b.OnComplete); err != nil {
		return nil, err
	}
	msgs, ids, err := c.batchMessages(b.ID, reqs)
	if err != nil {
		return nil, err
	}
	created, err := c.createJSON(ctx, wire.BatchKey(b.ID), rec)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, fmt.Errorf("%w: %s; choose another ID", ErrBatchExists, b.ID)
	}
	n := int64(len(msgs))
	if err := c.countBatch(ctx, b.ID, n, "create"); err != nil {
		return nil, err
	}
	return c.storeBatchJobs(ctx, b.ID, msgs, ids, "create")
}

// AddToBatch enqueues reqs into the batch of the running job whose context
// is ctx. The batch counts them before they are stored, and the running
// job is not counted as ended until it returns, so the batch cannot finish
// before the added jobs do. Jobs with fixed IDs (ID, Unique) are counted
// once however often the handler runs.
//
// Errors: ErrNotInBatch, the errors of EnqueueBatch.
func (c *Client) AddToBatch(ctx context.Context, reqs ...Request) ([]Result, error) {
	info, ok := FromContext(ctx)
	if !ok || info.Header.Get(wire.Batch) == "" {
		return nil, fmt.Errorf("%w: AddToBatch needs the context of a running job of a batch", ErrNotInBatch)
	}
	batch := info.Header.Get(wire.Batch)
	msgs, ids, err := c.batchMessages(batch, reqs)
	if err != nil {
		return nil, err
	}
	subjects := make([]string, 0, 2*len(ids))
	msgIDs := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		subjects = append(subjects, wire.BatchCounterSubject(c.topo.CounterPrefix, batch, wire.CounterTotal),
			wire.BatchCounterSubject(c.topo.CounterPrefix, batch, wire.CounterRemaining))
		msgIDs = append(msgIDs, wire.BatchEndID(batch, id, "add-total"), wire.BatchEndID(batch, id, "add"))
	}
	if _, err := c.incrAll(ctx, subjects, 1, msgIDs); err != nil {
		return nil, err
	}
	return c.storeBatchJobs(ctx, batch, msgs, ids, "add:"+info.ID+":"+strconv.FormatUint(info.Seq, 10))
}

// callback builds the message of a batch's callback.
func (c *Client) callback(batch, name string, r *Request) (*storedMsg, error) {
	if r == nil {
		return nil, nil
	}
	id := wire.CallbackJobID(batch, name)
	msg, _, _, err := c.message(r.Kind, r.Args, append(r.Options[:len(r.Options):len(r.Options)], ID(id)))
	if err != nil {
		return nil, fmt.Errorf("batch %s: callback on %s: %w", batch, name, err)
	}
	if msg.Header.Get(wire.ScheduleSpec) != "" {
		return nil, fmt.Errorf("%w: batch %s: callback on %s: a callback cannot be scheduled (At, In)", ErrInvalidOption, batch, name)
	}
	msg.Header[wire.BatchCallback] = []string{name}
	msg.Header[wire.CallbackBatch] = []string{batch}
	return storeMsg(id, msg), nil
}

// batchMessages builds and validates the messages of the jobs of batch.
func (c *Client) batchMessages(batch string, reqs []Request) ([]*nats.Msg, []string, error) {
	msgs := make([]*nats.Msg, len(reqs))
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		msg, id, o, err := c.message(r.Kind, r.Args, r.Options)
		if err == nil && o.untilDone {
			err = fmt.Errorf("%w: UniqueUntilDone cannot be used in a batch (the batch counts each job once)", ErrInvalidOption)
		}
		if err == nil && o.keepResult > 0 && !SupportsState(c.js) {
			err = fmt.Errorf("%w (connected to %s); upgrade the server or enqueue without KeepResult", ErrStateUnsupported, c.js.Conn().ConnectedServerVersion())
		}
		if err != nil {
			return nil, nil, fmt.Errorf("batch %s: job %d (%s): %w", batch, i, r.Kind, err)
		}
		msg.Header[wire.Batch] = []string{batch}
		msgs[i], ids[i] = msg, id
	}
	return msgs, ids, nil
}

// countBatch adds n jobs to batch's total and remaining counts, as step.
func (c *Client) countBatch(ctx context.Context, batch string, n int64, step string) error {
	p := c.topo.CounterPrefix
	_, err := c.incrAll(ctx,
		[]string{wire.BatchCounterSubject(p, batch, wire.CounterTotal), wire.BatchCounterSubject(p, batch, wire.CounterRemaining)}, n,
		[]string{"b:" + batch + ":" + step + ":total", "b:" + batch + ":" + step + ":remaining"})
	return err
}

// storeBatchJobs publishes the counted jobs of batch, pipelined, and
// uncounts those not stored (step names the uncount's message ID): if that
// ends the batch, its callbacks are enqueued here.
func (c *Client) storeBatchJobs(ctx context.Context, batch string, msgs []*nats.Msg, ids []string, step string) ([]Result, error) {
	results := c.publishAll(ctx, msgs, ids, true)
	var berr BatchError
	for _, r := range results {
		if r.Err == nil && r.Duplicate {
			r.Err = errDuplicateInBatch
		}
		if r.Err != nil {
			berr.NotStored = append(berr.NotStored, r)
		} else {
			berr.Stored = append(berr.Stored, r.ID)
		}
	}
	if len(berr.NotStored) == 0 {
		return results, nil
	}
	berr.Batch = batch
	k := int64(len(berr.NotStored))
	p := c.topo.CounterPrefix
	values, err := c.incrAll(ctx,
		[]string{wire.BatchCounterSubject(p, batch, wire.CounterTotal), wire.BatchCounterSubject(p, batch, wire.CounterRemaining)}, -k,
		[]string{"b:" + batch + ":" + step + ":unstored-total", "b:" + batch + ":" + step + ":unstored"})
	if err != nil {
		return results, fmt.Errorf("%w; uncounting them failed too, so the batch never finishes: %w", &berr, err)
	}
	if values[1] == 0 {
		if err := c.completeBatch(ctx, batch); err != nil {
			return results, fmt.Errorf("%w; enqueueing its callbacks failed: %w", &berr, err)
		}
	}
	return results, &berr
}

// publishAll publishes built messages, pipelined, and returns their Results
// (ctx's error, or a lost connection, in those not acknowledged); jobs says
// they are job messages, for BeforePublish.
func (c *Client) publishAll(ctx context.Context, msgs []*nats.Msg, ids []string, jobs bool) []Result {
	results := make([]Result, len(msgs))
	pl := c.newPipeline(ctx, results)
	for i, msg := range msgs {
		results[i].ID = ids[i]
		if err := pl.room(i); err != nil {
			results[i].Err = notPublished(err)
			continue
		}
		if jobs && c.before != nil {
			c.before(ctx, msg)
		}
		pl.publish(i, msg)
	}
	_ = pl.finish() // each Result has its error
	return results
}

// settleBatchJob counts the end of the job of info in batch (status) and,
// if it was the batch's last, enqueues the callbacks.
func (c *Client) settleBatchJob(ctx context.Context, batch string, info *Info, status Status) error {
	p := c.topo.CounterPrefix
	id := info.ID
	if replayed := info.Header.Get(wire.ReplayedAt); replayed != "" {
		return c.settleReplayedBatchJob(ctx, batch, id, replayed, status)
	}
	if status != StatusSucceeded {
		// Before the end: whoever sees the batch done reads it.
		if _, err := c.incr(ctx, wire.BatchCounterSubject(p, batch, wire.CounterDead), 1, wire.BatchEndID(batch, id, wire.CounterDead)); err != nil {
			return err
		}
	}
	left, err := c.incr(ctx, wire.BatchCounterSubject(p, batch, wire.CounterRemaining), -1, wire.BatchEndID(batch, id, "end"))
	if err != nil {
		return err
	}
	faultpoint.Reach(faultpoint.MidFlow, id)
	if left > 0 {
		return nil
	}
	return c.completeBatch(ctx, batch)
}

// settleReplayedBatchJob counts a dead job of batch that was replayed
// (replayed is its Jetjobs-Replayed-At): its end was counted when it died,
// so only a success changes the counts, from dead to succeeded. If that
// leaves the ended batch without dead jobs, the success callback is
// enqueued now.
func (c *Client) settleReplayedBatchJob(ctx context.Context, batch, id, replayed string, status Status) error {
	if status != StatusSucceeded {
		return nil
	}
	p := c.topo.CounterPrefix
	dead, err := c.incr(ctx, wire.BatchCounterSubject(p, batch, wire.CounterDead), -1, wire.BatchEndID(batch, id, "revived:"+replayed))
	if err != nil || dead > 0 {
		return err
	}
	left, err := c.counter(ctx, wire.BatchCounterSubject(p, batch, wire.CounterRemaining))
	if err != nil || left > 0 {
		return err
	}
	return c.completeBatch(ctx, batch)
}

// completeBatch enqueues the callbacks of a batch whose jobs all ended;
// repeated calls enqueue each once.
func (c *Client) completeBatch(ctx context.Context, batch string) error {
	var rec batchRecord
	found, err := c.getJSON(ctx, wire.BatchKey(batch), &rec)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("%w: %s (its record expired or was deleted; its callbacks cannot be enqueued)", ErrBatchNotFound, batch)
	}
	counts, err := c.batchCounts(ctx, batch)
	if err != nil {
		return err
	}
	data, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	extra := nats.Header{wire.BatchCounts: []string{string(data)}}
	if rec.Success != nil && counts.Dead == 0 {
		if _, err := c.enqueueOnce(ctx, rec.Success, wire.BatchFiredKey(batch, wire.CallbackSuccess), extra); err != nil {
			return fmt.Errorf("jetjobs: batch %s: enqueue the success callback: %w", batch, err)
		}
	}
	if rec.Complete != nil {
		if _, err := c.enqueueOnce(ctx, rec.Complete, wire.BatchFiredKey(batch, wire.CallbackComplete), extra); err != nil {
			return fmt.Errorf("jetjobs: batch %s: enqueue the complete callback: %w", batch, err)
		}
	}
	return nil
}

// batchCounts reads a batch's counters.
func (c *Client) batchCounts(ctx context.Context, batch string) (BatchCounts, error) {
	var out BatchCounts
	p := c.topo.CounterPrefix
	for _, f := range []struct {
		name string
		into *int64
	}{{wire.CounterTotal, &out.Total}, {wire.CounterRemaining, &out.Pending}, {wire.CounterDead, &out.Dead}, {wire.CounterFailed, &out.Failed}} {
		v, err := c.counter(ctx, wire.BatchCounterSubject(p, batch, f.name))
		if err != nil {
			return out, err
		}
		*f.into = v
	}
	out.Succeeded = out.Total - out.Pending - out.Dead
	return out, nil
}

// Batch returns the progress of batch id.
//
// Errors: ErrBatchNotFound, ErrFlowsUnsupported, the connection's error.
func (c *Client) Batch(ctx context.Context, id string) (*BatchStatus, error) {
	if err := validateFlowID("batch ID", id); err != nil {
		return nil, err
	}
	var rec batchRecord
	found, err := c.getJSON(ctx, wire.BatchKey(id), &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	counts, err := c.batchCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &BatchStatus{ID: id, CreatedAt: rec.CreatedAt, BatchCounts: counts, Done: counts.Pending == 0}
	var m mark
	if rec.Success != nil {
		st.SuccessCallback = rec.Success.ID
		if st.SuccessFired, err = c.getJSON(ctx, wire.BatchFiredKey(id, wire.CallbackSuccess), &m); err != nil {
			return nil, err
		}
	}
	if rec.Complete != nil {
		st.CompleteCallback = rec.Complete.ID
		if st.CompleteFired, err = c.getJSON(ctx, wire.BatchFiredKey(id, wire.CallbackComplete), &m); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Batches returns the progress of every batch the flow bucket holds,
// newest first (RecentBatches returns the newest few).
func (c *Client) Batches(ctx context.Context) ([]*BatchStatus, error) {
	out, _, err := c.RecentBatches(ctx, 0)
	return out, err
}

// BatchOf returns the batch the job of info belongs to, if any.
func BatchOf(info *Info) (string, bool) {
	b := info.Header.Get(wire.Batch)
	return b, b != ""
}

// BatchCountsOf returns the final counts a batch callback's job carries,
// and the batch's ID; ok is false for other jobs.
func BatchCountsOf(info *Info) (batch string, counts BatchCounts, ok bool) {
	batch = info.Header.Get(wire.CallbackBatch)
	if batch == "" {
		return "", counts, false
	}
	if err := json.Unmarshal([]byte(info.Header.Get(wire.BatchCounts)), &counts); err != nil {
		return batch, counts, false
	}
	return batch, counts, true
}

// CallbackJobID returns the job ID of a batch's callback, "success" or
// "complete".
func CallbackJobID(batch, callback string) string { return wire.CallbackJobID(batch, callback) }
