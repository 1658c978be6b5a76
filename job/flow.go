package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/internal/wire"
)

// The primitives batches and workflows are built of. Every step that
// advances one is idempotent: a counter increment carries a message ID
// naming what it counts (the counter stream drops a repeat within its
// duplicate window), a job a flow enqueues has a deterministic ID (the work
// stream drops a repeat) and a marker created once (KV Create) that says it
// was enqueued, beyond the window. A worker that dies anywhere in the step
// leaves the job unacknowledged; its redelivery repeats the step.

// storedMsg is a job message kept in the flow bucket until a flow enqueues
// it (a batch's callback, a workflow's task): built and validated when the
// flow was created.
type storedMsg struct {
	ID      string              `json:"id"`
	Subject string              `json:"subject"`
	Header  map[string][]string `json:"header,omitempty"`
	Data    json.RawMessage     `json:"data,omitempty"`
}

func storeMsg(id string, m *nats.Msg) *storedMsg {
	return &storedMsg{ID: id, Subject: m.Subject, Header: m.Header, Data: m.Data}
}

// message returns the job message to publish now.
func (s *storedMsg) message() *nats.Msg {
	h := make(nats.Header, len(s.Header)+1)
	for k, v := range s.Header {
		h[k] = v
	}
	h[wire.EnqueuedAt] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	return &nats.Msg{Subject: s.Subject, Header: h, Data: s.Data}
}

// counterValue is the payload of a counter stream message.
type counterValue struct {
	Value string `json:"val"`
}

// incr adds delta to the counter on subject, as the step named msgID, and
// returns the counter's value after it. A repeat of the step (the counter
// stream has msgID within its duplicate window) adds nothing and returns
// the counter's current value.
func (c *Client) incr(ctx context.Context, subject string, delta int64, msgID string) (int64, error) {
	if _, _, err := c.flowHandles(ctx); err != nil {
		return 0, err
	}
	m := nats.NewMsg(subject)
	m.Header[wire.Incr] = []string{strconv.FormatInt(delta, 10)}
	m.Header[wire.MsgID] = []string{msgID}
	ack, err := c.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("jetjobs: count %s: %w", subject, err)
	}
	if ack.Duplicate || ack.Value == "" {
		return c.counter(ctx, subject)
	}
	return parseCounter(subject, ack.Value)
}

