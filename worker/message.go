package worker

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	m.meta, m.metaErr = parseMetadata(msg.Reply)
	return m
}

var _ jetstream.Msg = (*message)(nil)

var (
	ackAck      = []byte("+ACK")
	ackNak      = []byte("-NAK")
	ackProgress = []byte("+WPI")
	ackTerm     = []byte("+TERM")
)

// Metadata returns the delivery's metadata; callers must not change it.
func (m *message) Metadata() (*jetstream.MsgMetadata, error) {
	if m.metaErr != nil {
		return nil, m.metaErr
	}
	return &m.meta, nil
}

// parseMetadata parses an acknowledgement subject:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
func parseMetadata(reply string) (jetstream.MsgMetadata, error) {
	var t [11]string // domain, hash, stream, consumer, delivered, sseq, cseq, tm, pending
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return jetstream.MsgMetadata{}, jetstream.ErrNotJSMessage
	}
	n := strings.Count(rest, ".") + 1
	switch {
	case n == 7: // v1: no domain and account hash
		for i := 2; i < 9; i++ {
			t[i], rest, _ = strings.Cut(rest, ".")
		}
	case n >= 9: // v2
		for i := range 9 {
			t[i], rest, _ = strings.Cut(rest, ".")
		}
	default:
		return jetstream.MsgMetadata{}, jetstream.ErrNotJSMessage
	}
	if t[0] == "_" {
		t[0] = ""
	}
	meta := jetstream.MsgMetadata{
		Domain:       t[0],
		Stream:       t[2],
		Consumer:     t[3],
		NumDelivered: parseNum(t[4]),
		NumPending:   parseNum(t[8]),
		Timestamp:    time.Unix(0, int64(parseNum(t[7]))),
	}
	meta.Sequence.Stream = parseNum(t[5])
	meta.Sequence.Consumer = parseNum(t[6])
	return meta, nil
}

// parseNum parses a decimal token; anything else is zero.
func parseNum(s string) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func (m *message) Data() []byte         { return m.msg.Data }
func (m *message) Headers() nats.Header { return m.msg.Header }
func (m *message) Subject() string      { return m.msg.Subject }
func (m *message) Reply() string        { return m.msg.Reply }

func (m *message) Ack() error { return m.settle(ackAck) }

// DoubleAck acknowledges and waits until the server confirms it or ctx
// ends.
func (m *message) DoubleAck(ctx context.Context) error {
	if m.ackd.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	if _, err := m.nc.RequestWithContext(ctx, m.msg.Reply, ackAck); err != nil {
		m.ackd.Store(false)
		return err
	}
	return nil
}

func (m *message) Nak() error { return m.settle(ackNak) }

func (m *message) NakWithDelay(delay time.Duration) error {
	if delay <= 0 {
		return m.settle(ackNak)
	}
	return m.settle([]byte(`-NAK {"delay": ` + strconv.FormatInt(delay.Nanoseconds(), 10) + `}`))
}

// InProgress restarts the server's AckWait for the message; it may be sent
// any number of times before the message is settled.
func (m *message) InProgress() error {
	if m.ackd.Load() {
		return jetstream.ErrMsgAlreadyAckd
	}
	return m.nc.Publish(m.msg.Reply, ackProgress)
}

func (m *message) Term() error { return m.settle(ackTerm) }

func (m *message) TermWithReason(reason string) error {
	if reason == "" {
		return m.settle(ackTerm)
	}
	return m.settle([]byte("+TERM " + reason))
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
