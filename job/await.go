package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// stateStore caches a client's handles on the state bucket, looked up at
// first use.
type stateStore struct {
	mu     sync.Mutex
	kv     jetstream.KeyValue
	stream jetstream.Stream
}

// Headers of the key-value protocol that state writes use.
const (
	headerKVOperation     = wire.KVOperation
	headerMarkerReason    = wire.MarkerReason
	headerRollup          = wire.Rollup
	headerExpectedLastSeq = wire.ExpectedLastSubjectSeq
)

// stateClaim is the state record an enqueue wrote before publishing its
// job, to take back if the publish fails.
type stateClaim struct {
	subject string
	rev     uint64
}

// claimState writes the first state record of job id (waiting, or
// scheduled for a delayed job) before msg is published. Without
// UniqueUntilDone it writes only where no record of the ID exists, so
// enqueueing an ID again never resets the record of a job with that ID;
// with it, it refuses an ID whose record is not final (ErrJobActive) and
// gives msg a message ID of its own, so the new job is not taken for a
// duplicate of the finished one.
func (c *Client) claimState(ctx context.Context, msg *nats.Msg, id, kind string, o *options) (*stateClaim, error) {
	if !SupportsState(c.js) {
		return nil, fmt.Errorf("%w (connected to %s); upgrade the server or enqueue without KeepResult", ErrStateUnsupported, c.js.Conn().ConnectedServerVersion())
	}
	sm, err := c.firstState(id, kind, o)
	if err != nil {
		return nil, err
	}
	if !o.untilDone {
		ack, err := c.js.PublishMsg(ctx, sm)
		switch {
		case wrongLastSequence(err):
			return nil, nil // a job with this ID keeps the record; its worker updates it
		case err != nil:
			return nil, c.stateError("record the state of job "+strconv.Quote(id), err)
		}
		return &stateClaim{subject: sm.Subject, rev: ack.Sequence}, nil
	}
	for range claimTries {
		last, active, err := c.lastState(ctx, id)
		if err != nil {
			return nil, err
		}
		if active != nil {
			return nil, fmt.Errorf("%w: job %q is %s (record updated %s); await it (Client.Await) or enqueue it without UniqueUntilDone",
				ErrJobActive, id, active.Status, active.UpdatedAt.Format(time.RFC3339))
		}
		sm.Header[headerExpectedLastSeq] = []string{strconv.FormatUint(last, 10)}
		ack, err := c.js.PublishMsg(ctx, sm)
		if wrongLastSequence(err) {
			continue // another enqueue wrote first: look again
		}
		if err != nil {
			return nil, c.stateError("record the state of job "+strconv.Quote(id), err)
		}
		msg.Header[HeaderMsgID] = []string{id + ":" + strconv.FormatUint(ack.Sequence, 10)}
		return &stateClaim{subject: sm.Subject, rev: ack.Sequence}, nil
	}
	return nil, fmt.Errorf("%w: job %q: its state changed on every one of %d tries; try again", ErrJobActive, id, claimTries)
}

// firstState is the message that records the first state of job id
// (waiting, or scheduled for a delayed job), only where no record of the
// ID exists.
func (c *Client) firstState(id, kind string, o *options) (*nats.Msg, error) {
	now := time.Now().UTC()
	st := &State{ID: id, Status: StatusWaiting, Queue: o.queue, Kind: kind, MaxAttempts: o.maxAttempts, EnqueuedAt: now, UpdatedAt: now}
	if !o.runAt.IsZero() {
		st.Status, st.RunAt = StatusScheduled, wire.CeilSecond(o.runAt).UTC()
	}
	sm, err := c.topo.StateMessage(st, o.keepResult)
	if err != nil {
		return nil, err
	}
	sm.Header[headerExpectedLastSeq] = []string{"0"}
	return sm, nil
}

// claimTries bounds the compare-and-set rounds of UniqueUntilDone.
const claimTries = 10

// release takes back the state record of a job whose publish failed, unless
// it changed since. It is safe on nil.
func (cl *stateClaim) release(c *Client) {
	if cl == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := nats.Header{
		headerKVOperation:     {wire.KVPurge},
		headerRollup:          {wire.RollupSubject},
		headerTTL:             {formatTTL(stateMarkerTTL)},
		headerExpectedLastSeq: {strconv.FormatUint(cl.rev, 10)},
	}
	_, _ = c.js.PublishMsg(ctx, &nats.Msg{Subject: cl.subject, Header: h})
}

// lastState reads the record of job id: the revision to expect when
// writing over it (0 for none), and the record if the job has not
// finished.
func (c *Client) lastState(ctx context.Context, id string) (uint64, *State, error) {
	_, stream, err := c.stateHandles(ctx)
	if err != nil {
		return 0, nil, err
	}
	raw, err := stream.GetLastMsgForSubject(ctx, c.topo.StateSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("jetjobs: read the state of job %q: %w", id, err)
	}
	if raw.Header.Get(headerKVOperation) != "" || raw.Header.Get(headerMarkerReason) != "" {
		return raw.Sequence, nil, nil // deleted or expired
	}
	st, err := decodeState(raw.Data, raw.Sequence)
	if err != nil || st.Status.Final() {
		return raw.Sequence, nil, nil // an unreadable record does not block the ID forever
	}
	return raw.Sequence, st, nil
}

