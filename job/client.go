package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// ClientConfig configures a Client. The zero value enqueues into the default
// namespace and queue.
type ClientConfig struct {
	// Topology names the streams; its zero value is the default namespace.
	Topology Topology
	// Queue is the queue for jobs enqueued without the Queue option;
	// default "default".
	Queue string
	// BeforePublish, if set, is called with the enqueue's context and each
	// job message just before it is published: the place to inject trace
	// context or add headers. It must not change the subject.
	BeforePublish func(ctx context.Context, msg *nats.Msg)
}

// Client enqueues jobs. It is safe for concurrent use.
type Client struct {
	states stateStore
	flows  flowStore
	js     jetstream.JetStream
	topo   Topology // with defaults
	asked  Topology // as configured: what EnsureTopology applies
	queue  string
	before func(context.Context, *nats.Msg)
	pub    *publisher // EnqueueMany's publishes and their acknowledgements
}

// NewClient returns a client that enqueues through js. It does no I/O: call
// EnsureTopology (or start a worker pool) before the first enqueue if the
// streams may not exist yet.
func NewClient(js jetstream.JetStream, cfg ClientConfig) (*Client, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: NewClient needs a jetstream.JetStream", ErrInvalidOption)
	}
	if err := cfg.Topology.Validate(); err != nil {
		return nil, err
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if err := ValidateQueue(cfg.Queue); err != nil {
		return nil, fmt.Errorf("ClientConfig.Queue: %w", err)
	}
	return &Client{js: js, topo: cfg.Topology.WithDefaults(), asked: cfg.Topology, queue: cfg.Queue, before: cfg.BeforePublish, pub: &publisher{nc: js.Conn()}}, nil
}

// Topology returns the client's topology with defaults applied.
func (c *Client) Topology() Topology { return c.topo }

// JetStream returns the JetStream context the client publishes through.
func (c *Client) JetStream() jetstream.JetStream { return c.js }

// EnsureTopology creates or checks the streams; see Topology.Ensure.
func (c *Client) EnsureTopology(ctx context.Context) error { return c.asked.Ensure(ctx, c.js) }

// Result is the outcome of enqueueing one job.
type Result struct {
	// ID is the job's ID. A job enqueued with neither an ID of its own
	// (ID, Unique) nor any other option, and no BeforePublish hook, goes
	// without headers and is known by its place in the work stream:
	// "<stream>-<sequence>", such as "JOBS-1765033200000017" (a new work
	// stream's sequences start at its creation time in microseconds, so a
	// stream made again never repeats an ID). Its ID is set once the server
	// stored it; EnqueueMany leaves it empty for a job that was not.
	ID string
	// Seq is the job's sequence in the work stream (for a scheduled job, the
	// schedule message's sequence).
	Seq uint64
	// Duplicate is true when a job with the same ID was already stored within
	// the duplicate window; nothing new was stored.
	Duplicate bool
	// Err is set by EnqueueMany for a job that was not enqueued.
	Err error
}

// Enqueue stores one job of kind with args (encoded as JSON; nil means no
// arguments, []byte and json.RawMessage are sent as they are). It returns
// after the server acknowledged the job.
//
// Errors: ErrInvalidName, ErrInvalidOption, ErrEncode, ErrPayloadTooLarge
// (nothing was published), ErrQueueFull, ErrStorageFull, ErrNoStream,
// ErrSchedulingUnsupported, the connection's error, or ErrTopologyMismatch
// when the server stored the job in a stream other than the topology's
// (another stream owns the subject prefix; Result then has its sequence).
// A job that keeps its result (KeepResult) can also fail with
// ErrStateUnsupported, ErrNoStream (no state bucket), and with
// UniqueUntilDone ErrJobActive (Result.Duplicate is then true).
func (c *Client) Enqueue(ctx context.Context, kind string, args any, opts ...Option) (Result, error) {
	msg, id, o, err := c.message(kind, args, opts)
	if err != nil {
		return Result{}, err
	}
	if c.before != nil {
		c.before(ctx, msg)
	}
	id = c.plain(msg, id, o)
	return c.publish(ctx, msg, id, kind, o)
}

