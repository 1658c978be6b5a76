package worker

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// message is a job message received on a puller's subscription. It speaks
// the JetStream acknowledgement protocol itself (nats.go has no public way
// to make a jetstream.Msg of a message received outside its consumers):
// acknowledgements are published to the message's reply subject, a
// confirmed one as a request, and a message is settled at most once.
type message struct {
	msg     *nats.Msg
	nc      *nats.Conn
	ackd    atomic.Bool
	meta    jetstream.MsgMetadata // parsed from the reply subject on arrival
	metaErr error
}

func newMessage(msg *nats.Msg, nc *nats.Conn) *message {
	m := &message{msg: msg, nc: nc}
	m.meta, m.metaErr = wire.ParseAckReply(msg.Reply)
	return m
}

var _ jetstream.Msg = (*message)(nil)

// Metadata returns the delivery's metadata; callers must not change it.
func (m *message) Metadata() (*jetstream.MsgMetadata, error) {
	if m.metaErr != nil {
		return nil, m.metaErr
	}
	return &m.meta, nil
}

func (m *message) Data() []byte         { return m.msg.Data }
func (m *message) Headers() nats.Header { return m.msg.Header }
func (m *message) Subject() string      { return m.msg.Subject }
func (m *message) Reply() string        { return m.msg.Reply }

func (m *message) Ack() error { return m.settle(wire.AckAck) }

// DoubleAck acknowledges and waits until the server confirms it or ctx
// ends.
func (m *message) DoubleAck(ctx context.Context) error {
	if m.ackd.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	if _, err := m.nc.RequestWithContext(ctx, m.msg.Reply, wire.AckAck); err != nil {
		m.ackd.Store(false)
		return err
	}
	return nil
}

func (m *message) Nak() error { return m.settle(wire.AckNak) }

func (m *message) NakWithDelay(delay time.Duration) error {
	return m.settle(wire.AckNakDelay(delay))
}

// InProgress restarts the server's AckWait for the message; it may be sent
// any number of times before the message is settled.
func (m *message) InProgress() error {
	if m.ackd.Load() {
		return jetstream.ErrMsgAlreadyAckd
	}
	return m.nc.Publish(m.msg.Reply, wire.AckProgress)
}

func (m *message) Term() error { return m.settle(wire.AckTerm) }

func (m *message) TermWithReason(reason string) error {
	return m.settle(wire.AckTermReason(reason))
}

// settle publishes body as the message's one acknowledgement.
func (m *message) settle(body []byte) error {
	if m.ackd.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	if err := m.nc.Publish(m.msg.Reply, body); err != nil {
		m.ackd.Store(false)
		return err
	}
	return nil
}
