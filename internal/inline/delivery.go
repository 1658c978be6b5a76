package inline

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errNoServer is what a Delivery's acknowledgement verbs return: there is
// no server to tell.
var errNoServer = errors.New("jetjobstest: an inline delivery has no server to acknowledge to")

// Delivery is a jetstream.Msg that no server delivered: a job message
// (subject, headers, payload) with the metadata a delivery carries, so
// job.ReadInfo reads it exactly as it reads a delivered one. Its
// acknowledgement verbs do nothing and return an error.
type Delivery struct {
	subject string
	header  nats.Header
	data    []byte
	meta    jetstream.MsgMetadata
}

// NewDelivery returns the delivery number delivered of the message stored
// at seq of stream at stored.
func NewDelivery(subject string, h nats.Header, data []byte, stream string, seq uint64, stored time.Time, delivered uint64) *Delivery {
	return &Delivery{subject: subject, header: h, data: data, meta: jetstream.MsgMetadata{
		Sequence:     jetstream.SequencePair{Stream: seq, Consumer: delivered},
		NumDelivered: delivered,
		Stream:       stream,
		Timestamp:    stored,
	}}
}

// Metadata returns the delivery's metadata.
func (d *Delivery) Metadata() (*jetstream.MsgMetadata, error) { m := d.meta; return &m, nil }

// Data returns the payload.
func (d *Delivery) Data() []byte { return d.data }

// Headers returns the headers.
func (d *Delivery) Headers() nats.Header { return d.header }

// Subject returns the subject.
func (d *Delivery) Subject() string { return d.subject }

// Reply returns "": there is no server to reply to.
func (d *Delivery) Reply() string { return "" }

// Ack returns an error: there is no server.
func (d *Delivery) Ack() error { return errNoServer }

// DoubleAck returns an error: there is no server.
func (d *Delivery) DoubleAck(context.Context) error { return errNoServer }

// Nak returns an error: there is no server.
func (d *Delivery) Nak() error { return errNoServer }

// NakWithDelay returns an error: there is no server.
func (d *Delivery) NakWithDelay(time.Duration) error { return errNoServer }

// InProgress returns an error: there is no server.
func (d *Delivery) InProgress() error { return errNoServer }

// Term returns an error: there is no server.
func (d *Delivery) Term() error { return errNoServer }

// TermWithReason returns an error: there is no server.
func (d *Delivery) TermWithReason(string) error { return errNoServer }

var _ jetstream.Msg = (*Delivery)(nil)