// plain drops the headers of msg, a job enqueued with o and the ID id, if
// the job needs none: a job of kind and arguments alone, whose ID nobody
// chose. It is then known by its stream sequence (JOBS-<seq>, the ID the
// protocol gives a job without an ID header, docs/protocol.md), which its
// Result carries once the server stored it; plain returns "" for it and
// id otherwise. A job without headers costs the server about a fifth less
// to store and deliver, and the worker a header map less to parse
// (docs/performance.md). A BeforePublish hook may read or add headers, so
// its jobs keep theirs.
func (c *Client) plain(msg *nats.Msg, id string, o *options) string {
	if o.id != "" || o.unique || c.before != nil || len(msg.Header) != 1 || msg.Header.Get(HeaderID) != id {
		return id
	}
	msg.Header = nil
	return ""
}

// sequenceID is the ID of a job stored without an ID header.
func sequenceID(stream string, seq uint64) string { return wire.IDOf(nil, stream, seq) }

// publish stores msg, the job id of kind enqueued with o, after its state
// when it keeps one.
func (c *Client) publish(ctx context.Context, msg *nats.Msg, id, kind string, o *options) (Result, error) {
	var (
		claim *stateClaim
		err   error
	)
	if o.keepResult > 0 {
		if claim, err = c.claimState(ctx, msg, id, kind, o); err != nil {
			return Result{ID: id, Duplicate: errors.Is(err, ErrJobActive)}, err
		}
	}
	ack, err := c.js.PublishMsg(ctx, msg)
	if err != nil {
		claim.release(c)
		return Result{ID: id}, c.publishError(msg, err)
	}
	if id == "" {
		id = sequenceID(ack.Stream, ack.Sequence)
	}
	return Result{ID: id, Seq: ack.Sequence, Duplicate: ack.Duplicate}, c.storedIn(msg, ack.Stream)
}

// storedIn reports an ErrTopologyMismatch when the server stored msg in a
// stream other than the one this client's topology names for it: another
// stream owns the subject prefix, so workers of this topology would never
// see the job.
func (c *Client) storedIn(msg *nats.Msg, stream string) error {
	if stream == c.topo.Stream || stream == "" {
		return nil
	}
	want := c.topo.Stream
	if msg.Header.Get(wire.ScheduleSpec) != "" {
		if stream == c.topo.ScheduleStream {
			return nil
		}
		want = c.topo.ScheduleStream
	}
	return fmt.Errorf("%w: the job was stored in stream %s, not %s: subject %s belongs to %s; give the client the subject prefix of %s (Topology.Prefix together with Topology.Stream), or use stream %s",
		ErrTopologyMismatch, stream, want, msg.Subject, stream, want, stream)
}

// EnqueueArgs is Enqueue with the kind taken from args.Kind().
func (c *Client) EnqueueArgs(ctx context.Context, args Args, opts ...Option) (Result, error) {
	return c.Enqueue(ctx, args.Kind(), args, opts...)
}

// Request is one job for EnqueueMany.
type Request struct {
	Kind    string
	Args    any
	Options []Option
}

// enqueueStallWait lets an asynchronous enqueue wait for room in the
// JetStream context's window of unacknowledged publishes (made once: the
// option allocates).
var enqueueStallWait = jetstream.WithStallWait(5 * time.Second)

