package wire_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

func TestParseAckReply(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	want := jetstream.MsgMetadata{
		NumDelivered: 3, NumPending: 7, Timestamp: ts, Stream: "JOBS", Consumer: "default",
	}
	want.Sequence.Stream, want.Sequence.Consumer = 41, 12
	withDomain := want
	withDomain.Domain = "hub"
	for _, tc := range []struct {
		name, reply string
		want        jetstream.MsgMetadata
	}{
		{"v1", "$JS.ACK.JOBS.default.3.41.12.1767323045000000006.7", want},
		{"v2", "$JS.ACK._.ACCHASH.JOBS.default.3.41.12.1767323045000000006.7.rnd", want},
		{"v2 without token", "$JS.ACK._.ACCHASH.JOBS.default.3.41.12.1767323045000000006.7", want},
		{"v2 with domain", "$JS.ACK.hub.ACCHASH.JOBS.default.3.41.12.1767323045000000006.7.rnd", withDomain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wire.ParseAckReply(tc.reply)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Timestamp.Equal(tc.want.Timestamp) {
				t.Errorf("timestamp %v, want %v", got.Timestamp, tc.want.Timestamp)
			}
			got.Timestamp = tc.want.Timestamp
			if got != tc.want {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "_INBOX.x.y", "$JS.ACK.JOBS.default.3.41", "$JS.ACK.a.b.JOBS.default.3.41.12.7"} {
		if _, err := wire.ParseAckReply(bad); !errors.Is(err, jetstream.ErrNotJSMessage) {
			t.Errorf("ParseAckReply(%q): %v, want ErrNotJSMessage", bad, err)
		}
	}
}

func TestParseAckReplyBadNumbersAreZero(t *testing.T) {
	got, err := wire.ParseAckReply("$JS.ACK.JOBS.default.x.-1.12.notatime.7")
	if err != nil {
		t.Fatal(err)
	}
	if got.NumDelivered != 0 || got.Sequence.Stream != 0 || got.Sequence.Consumer != 12 || got.Timestamp.UnixNano() != 0 {
		t.Errorf("got %+v", got)
	}
}

func TestAckBodies(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  []byte
		want string
	}{
		{"ack", wire.AckAck, "+ACK"},
		{"nak", wire.AckNak, "-NAK"},
		{"progress", wire.AckProgress, "+WPI"},
		{"term", wire.AckTerm, "+TERM"},
		{"nak no delay", wire.AckNakDelay(0), "-NAK"},
		{"nak negative delay", wire.AckNakDelay(-time.Second), "-NAK"},
		{"nak delay", wire.AckNakDelay(1500 * time.Millisecond), `-NAK {"delay": 1500000000}`},
		{"term no reason", wire.AckTermReason(""), "+TERM"},
		{"term reason", wire.AckTermReason("decode"), "+TERM decode"},
	} {
		if string(tc.got) != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
