package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/replies"
	"github.com/jetjobs/jetjobs/internal/wire"
)

// publisher publishes jobs without waiting for each acknowledgement and
// matches the server's acknowledgements to them itself, for EnqueueMany.
// What nats.go's asynchronous publish does per message — an options value,
// a new reply subject, a map entry, a future with its channels, and a JSON
// decode of the acknowledgement — came to a third of the enqueue's CPU
// (docs/performance.md). Here a client has one subscription for all its
// acknowledgements, a reply subject per token made once and reused, and
// the acknowledgement the server sends for a stored job, always of one
// form, is read without encoding/json (anything else is decoded in full).
type publisher struct {
	nc *nats.Conn

	mu      sync.Mutex
	sub     *nats.Subscription
	pending *replies.Tokens[pubSlot] // publishes awaiting acknowledgement
}

// pubSlot is the publish a token stands for: index i of window w.
type pubSlot struct {
	w *pubWindow
	i int
}

// pubWindow is the publishes of one EnqueueMany call awaiting their
// acknowledgements.
type pubWindow struct {
	acks []pubAck // by request index
	mu   sync.Mutex
	wake chan struct{} // signaled by each acknowledgement
	// The connection's reconnects when the window began: after another,
	// acknowledgements still awaited are lost.
	reconnects uint64
}

// pubAck is the server's answer to one publish.
type pubAck struct {
	stream    string
	seq       uint64
	duplicate bool
	err       error
	done      bool
}