// EnqueueMany validates, encodes and publishes the jobs one after another,
// pipelined (each published without waiting for the server, the
// acknowledgements awaited together), and returns one Result per request,
// in order. A request that fails validation has Err set and is not
// published; the others still are. The returned error is ctx's error if
// ctx ended before every acknowledgement arrived (their Results then carry
// it too). A connection lost on the way (nats.ErrDisconnected,
// nats.ErrConnectionClosed) is reported in the Result of each job not
// acknowledged, which may or may not have been stored, and of each job
// not published after it; the returned error is then nil.
func (c *Client) EnqueueMany(ctx context.Context, reqs []Request) ([]Result, error) {
	results := make([]Result, len(reqs))
	pl := c.newPipeline(ctx, results)
	for i, r := range reqs {
		if err := pl.room(i); err != nil {
			results[i] = Result{Err: notPublished(err)}
			continue
		}
		msg, id, o, err := c.message(r.Kind, r.Args, r.Options)
		results[i] = Result{ID: id, Err: err}
		if err != nil {
			continue
		}
		if c.before != nil {
			c.before(ctx, msg)
		}
		if o.untilDone {
			// The compare-and-set on the job's state decides whether it
			// is published: one at a time.
			results[i], results[i].Err = c.publish(ctx, msg, id, r.Kind, o)
			continue
		}
		if o.keepResult > 0 {
			// The first state goes out just before its job, on the same
			// connection, so the server stores it first. If it fails (no
			// state bucket, a record of the ID exists) the job still runs;
			// its worker records the later states.
			if !SupportsState(c.js) {
				results[i].Err = fmt.Errorf("%w (connected to %s); upgrade the server or enqueue without KeepResult", ErrStateUnsupported, c.js.Conn().ConnectedServerVersion())
				continue
			}
			sm, err := c.firstState(id, r.Kind, o)
			if err == nil {
				_, err = c.js.PublishMsgAsync(sm, enqueueStallWait)
			}
			if err != nil {
				results[i].Err = c.stateError("record the state of job "+strconv.Quote(id), err)
				continue
			}
		}
		if msg.Header.Get(wire.ScheduleSpec) != "" {
			// Schedules are rare; publish them synchronously for a clear error.
			ack, err := c.js.PublishMsg(ctx, msg)
			if err != nil {
				results[i].Err = c.publishError(msg, err)
			} else {
				results[i].Seq, results[i].Duplicate = ack.Sequence, ack.Duplicate
				results[i].Err = c.storedIn(msg, ack.Stream)
			}
			continue
		}
		results[i].ID = c.plain(msg, id, o)
		pl.publish(i, msg)
	}
	return results, pl.finish()
}

// notPublished is the error of a job EnqueueMany did not publish because
// of err, met earlier in the call.
func notPublished(err error) error {
	if connectionLost(err) {
		return fmt.Errorf("jetjobs: not enqueued: the connection was lost earlier in the batch: %w", err)
	}
	return err
}

// enqueueWindow bounds the publishes EnqueueMany has outstanding at once.
const enqueueWindow = 1024

// Message builds the message Enqueue would publish, validated, and returns
// it with the job's ID. It is exported for tools that publish themselves
// (benchmarks, bridges); most code calls Enqueue.
func (c *Client) Message(kind string, args any, opts ...Option) (*nats.Msg, string, error) {
	msg, id, _, err := c.message(kind, args, opts)
	return msg, id, err
}

// message is Message, returning the options too.
func (c *Client) message(kind string, args any, opts []Option) (*nats.Msg, string, *options, error) {
	o := &options{queue: c.queue}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, "", nil, err
		}
	}
	msg, id, err := c.build(kind, args, o)
	return msg, id, o, err
}

