package job

import (
	"errors"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
)

// The fuzz targets below take what a foreign publisher controls — the
// subject, the raw header block and the payload of a job message — and
// check that decoding never panics, fails only with ErrDecode or
// ErrInvalidName, and that whatever it accepts is well-formed. Their seed
// corpora in testdata/fuzz (valid jobs, every malformed header value the
// protocol names, broken header blocks, invalid subjects) run with every
// `go test`; fuzz one longer with e.g.
// `go test -run '^$' -fuzz '^FuzzReadInfo$' -fuzztime 1m ./job`.

func FuzzParseSubject(f *testing.F) {
	f.Fuzz(func(t *testing.T, prefix, subject string) {
		queue, kind, err := ParseSubject(prefix, subject)
		if err != nil {
			if !errors.Is(err, ErrInvalidName) {
				t.Fatalf("ParseSubject(%q, %q) error does not wrap ErrInvalidName: %v", prefix, subject, err)
			}
			if queue != "" || kind != "" {
				t.Fatalf("ParseSubject(%q, %q) failed but returned %q, %q", prefix, subject, queue, kind)
			}
			return
		}
		if ValidateQueue(queue) != nil || ValidateKind(kind) != nil {
			t.Fatalf("ParseSubject(%q, %q) accepted queue %q kind %q that do not validate", prefix, subject, queue, kind)
		}
		if got := Subject(prefix, queue, kind); got != subject {
			t.Fatalf("Subject(ParseSubject(%q)) = %q", subject, got)
		}
		if strings.ContainsAny(queue+kind, " *>\t\r\n") {
			t.Fatalf("wildcard or space in queue %q kind %q", queue, kind)
		}
	})
}

// headerBlock encodes h as a NATS header block as nats.go sends it: values
// are trimmed of surrounding whitespace.
func headerBlock(h nats.Header) []byte {
	var b strings.Builder
	b.WriteString("NATS/1.0\r\n")
	for k, vs := range h {
		for _, v := range vs {
			b.WriteString(k + ": " + textproto.TrimString(v) + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

func FuzzReadInfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, subject string, rawHeader, payload []byte, delivered uint64) {
		if !deliverable(subject) {
			return // no server delivers a message on this subject
		}
		h, err := nats.DecodeHeadersMsg(rawHeader)
		if err != nil {
			h = nil // the server would not deliver it; decode the job without headers
		}
		meta := &jetstream.MsgMetadata{Stream: "JOBS", NumDelivered: delivered, Timestamp: time.Unix(1700000000, 0)}
		meta.Sequence.Stream = 7
		info, err := readInfo("jobs", subject, h, payload, meta, DefaultMaxAttempts)
		if info == nil {
			t.Fatal("readInfo returned no Info")
		}
		if err != nil && !errors.Is(err, ErrDecode) {
			t.Fatalf("readInfo error does not wrap ErrDecode: %v", err)
		}
		if info.ID == "" {
			t.Fatal("a job without an ID")
		}
		if (info.Queue == "") != (info.Kind == "") {
			t.Fatalf("queue %q and kind %q: one without the other", info.Queue, info.Kind)
		}
		if err == nil {
			if info.Queue == "" || info.MaxAttempts < 1 || info.Timeout < 0 {
				t.Fatalf("accepted a job with queue %q, max attempts %d, timeout %s", info.Queue, info.MaxAttempts, info.Timeout)
			}
		}

		// Its dead letter is well-formed whatever the job held: a valid
		// subject, and headers that survive encoding (no injected lines).
		cause := "cannot decode"
		if err != nil {
			cause = err.Error()
		}
		dl := Topology{}.DeadLetterMessage(subject, h, payload, info.ID, info.Queue, "JOBS", 7, ReasonDecode, cause, info.Attempt)
		place, ok := wire.ParseDeadLetterSubject("jobs_dlq", dl.Subject)
		if !ok || place.V1 || (place.Queue != "_invalid" && ValidateQueue(place.Queue) != nil) || wire.InvalidTokenChar(place.Token) >= 0 ||
			place.Reason != string(ReasonDecode) || (place.Kind != wire.InvalidKind && ValidateKind(place.Kind) != nil) {
			t.Fatalf("dead letter subject %q", dl.Subject)
		}
		back, derr := nats.DecodeHeadersMsg(headerBlock(dl.Header))
		if derr != nil {
			t.Fatalf("dead letter headers do not encode: %v", derr)
		}
		for _, name := range []string{HeaderReason, HeaderSubject, HeaderAttempts, HeaderError} {
			if got, want := back.Get(name), textproto.TrimString(dl.Header.Get(name)); got != want {
				t.Fatalf("dead letter header %s = %q after encoding, want %q", name, got, want)
			}
		}
		if back.Get(HeaderReason) != string(ReasonDecode) {
			t.Fatalf("dead letter reason %q", back.Get(HeaderReason))
		}
	})
}

// deliverable reports whether a NATS server could deliver a message on
// subject: non-empty, no whitespace or control characters.
func deliverable(subject string) bool {
	if subject == "" {
		return false
	}
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzEnqueueOptions checks that the options and names a caller passes are
// either refused with ErrInvalidName/ErrInvalidOption or produce a message
// whose subject and headers read back as given.
func FuzzEnqueueOptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind, queue, id, hname, hvalue string, attempts int, timeout int64) {
		c := &Client{topo: Topology{}.WithDefaults(), queue: DefaultQueue}
		o := options{queue: c.queue}
		err := errors.Join(Queue(queue)(&o), ID(id)(&o), Header(hname, hvalue)(&o), MaxAttempts(attempts)(&o), Timeout(time.Duration(timeout))(&o), ValidateKind(kind))
		if err != nil {
			if !errors.Is(err, ErrInvalidName) && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("refusal wraps neither ErrInvalidName nor ErrInvalidOption: %v", err)
			}
			return
		}
		subject := Subject(c.topo.Prefix, o.queue, kind)
		gotQueue, gotKind, err := ParseSubject(c.topo.Prefix, subject)
		if err != nil || gotQueue != queue || gotKind != kind {
			t.Fatalf("accepted queue %q kind %q but the subject %q reads back as %q %q (%v)", queue, kind, subject, gotQueue, gotKind, err)
		}
		h := nats.Header{}
		for k, vs := range o.header {
			h[k] = vs
		}
		h.Set(HeaderID, o.id)
		back, err := nats.DecodeHeadersMsg(headerBlock(h))
		if err != nil {
			t.Fatalf("accepted header %q=%q and ID %q do not encode: %v", hname, hvalue, id, err)
		}
		// The worker must see the ID the enqueuer was given.
		if back.Get(HeaderID) != id {
			t.Fatalf("ID %q reads back as %q", id, back.Get(HeaderID))
		}
		if vs := back.Values(hname); len(vs) != 1 || vs[0] != textproto.TrimString(hvalue) {
			t.Fatalf("header %q=%q reads back as %q", hname, hvalue, vs)
		}
	})
}
