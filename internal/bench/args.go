package bench

import (
	"encoding/json"
	"strings"
	"time"
)

// kind is the kind of every benchmark job.
const kind = "bench.noop"

// args are the arguments of a benchmark job: its number, when it was
// enqueued (Unix nanoseconds, for latency) and padding up to
// Config.PayloadBytes.
type args struct {
	N    int    `json:"n"`
	Sent int64  `json:"sent"`
	Pad  string `json:"pad"`
}

// MinPayloadBytes is the smallest Config.PayloadBytes: the size of the
// arguments without padding, with room for a large N and a current
// timestamp.
const MinPayloadBytes = len(`{"n":1000000000,"sent":1700000000000000000,"pad":""}`)

// padding returns the Pad that makes an encoded args payloadBytes long
// (for job numbers up to 10 digits).
func padding(payloadBytes int) string {
	return strings.Repeat("x", max(0, payloadBytes-MinPayloadBytes))
}

// newArgs returns job n's arguments, stamped with the current time.
func newArgs(n int, pad string) args {
	return args{N: n, Sent: time.Now().UnixNano(), Pad: pad}
}

// encode is how the raw side encodes arguments, as the framework does.
func encode(a args) ([]byte, error) { return json.Marshal(a) }