// incrAll is incr for many counters at once, pipelined; values[i] is
// counter i's value after its increment.
func (c *Client) incrAll(ctx context.Context, subjects []string, delta int64, msgIDs []string) ([]int64, error) {
	if _, _, err := c.flowHandles(ctx); err != nil {
		return nil, err
	}
	values := make([]int64, len(subjects))
	futures := make([]jetstream.PubAckFuture, 0, min(len(subjects), enqueueWindow))
	start := 0
	flush := func() error {
		for k, f := range futures {
			i := start + k
			select {
			case ack := <-f.Ok():
				if ack.Duplicate || ack.Value == "" {
					v, err := c.counter(ctx, subjects[i])
					if err != nil {
						return err
					}
					values[i] = v
					continue
				}
				v, err := parseCounter(subjects[i], ack.Value)
				if err != nil {
					return err
				}
				values[i] = v
			case err := <-f.Err():
				return fmt.Errorf("jetjobs: count %s: %w", subjects[i], err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		start += len(futures)
		futures = futures[:0]
		return nil
	}
	for i, subject := range subjects {
		m := nats.NewMsg(subject)
		m.Header[wire.Incr] = []string{strconv.FormatInt(delta, 10)}
		m.Header[wire.MsgID] = []string{msgIDs[i]}
		f, err := c.js.PublishMsgAsync(m, enqueueStallWait)
		if err != nil {
			return nil, fmt.Errorf("jetjobs: count %s: %w", subject, err)
		}
		futures = append(futures, f)
		if len(futures) == cap(futures) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	return values, flush()
}

func parseCounter(subject, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("jetjobs: counter %s holds %q, not a number", subject, v)
	}
	return n, nil
}

// counter reads the counter on subject; a counter never written is 0.
func (c *Client) counter(ctx context.Context, subject string) (int64, error) {
	_, s, err := c.flowHandles(ctx)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("jetjobs: read counter %s: %w", subject, err)
	}
	var v counterValue
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return 0, fmt.Errorf("jetjobs: counter %s does not decode: %w", subject, err)
	}
	return parseCounter(subject, v.Value)
}

// getJSON reads key of the flow bucket into v; found is false if the key
// does not exist.
func (c *Client) getJSON(ctx context.Context, key string, v any) (found bool, err error) {
	kv, _, err := c.flowHandles(ctx)
	if err != nil {
		return false, err
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jetjobs: read %s of flow bucket %s: %w", key, c.topo.FlowBucket, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("jetjobs: %s of flow bucket %s does not decode: %w", key, c.topo.FlowBucket, err)
	}
	return true, nil
}

// createJSON creates key with v; created is false if the key exists.
func (c *Client) createJSON(ctx context.Context, key string, v any) (created bool, err error) {
	kv, _, err := c.flowHandles(ctx)
	if err != nil {
		return false, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("jetjobs: encode %s: %w", key, err)
	}
	_, err = kv.Create(ctx, key, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("jetjobs: create %s in flow bucket %s: %w", key, c.topo.FlowBucket, err)
	}
	return true, nil
}

// putJSON writes key with v.
func (c *Client) putJSON(ctx context.Context, key string, v any) error {
	kv, _, err := c.flowHandles(ctx)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("jetjobs: encode %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("jetjobs: write %s in flow bucket %s: %w", key, c.topo.FlowBucket, err)
	}
	return nil
}

// mark is a marker of the flow bucket: that a job was enqueued (or a task
// canceled), and when.
type mark struct {
	Status Status    `json:"status"` // StatusWaiting for enqueued, or StatusCanceled
	Cause  string    `json:"cause,omitempty"`
	At     time.Time `json:"at"`
}

// enqueueOnce publishes m unless the marker markKey says it was enqueued,
// then creates the marker. Concurrent or repeated calls publish it once:
// within the duplicate window the work stream drops a second copy (its
// message ID is the job's ID), beyond it the marker stops it. It returns
// the marker that won: enqueued, or one another party created first (a
// canceled task).
func (c *Client) enqueueOnce(ctx context.Context, m *storedMsg, markKey string, extra nats.Header) (mark, error) {
	var have mark
	found, err := c.getJSON(ctx, markKey, &have)
	if err != nil || found {
		return have, err
	}
	msg := m.message()
	for k, v := range extra {
		msg.Header[k] = v
	}
	msg.Header[wire.MsgID] = []string{m.ID}
	ack, err := c.js.PublishMsg(ctx, msg)
	if err != nil {
		return mark{}, c.publishError(msg, err)
	}
	if err := c.storedIn(msg, ack.Stream); err != nil {
		return mark{}, err
	}
	want := mark{Status: StatusWaiting, At: time.Now().UTC()}
	created, err := c.createJSON(ctx, markKey, want)
	if err != nil || created {
		return want, err
	}
	found, err = c.getJSON(ctx, markKey, &have)
	if err == nil && !found {
		err = fmt.Errorf("jetjobs: marker %s vanished", markKey)
	}
	return have, err
}

// settledMark records that the flow step of a job's delivery is done.
type settledMark struct {
	Seq    uint64 `json:"seq"`
	Status Status `json:"status"`
}

// settledKey is the key of the settled marker of the job of info.
func settledKey(info *Info) string {
	return wire.SettledKey(info.Header.Get(wire.Batch), info.Header.Get(wire.Workflow), SubjectToken(info.ID))
}

// InFlow reports whether the job of info belongs to a batch or workflow:
// whether its worker calls FlowSettled and SettleFlow.
func InFlow(info *Info) bool {
	if len(info.Header) == 0 {
		return false
	}
	return info.Header[wire.Batch] != nil || info.Header[wire.Workflow] != nil
}

// FlowSettled reports whether the flow step of this delivery of the job of
// info (a job InFlow) was done already: a worker settled it and died before
// the server had its acknowledgement. The worker then acknowledges it
// without running it again. A job that succeeded once is settled for any
// later copy of it (one published again beyond the duplicate window).
//
// Worker pools call it; applications do not.
func (c *Client) FlowSettled(ctx context.Context, info *Info) (bool, error) {
	var have settledMark
	found, err := c.getJSON(ctx, settledKey(info), &have)
	if err != nil || !found {
		return false, err
	}
	return have.Seq == info.Seq || have.Status == StatusSucceeded, nil
}

// SettleFlow advances the batch and workflow of the job of info (a job
// InFlow) that ended with status (succeeded, dead, canceled or expired):
// counts it in its batch and enqueues the batch's callbacks if it was the
// last; enqueues the workflow's tasks that became ready, or cancels those
// that cannot run now. Then it records that the step is done
// (FlowSettled). A worker calls it after the job's final state and dead
// letter are stored and before the job is acknowledged or terminated; if
// it fails, the worker must leave the job to be delivered again, which
// repeats the step.
//
// Worker pools call it; applications do not.
func (c *Client) SettleFlow(ctx context.Context, info *Info, status Status) error {
	if b := info.Header.Get(wire.Batch); b != "" {
		if err := c.settleBatchJob(ctx, b, info, status); err != nil {
			return err
		}
	}
	if wf := info.Header.Get(wire.Workflow); wf != "" {
		if err := c.settleTask(ctx, wf, info.Header.Get(wire.Task), info, status); err != nil {
			return err
		}
	}
	if err := c.putJSON(ctx, settledKey(info), settledMark{Seq: info.Seq, Status: status}); err != nil {
		return err
	}
	faultpoint.Reach(faultpoint.AfterFlow, info.ID)
	return nil
}

// FlowAttemptFailed counts a failed attempt of a job of a batch (its
// batch's "failed" count: jobs with at least one failed attempt). It does
// not wait for the server.
//
// Worker pools call it; applications do not.
func (c *Client) FlowAttemptFailed(info *Info) {
	b := info.Header.Get(wire.Batch)
	if b == "" {
		return
	}
	m := nats.NewMsg(wire.BatchCounterSubject(c.topo.CounterPrefix, b, wire.CounterFailed))
	m.Header[wire.Incr] = []string{"1"}
	m.Header[wire.MsgID] = []string{wire.BatchEndID(b, info.ID, wire.CounterFailed)}
	_ = c.js.Conn().PublishMsg(m)
}

// validateFlowID checks a batch, workflow or task name: one subject token.
func validateFlowID(what, id string) error {
	if id == "" || len(id) > 128 || wire.InvalidTokenChar(id) >= 0 {
		return fmt.Errorf("%w: %s %q: use 1 to 128 characters of A-Z a-z 0-9 _ -", ErrInvalidOption, what, clip(id))
	}
	return nil
}