func (c *Client) build(kind string, args any, o *options) (*nats.Msg, string, error) {
	if err := ValidateKind(kind); err != nil {
		return nil, "", err
	}
	data, err := encodeArgs(args)
	if err != nil {
		return nil, "", fmt.Errorf("%w: kind %s: %w", ErrEncode, kind, err)
	}
	if err := o.check(); err != nil {
		return nil, "", err
	}
	id := o.id
	switch {
	case o.unique:
		id = o.uniqueID(kind, data)
	case id == "":
		id = nuid.Next()
	}
	// A generated ID is new to the server by construction, and the client
	// never publishes a job twice: deduplication could only ever compare it
	// with nothing, and it costs the server a table entry per job (about a
	// third of what a plain job costs it to store, docs/performance.md). An
	// ID the caller chose (ID, Unique) is deduplicated, so a job enqueued
	// again with it within the stream's duplicate window is stored once.
	dedupe := o.id != "" || o.unique
	subject := o.subject(c.topo.Prefix, kind)
	msg := &nats.Msg{Subject: subject, Data: data, Header: make(nats.Header, 6+len(o.header))}
	// hdr counts the header bytes as they are set, for the size check
	// (iterating the map afterwards cost a tenth of the enqueue's CPU).
	hdr := headerSize(o.header)
	for k, v := range o.header {
		msg.Header[k] = v
	}
	set := func(k, v string) {
		msg.Header[k] = []string{v}
		hdr += len(k) + len(v) + 4
	}
	// The headers a job has share one backing array: one allocation
	// instead of one per header. The enqueue time is the stream's own
	// timestamp of the message, which readers take when the header is
	// absent; only a delayed job, stored again when it fires, says when it
	// was enqueued.
	vals := [3]string{id}
	common := vals[:1:1]
	msg.Header[HeaderID] = common
	hdr += len(HeaderID) + len(id) + 4
	if !o.runAt.IsZero() {
		vals[1] = time.Now().UTC().Format(time.RFC3339Nano)
		msg.Header[HeaderEnqueuedAt] = vals[1:2:2]
		hdr += len(HeaderEnqueuedAt) + len(vals[1]) + 4
	}
	if dedupe {
		vals[2] = id
		msg.Header[HeaderMsgID] = vals[2:3:3]
		hdr += len(HeaderMsgID) + len(id) + 4
	}
	if o.maxAttempts > 0 {
		set(HeaderMaxAttempts, strconv.Itoa(o.maxAttempts))
	}
	if o.untilDone && o.keepResult == 0 {
		o.keepResult = DefaultKeepResult
	}
	if o.keepResult > 0 {
		set(HeaderKeepResult, o.keepResult.String())
	}
	if o.timeout > 0 {
		set(HeaderTimeout, o.timeout.String())
	}
	if !o.deadline.IsZero() {
		set(HeaderDeadline, o.deadline.UTC().Format(time.RFC3339Nano))
	}
	if !o.runAt.IsZero() {
		if !SupportsSchedules(c.js, false) {
			return nil, "", fmt.Errorf("%w: delayed jobs need nats-server 2.12 or newer (connected to %s)", ErrSchedulingUnsupported, c.js.Conn().ConnectedServerVersion())
		}
		// The schedule waits in the schedule stream; at its time the server
		// fires a copy, headers included, to the fire subject, and worker
		// pools move it into the work stream. Nats-Msg-Id dedupes the
		// schedule itself.
		set(wire.ScheduleSpec, ScheduleAt(o.runAt))
		set(wire.ScheduleTarget, c.topo.FireSubject(o.queue, kind))
		msg.Subject = c.topo.AtSubject(id)
	}
	if err := c.checkSize(len(msg.Subject) + len(msg.Data) + hdr); err != nil {
		return nil, "", err
	}
	return msg, id, nil
}

func encodeArgs(args any) ([]byte, error) {
	switch a := args.(type) {
	case nil:
		return nil, nil
	case []byte:
		if len(a) > 0 && !json.Valid(a) {
			return nil, errors.New("raw payload is not valid JSON")
		}
		return a, nil
	case json.RawMessage:
		if len(a) > 0 && !json.Valid(a) {
			return nil, errors.New("raw payload is not valid JSON")
		}
		return a, nil
	default:
		return json.Marshal(args)
	}
}

// headerSize is the bytes h takes on the wire, near enough for checkSize.
func headerSize(h nats.Header) int {
	size := 0
	for k, vs := range h {
		for _, v := range vs {
			size += len(k) + len(v) + 4
		}
	}
	return size
}