// wrongLastSequence reports a failed compare-and-set.
func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// stateError turns a failure to reach the state bucket into the package's
// errors.
func (c *Client) stateError(what string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w: state bucket %s not found; run EnsureTopology or start a worker (jetjobs 0.x workers create it): %w", ErrNoStream, c.topo.StateBucket, err)
	}
	return fmt.Errorf("jetjobs: %s: %w", what, err)
}

// stateHandles returns the state bucket and its stream, looked up once.
func (c *Client) stateHandles(ctx context.Context) (jetstream.KeyValue, jetstream.Stream, error) {
	c.states.mu.Lock()
	defer c.states.mu.Unlock()
	if c.states.kv != nil {
		return c.states.kv, c.states.stream, nil
	}
	if !SupportsState(c.js) {
		return nil, nil, fmt.Errorf("%w (connected to %s)", ErrStateUnsupported, c.js.Conn().ConnectedServerVersion())
	}
	kv, err := c.js.KeyValue(ctx, c.topo.StateBucket)
	if err != nil {
		return nil, nil, c.stateError("state bucket "+c.topo.StateBucket, err)
	}
	stream, err := c.js.Stream(ctx, wire.KVStream(c.topo.StateBucket))
	if err != nil {
		return nil, nil, c.stateError("state bucket "+c.topo.StateBucket, err)
	}
	c.states.kv, c.states.stream = kv, stream
	return kv, stream, nil
}

// Status returns the state of the job with the given ID.
//
// Errors: ErrJobNotFound when no state is kept for the ID (the job did not
// ask with KeepResult, its record expired, or the ID is wrong),
// ErrNoStream when the state bucket does not exist, ErrStateUnsupported,
// or the connection's error.
func (c *Client) Status(ctx context.Context, id string) (*State, error) {
	if err := validateStateID(id); err != nil {
		return nil, err
	}
	kv, _, err := c.stateHandles(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, SubjectToken(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: job %q (it did not ask to keep its result with KeepResult, its record expired, or the ID is wrong)", ErrJobNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("jetjobs: read the state of job %q: %w", id, err)
	}
	return decodeState(e.Value(), e.Revision())
}

// validateStateID accepts any ID a job can have, foreign ones included.
func validateStateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty job ID", ErrInvalidOption)
	}
	return nil
}

// AwaitOption changes how Await waits.
type AwaitOption func(*awaitOptions)

type awaitOptions struct {
	onUpdate func(*State)
}

// OnProgress calls fn with the job's records before its final one
// (waiting, running with its progress, retrying, ...), in the order they
// were written, on Await's goroutine. The bucket keeps a job's latest
// record only, so one overwritten before it reached the waiter (a running
// record an instant before the attempt failed) is skipped; and progress
// reports are throttled by the worker (see Progress): fn sees the latest
// state, not necessarily every one.
func OnProgress(fn func(*State)) AwaitOption {
	return func(o *awaitOptions) { o.onUpdate = fn }
}

// Await waits until the job with the given ID reaches a final status
// (succeeded, dead, canceled, expired) and returns that state; a job that
// ended before the call returns at once. The server pushes each change of
// the job's record to Await (a key-value watch): nothing is polled. A job
// that did not succeed is not an error of Await's: see State.Err, or use
// AwaitResult.
//
// An ID with no record yet is waited for (a job enqueued later, by another
// process, may still create it) until ctx ends. Errors: ctx's error,
// ErrJobNotFound when the record expired or was deleted before the job
// finished, ErrNoStream, ErrStateUnsupported, or the connection's error.
func (c *Client) Await(ctx context.Context, id string, opts ...AwaitOption) (*State, error) {
	if err := validateStateID(id); err != nil {
		return nil, err
	}
	var o awaitOptions
	for _, opt := range opts {
		opt(&o)
	}
	_, stream, err := c.stateHandles(ctx)
	if err != nil {
		return nil, err
	}
	w, err := watchState(ctx, stream, c.topo.StateSubject(id))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("jetjobs: await job %q: %w", id, ctx.Err())
		}
		return nil, fmt.Errorf("jetjobs: watch the state of job %q: %w", id, err)
	}
	defer w.stop()
	seen := false
	for {
		select {
		case <-ctx.Done():
			if !seen {
				return nil, fmt.Errorf("jetjobs: await job %q: no state recorded for it (was it enqueued with KeepResult, or its kind registered with worker.WithKeepResult?): %w", id, ctx.Err())
			}
			return nil, fmt.Errorf("jetjobs: await job %q: %w", id, ctx.Err())
		case m := <-w.updates:
			if m.Headers().Get(headerKVOperation) != "" || m.Headers().Get(headerMarkerReason) != "" {
				return nil, fmt.Errorf("%w: job %q: its record expired or was deleted before the job finished", ErrJobNotFound, id)
			}
			seen = true
			var rev uint64
			if meta, err := m.Metadata(); err == nil {
				rev = meta.Sequence.Stream
			}
			st, err := decodeState(m.Data(), rev)
			if err != nil {
				return nil, err
			}
			if st.Status.Final() {
				return st, nil
			}
			if o.onUpdate != nil {
				o.onUpdate(st)
			}
		}
	}
}

