package job

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/replies"
	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestReadPubAck(t *testing.T) {
	for _, tc := range []struct {
		data      string
		stream    string
		seq       uint64
		duplicate bool
		errCode   jetstream.ErrorCode
	}{
		{data: `{"stream":"JOBS","seq":17}`, stream: "JOBS", seq: 17},
		{data: `{"stream":"JOBS","domain":"hub","seq":18446744073709551615}`, stream: "JOBS", seq: 18446744073709551615},
		{data: `{"stream":"JOBS","seq":5,"duplicate": true}`, stream: "JOBS", seq: 5, duplicate: true},
		// Forms the fast path leaves to encoding/json.
		{data: `{"stream":"JOBS","seq":5,"duplicate":true}`, stream: "JOBS", seq: 5, duplicate: true},
		{data: `{"stream":"J\u004fBS","seq":6}`, stream: "JOBS", seq: 6},
		{data: `{ "stream": "JOBS", "seq": 7 }`, stream: "JOBS", seq: 7},
		{data: `{"stream":"C","seq":8,"val":"3"}`, stream: "C", seq: 8},
		{data: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"JOBS","seq":0}`, errCode: 10077},
	} {
		ack := readPubAck(&nats.Msg{Data: []byte(tc.data)})
		if tc.errCode != 0 {
			var apiErr *jetstream.APIError
			if !errors.As(ack.err, &apiErr) || apiErr.ErrorCode != tc.errCode {
				t.Errorf("%s: err %v, want API error %d", tc.data, ack.err, tc.errCode)
			}
			continue
		}
		if ack.err != nil || ack.stream != tc.stream || ack.seq != tc.seq || ack.duplicate != tc.duplicate {
			t.Errorf("%s: read %+v", tc.data, ack)
		}
	}
	for _, bad := range []string{`{"stream":"JOBS","seq":18446744073709551616}`, `{"stream":"JOBS","seq":}`, `{"stream":"JOBS"`, `not json`, `{"seq":3}`} {
		if ack := readPubAck(&nats.Msg{Data: []byte(bad)}); ack.err == nil {
			t.Errorf("%s: read %+v, want an error", bad, ack)
		}
	}
	noResponders := &nats.Msg{Header: nats.Header{wire.Status: {wire.StatusNoResponders}}}
	if ack := readPubAck(noResponders); !errors.Is(ack.err, jetstream.ErrNoStreamResponse) {
		t.Errorf("no responders: %v", ack.err)
	}
}

// An acknowledgement that comes after its window stopped waiting is
// dropped; the window keeps what came before.
func TestPublisherLateAcknowledgement(t *testing.T) {
	p := &publisher{pending: replies.New[pubSlot]("_INBOX.x")}
	w := &pubWindow{acks: make([]pubAck, 2), wake: make(chan struct{}, 1)}
	first, _ := p.pending.Take(pubSlot{w: w, i: 0})
	second, _ := p.pending.Take(pubSlot{w: w, i: 1})
	p.settle(first, pubAck{stream: "JOBS", seq: 1})
	p.abandon(w)
	p.settle(second, pubAck{stream: "JOBS", seq: 2})
	if w.acks[1].done {
		t.Fatal("a late acknowledgement reached a window that stopped waiting")
	}
	if !w.acks[0].done || w.acks[0].seq != 1 {
		t.Fatalf("first acknowledgement %+v", w.acks[0])
	}
}
