package wire

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// AckPrefix starts the reply subject of every message a JetStream consumer
// delivers; a server status message has no such reply.
const AckPrefix = "$JS.ACK."

// Acknowledgement bodies, published to a delivered message's reply subject.
// Callers must not change them.
var (
	AckAck      = []byte("+ACK")
	AckNak      = []byte("-NAK")
	AckProgress = []byte("+WPI")
	AckTerm     = []byte("+TERM")
)

// AckNakDelay is the body of a Nak asking for redelivery after delay; a
// delay <= 0 is a plain Nak.
func AckNakDelay(delay time.Duration) []byte {
	if delay <= 0 {
		return AckNak
	}
	return []byte(`-NAK {"delay": ` + strconv.FormatInt(delay.Nanoseconds(), 10) + `}`)
}

// AckTermReason is the body of a Term with reason; an empty reason is a
// plain Term.
func AckTermReason(reason string) []byte {
	if reason == "" {
		return AckTerm
	}
	return []byte("+TERM " + reason)
}

// ParseAckReply parses a message's acknowledgement subject into its
// delivery metadata:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
//	$JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>[.<token>]
//
// It fails with jetstream.ErrNotJSMessage for any other subject. Numbers
// that do not parse are zero.
func ParseAckReply(reply string) (jetstream.MsgMetadata, error) {
	var t [11]string // domain, hash, stream, consumer, delivered, sseq, cseq, tm, pending
	rest, ok := strings.CutPrefix(reply, AckPrefix)
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