// stateWatch delivers the record on one state subject and every later
// one, pushed by the server through an ordered consumer, which the client
// recreates where it left off after a reconnect or a server restart.
type stateWatch struct {
	stream  jetstream.Stream
	cons    jetstream.Consumer
	updates chan jetstream.Msg
	done    chan struct{}
	cc      jetstream.ConsumeContext
}

// watchInactive is how long the server keeps a waiter's consumer after
// the waiter went away without deleting it (a lost connection).
const watchInactive = time.Minute

func watchState(ctx context.Context, stream jetstream.Stream, subject string) (*stateWatch, error) {
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subject},
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: watchInactive,
	})
	if err != nil {
		return nil, err
	}
	w := &stateWatch{stream: stream, cons: cons, updates: make(chan jetstream.Msg), done: make(chan struct{})}
	w.cc, err = cons.Consume(func(m jetstream.Msg) {
		select {
		case w.updates <- m:
		case <-w.done:
		}
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// stop ends the watch, waits until its callback can no longer run, and
// deletes its consumer: a server keeps a limited number of consumers per
// stream, and many waiters must not leave theirs behind.
func (w *stateWatch) stop() {
	close(w.done)
	w.cc.Stop()
	<-w.cc.Closed()
	if info := w.cons.CachedInfo(); info != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = w.stream.DeleteConsumer(ctx, info.Name)
		cancel()
	}
}

// EnqueueAndAwait enqueues r keeping its result (for DefaultKeepResult
// unless r's options say otherwise with KeepResult) and awaits it; see
// Enqueue and Await.
func (c *Client) EnqueueAndAwait(ctx context.Context, r Request, opts ...AwaitOption) (*State, error) {
	jobOpts := append([]Option{KeepResult(DefaultKeepResult)}, r.Options...)
	res, err := c.Enqueue(ctx, r.Kind, r.Args, jobOpts...)
	if err != nil {
		return nil, err
	}
	return c.Await(ctx, res.ID, opts...)
}

// ResultOf decodes the result of a job that succeeded into R. For a job
// that ended otherwise it returns st.Err() (a *JobError); for one not
// finished, an error saying so.
func ResultOf[R any](st *State) (R, error) {
	var r R
	if err := st.Err(); err != nil {
		return r, err
	}
	if st.Status != StatusSucceeded {
		return r, fmt.Errorf("jetjobs: job %q has not finished (status %s); Await it", st.ID, st.Status)
	}
	if len(st.Result) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(st.Result, &r); err != nil {
		return r, fmt.Errorf("%w: the result of job %q does not decode into %T: %w", ErrDecode, st.ID, r, err)
	}
	return r, nil
}

// AwaitResult awaits the job with the given ID (see Client.Await) and
// decodes its result into R. A job that did not succeed returns a
// *JobError.
func AwaitResult[R any](ctx context.Context, c *Client, id string, opts ...AwaitOption) (R, error) {
	st, err := c.Await(ctx, id, opts...)
	if err != nil {
		var zero R
		return zero, err
	}
	return ResultOf[R](st)
}

// EnqueueAndAwaitResult is EnqueueAndAwait with the result decoded into R.
func EnqueueAndAwaitResult[R any](ctx context.Context, c *Client, r Request, opts ...AwaitOption) (R, error) {
	st, err := c.EnqueueAndAwait(ctx, r, opts...)
	if err != nil {
		var zero R
		return zero, err
	}
	return ResultOf[R](st)
}

// recordUnscheduled records that the job id, waiting for its time and
// removed by Cancel, is canceled, if it keeps a state that is not final: no
// worker will see it to do so. It is best effort, as the cancel stands
// without it.
func (c *Client) recordUnscheduled(ctx context.Context, id string) {
	if !SupportsState(c.js) {
		return
	}
	_, stream, err := c.stateHandles(ctx)
	if err != nil {
		return
	}
	raw, err := stream.GetLastMsgForSubject(ctx, c.topo.StateSubject(id))
	if err != nil || raw.Header.Get(headerKVOperation) != "" || raw.Header.Get(headerMarkerReason) != "" {
		return
	}
	st, err := decodeState(raw.Data, raw.Sequence)
	if err != nil || st.Status.Final() {
		return
	}
	ttl, err := time.ParseDuration(raw.Header.Get(headerTTL))
	if err != nil {
		ttl = DefaultKeepResult
	}
	now := time.Now().UTC()
	st.Status, st.Reason, st.Error = StatusCanceled, ReasonCanceled, "canceled before it was due (Client.Cancel)"
	st.UpdatedAt, st.FinishedAt = now, now
	sm, err := c.topo.StateMessage(st, ttl)
	if err != nil {
		return
	}
	sm.Header[headerExpectedLastSeq] = []string{strconv.FormatUint(raw.Sequence, 10)}
	_, _ = c.js.PublishMsg(ctx, sm)
}