// checkSize refuses a message of size bytes (subject, headers and data)
// that the stream or the server would refuse, or that could not be
// dead-lettered: a dead letter carries the job with up to
// deadLetterHeadroom bytes of headers more, and the server's max_payload
// limits it (the dead-letter stream sets no size limit of its own).
func (c *Client) checkSize(size int) error {
	if limit := int(c.topo.MaxMsgSize); limit > 0 && size > limit {
		return fmt.Errorf("%w: %d bytes exceeds the stream's MaxMsgSize of %d bytes; shrink the arguments (store large data elsewhere and pass a reference) or raise Topology.MaxMsgSize", ErrPayloadTooLarge, size, limit)
	}
	if limit := c.js.Conn().MaxPayload(); limit > 0 && int64(size+deadLetterHeadroom) > limit {
		return fmt.Errorf("%w: %d bytes exceeds the server's max_payload of %d bytes less the %d a dead letter of the job adds; shrink the arguments or raise max_payload", ErrPayloadTooLarge, size, limit, deadLetterHeadroom)
	}
	return nil
}

const deadLetterHeadroom = wire.DeadLetterHeadroom

// publishError turns a publish failure into the package's errors.
func (c *Client) publishError(msg *nats.Msg, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders)) && strings.HasPrefix(msg.Subject, c.topo.SchedulePrefix+"."):
		return fmt.Errorf("%w: schedule stream %s not found; run EnsureTopology (or start a worker) against nats-server 2.12 or newer: %w", ErrSchedulingUnsupported, c.topo.ScheduleStream, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w (stream %s, subject %s): %w", ErrNoStream, c.topo.Stream, msg.Subject, err)
	case errors.Is(err, jetstream.ErrMessageSchedulesDisabled):
		return fmt.Errorf("%w: stream %s does not allow message schedules; run EnsureTopology against nats-server 2.12 or newer: %w", ErrSchedulingUnsupported, c.topo.ScheduleStream, err)
	case errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fmt.Errorf("%w: the stream refused it: %w", ErrPayloadTooLarge, err)
	case errors.As(err, &apiErr) && isStreamFull(apiErr):
		return fmt.Errorf("%w: stream %s refused the job (%s); wait for workers to drain it or raise Topology.MaxMsgs/MaxBytes: %w", ErrQueueFull, c.topo.Stream, apiErr.Description, err)
	case errors.As(err, &apiErr) && isStorageFull(apiErr):
		return fmt.Errorf("%w: stream %s refused the job (%s); wait for workers to drain the queue, or free disk space or raise the server's max_file_store (or the account's storage limit): %w", ErrStorageFull, c.topo.Stream, apiErr.Description, err)
	}
	return fmt.Errorf("jetjobs: enqueue to %s: %w", msg.Subject, err)
}

// isStreamFull reports whether a publish was refused because a DiscardNew
// stream reached a limit. The server reports this as a generic store failure
// (10077); the description is the only thing that tells the limits apart.
func isStreamFull(e *jetstream.APIError) bool {
	if e.ErrorCode != 10077 {
		return false
	}
	switch e.Description {
	case "maximum messages exceeded", "maximum bytes exceeded", "maximum messages per subject exceeded":
		return true
	}
	return false
}

// JetStream error codes of a server or account out of storage (nats.go has
// no constants for them).
const (
	errCodeInsufficientResources    jetstream.ErrorCode = 10023 // the server's JetStream storage is used up
	errCodeAccountResourcesExceeded jetstream.ErrorCode = 10002 // the account's storage limit is reached
	errCodeStorageResourcesExceeded jetstream.ErrorCode = 10047
)

// isStorageFull reports whether a publish was refused because the server or
// the account has no storage left for it.
func isStorageFull(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case errCodeInsufficientResources, errCodeAccountResourcesExceeded, errCodeStorageResourcesExceeded:
		return true
	}
	return false
}

// UniqueID is the job ID the Unique option derives: a hash of queue, kind
// and encoded arguments.
func UniqueID(queue, kind string, payload []byte) string {
	h := sha256.New()
	h.Write([]byte(queue))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(payload)
	return "u-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// SubjectToken returns id if it is a valid subject token of at most 256
// characters (every ID the Go client accepts), else a hash of it, so any job
// ID, a foreign publisher's too, can name a subject.
func SubjectToken(id string) string { return wire.SubjectToken(id) }

// ScheduleAt returns the Nats-Schedule value that fires at t: "@at" and t
// rounded up to a whole second in RFC 3339.
func ScheduleAt(t time.Time) string { return wire.ScheduleAt(t) }