// subscribe makes the acknowledgement subscription on first use.
func (p *publisher) subscribe() error {
	if p.sub != nil {
		return nil
	}
	pending := replies.New[pubSlot](p.nc.NewInbox())
	sub, err := p.nc.Subscribe(pending.Inbox()+".*", p.receive)
	if err != nil {
		return fmt.Errorf("jetjobs: subscribe for enqueue acknowledgements: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return err
	}
	p.pending, p.sub = pending, sub
	return nil
}

func (p *publisher) newWindow(n int) *pubWindow {
	return &pubWindow{acks: make([]pubAck, n), wake: make(chan struct{}, 1), reconnects: p.nc.Stats().Reconnects}
}

// publish sends msg as publish i of w; its acknowledgement, or the error
// that kept it from being sent, comes to w.acks[i].
func (p *publisher) publish(w *pubWindow, i int, msg *nats.Msg) {
	p.mu.Lock()
	if err := p.subscribe(); err != nil {
		p.mu.Unlock()
		w.record(i, pubAck{err: err})
		return
	}
	token, reply := p.pending.Take(pubSlot{w: w, i: i})
	msg.Reply = reply
	p.mu.Unlock()
	if err := p.nc.PublishMsg(msg); err != nil {
		p.settle(token, pubAck{err: err})
	}
}

// receive takes the server's acknowledgement of a publish.
func (p *publisher) receive(m *nats.Msg) {
	p.mu.Lock()
	s, ok := p.pending.Answer(m.Subject)
	p.mu.Unlock()
	if ok {
		s.w.record(s.i, readPubAck(m))
	}
}

// settle records ack for the publish of token and frees the token.
func (p *publisher) settle(token int, ack pubAck) {
	p.mu.Lock()
	s, ok := p.pending.Done(token)
	p.mu.Unlock()
	if ok {
		s.w.record(s.i, ack)
	}
}

// record keeps ack as the answer to publish i of w, unless one came.
func (w *pubWindow) record(i int, ack pubAck) {
	w.mu.Lock()
	if !w.acks[i].done {
		ack.done = true
		w.acks[i] = ack
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// waitAny waits until an acknowledgement of w comes (or came since the
// last wait), ctx ends (its error), or the connection was lost since w
// began: nats.ErrConnectionClosed, or nats.ErrDisconnected when it is
// reconnecting or has reconnected (an acknowledgement sent on the lost
// connection never comes; the job may or may not be stored, as with
// nats.go's own asynchronous publish, which fails its pending publishes
// the same way). connectionLost tells these two from ctx's errors.
func (p *publisher) waitAny(ctx context.Context, w *pubWindow) error {
	select {
	case <-w.wake:
		return nil
	default:
	}
	tick := time.NewTicker(pubCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-w.wake:
			return nil
		case <-tick.C:
			switch {
			case p.nc.IsClosed():
				return nats.ErrConnectionClosed
			case p.nc.Status() != nats.CONNECTED || p.nc.Stats().Reconnects != w.reconnects:
				return nats.ErrDisconnected
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// pipeline publishes one call's messages through the client's publisher,
// keeping at most enqueueWindow of them awaiting acknowledgement, and fills
// in their Results in order (EnqueueMany, and the jobs of a batch or a
// workflow).
type pipeline struct {
	c       *Client
	ctx     context.Context
	w       *pubWindow
	msgs    []*nats.Msg // published, by index
	results []Result
	next    int   // the Results before next are filled in
	err     error // ctx's error, or the lost connection's, once met
}

// newPipeline returns a pipeline filling in results, one per message.
func (c *Client) newPipeline(ctx context.Context, results []Result) *pipeline {
	return &pipeline{c: c, ctx: ctx, w: c.pub.newWindow(len(results)), msgs: make([]*nats.Msg, len(results)), results: results}
}

// room waits, if message i would make too many await acknowledgement, for
// the older half, and returns the error that ends the pipeline, if met:
// message i and later are then not to be published.
func (pl *pipeline) room(i int) error {
	if i-pl.next >= enqueueWindow {
		pl.settle(i - enqueueWindow/2)
	}
	return pl.err
}

// publish sends msg as message i; its Result is filled in by settle.
func (pl *pipeline) publish(i int, msg *nats.Msg) {
	pl.msgs[i] = msg
	pl.c.pub.publish(pl.w, i, msg)
}

// settle fills in the Results before index end, in order, waiting for
// each acknowledgement; once ctx ended (or the connection was lost), a
// published message not acknowledged gets that error.
func (pl *pipeline) settle(end int) {
	c, results := pl.c, pl.results
	for pl.next < end {
		i := pl.next
		pl.w.mu.Lock()
		ack, published := pl.w.acks[i], pl.msgs[i] != nil
		pl.w.mu.Unlock()
		if published && !ack.done && pl.err == nil {
			if err := c.pub.waitAny(pl.ctx, pl.w); err != nil {
				pl.err = err
				c.pub.abandon(pl.w)
			}
			continue
		}
		switch {
		case !published:
		case !ack.done && connectionLost(pl.err):
			results[i].Err = c.publishError(pl.msgs[i], pl.err)
		case !ack.done:
			results[i].Err = pl.err
		case ack.err != nil:
			results[i].Err = c.publishError(pl.msgs[i], ack.err)
		default:
			results[i].Seq, results[i].Duplicate = ack.seq, ack.duplicate
			results[i].Err = c.storedIn(pl.msgs[i], ack.stream)
			if results[i].ID == "" {
				results[i].ID = sequenceID(ack.stream, ack.seq)
			}
		}
		pl.next++
	}
}

// finish fills in every Result and returns ctx's error if ctx ended before
// every acknowledgement came; a lost connection is reported in the Results
// alone.
func (pl *pipeline) finish() error {
	pl.settle(len(pl.results))
	if connectionLost(pl.err) {
		return nil
	}
	return pl.err
}

// connectionLost reports whether err, from waitAny, is the connection's.
func connectionLost(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected)
}

// pubCheckInterval is how often a wait for acknowledgements looks at the
// connection.
const pubCheckInterval = 250 * time.Millisecond

// abandon stops w waiting: acknowledgements still to come are dropped, and
// their tokens freed only then.
func (p *publisher) abandon(w *pubWindow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending.Waiting(func(token int, s pubSlot) bool {
		if s.w == w {
			p.pending.Forget(token)
		}
		return true
	})
}

// readPubAck reads the server's answer to a publish: the acknowledgement of
// a stored (or duplicate) job, a JetStream error, or no responders.
func readPubAck(m *nats.Msg) pubAck {
	switch {
	case wire.NoResponders(m):
		return pubAck{err: jetstream.ErrNoStreamResponse}
	case len(m.Data) == 0:
		return pubAck{err: errors.New("jetjobs: empty acknowledgement from the server")}
	}
	if ack, ok := readStoredAck(m.Data); ok {
		return ack
	}
	var resp struct {
		Stream    string              `json:"stream"`
		Seq       uint64              `json:"seq"`
		Duplicate bool                `json:"duplicate"`
		Error     *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		return pubAck{err: fmt.Errorf("jetjobs: unreadable acknowledgement from the server: %w", err)}
	}
	if resp.Error != nil {
		return pubAck{err: resp.Error}
	}
	if resp.Stream == "" {
		return pubAck{err: errors.New("jetjobs: the server's acknowledgement names no stream")}
	}
	return pubAck{stream: resp.Stream, seq: resp.Seq, duplicate: resp.Duplicate}
}

// The forms of the acknowledgement of a stored job, as nats-server writes
// them: {"stream":"JOBS","seq":17}, with ,"domain":"hub" after the stream
// in a domain, and ,"duplicate": true after the sequence for a duplicate.
var (
	ackStream    = []byte(`{"stream":"`)
	ackDomain    = []byte(`,"domain":"`)
	ackSeq       = []byte(`,"seq":`)
	ackDuplicate = []byte(`,"duplicate": true}`)
)

// readStoredAck reads an acknowledgement of one of the forms above; ok is
// false for anything else.
func readStoredAck(b []byte) (ack pubAck, ok bool) {
	rest, found := bytes.CutPrefix(b, ackStream)
	if !found {
		return ack, false
	}
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return ack, false
	}
	stream := rest[:end]
	rest = rest[end+1:]
	if r, found := bytes.CutPrefix(rest, ackDomain); found {
		end := bytes.IndexByte(r, '"')
		if end < 0 || bytes.IndexByte(r[:end], '\\') >= 0 {
			return ack, false
		}
		rest = r[end+1:]
	}
	if rest, found = bytes.CutPrefix(rest, ackSeq); !found {
		return ack, false
	}
	n := 0
	var seq uint64
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		d := uint64(rest[n] - '0')
		if seq > (math.MaxUint64-d)/10 {
			return ack, false // past uint64: encoding/json says so
		}
		seq = seq*10 + d
		n++
	}
	if n == 0 {
		return ack, false
	}
	switch rest = rest[n:]; {
	case len(rest) == 1 && rest[0] == '}':
	case bytes.Equal(rest, ackDuplicate):
		ack.duplicate = true
	default:
		return ack, false
	}
	ack.stream, ack.seq = streamName(stream), seq
	return ack, true
}

// streamName returns b as a string, without a new one for the stream names
// seen last.
func streamName(b []byte) string {
	if s := lastStream.Load(); s != nil && *s == string(b) {
		return *s
	}
	s := string(b)
	lastStream.Store(&s)
	return s
}

// lastStream is the stream name an acknowledgement named last.
var lastStream atomic.Pointer[string]
