package job

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestValidateQueue(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"default", true}, {"email-high_1", true}, {"A", true},
		{"", false}, {"_reserved", false}, {"a.b", false}, {"a b", false}, {"*", false}, {">", false}, {"é", false}, {"a\n", false},
	} {
		err := ValidateQueue(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateQueue(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateQueue(%q) error does not wrap ErrInvalidName: %v", tc.name, err)
		}
	}
}

func TestValidateKind(t *testing.T) {
	for _, tc := range []struct {
		kind string
		ok   bool
	}{
		{"email", true}, {"email.send", true}, {"a.b-c.d_e.9", true}, {"_x", true},
		{"", false}, {".a", false}, {"a.", false}, {"a..b", false}, {"a.*", false}, {"a.>", false}, {"a b", false}, {"a\tb", false},
	} {
		if err := ValidateKind(tc.kind); (err == nil) != tc.ok {
			t.Errorf("ValidateKind(%q) = %v, want ok=%v", tc.kind, err, tc.ok)
		}
	}
}

func TestParseSubject(t *testing.T) {
	for _, tc := range []struct {
		subject, queue, kind string
		ok                   bool
	}{
		{"jobs.default.email.send", "default", "email.send", true},
		{"jobs.q.k", "q", "k", true},
		{"jobs.q", "", "", false},
		{"jobs._schedule.x", "", "", false},
		{"other.q.k", "", "", false},
		{"jobs.q..k", "", "", false},
	} {
		q, k, err := ParseSubject("jobs", tc.subject)
		if (err == nil) != tc.ok || q != tc.queue || k != tc.kind {
			t.Errorf("ParseSubject(%q) = %q, %q, %v", tc.subject, q, k, err)
		}
	}
}

func TestReadInfoHeaders(t *testing.T) {
	meta := &jetstream.MsgMetadata{Stream: "JOBS", NumDelivered: 2, Timestamp: time.Unix(100, 0)}
	meta.Sequence.Stream = 42
	h := nats.Header{}
	h.Set(HeaderID, "job-1")
	h.Set(HeaderMaxAttempts, "5")
	h.Set(HeaderTimeout, "1m30s")
	h.Set(HeaderEnqueuedAt, "2026-01-02T03:04:05Z")
	h.Set(HeaderAttemptBase, "3")
	h.Set(HeaderDeadline, "2026-01-03T00:00:00Z")
	info, err := readInfo("jobs", "jobs.default.email.send", h, []byte(`{}`), meta, 25)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != "job-1" || info.Queue != "default" || info.Kind != "email.send" || info.Attempt != 5 || info.MaxAttempts != 5 ||
		info.Timeout != 90*time.Second || info.EnqueuedAt.Year() != 2026 || info.Deadline.Day() != 3 || info.Seq != 42 {
		t.Fatalf("info = %+v", info)
	}

	// No headers at all: a valid job with a derived ID.
	info, err = readInfo("jobs", "jobs.default.x", nil, nil, meta, 25)
	if err != nil || info.ID != "JOBS-42" || info.MaxAttempts != 25 || info.Attempt != 2 || !info.EnqueuedAt.Equal(meta.Timestamp) {
		t.Fatalf("info = %+v, %v", info, err)
	}
	// Nats-Msg-Id stands in for a missing Jetjobs-Id.
	info, _ = readInfo("jobs", "jobs.default.x", nats.Header{HeaderMsgID: {"m-1"}}, nil, meta, 25)
	if info.ID != "m-1" {
		t.Fatalf("ID = %q", info.ID)
	}
}

func TestReadInfoMalformedHeaders(t *testing.T) {
	meta := &jetstream.MsgMetadata{Stream: "JOBS", NumDelivered: 1}
	for _, tc := range []struct{ header, value string }{
		{HeaderMaxAttempts, "many"}, {HeaderMaxAttempts, "0"}, {HeaderMaxAttempts, "-3"},
		{HeaderTimeout, "soon"}, {HeaderTimeout, "-1s"}, {HeaderTimeout, "0s"},
		{HeaderEnqueuedAt, "yesterday"}, {HeaderDeadline, "2026-13-01"}, {HeaderAttemptBase, "x"},
		{HeaderAttemptBase, "9223372036854775807"}, {HeaderAttemptBase, "1048577"}, {HeaderNotBefore, "tomorrow"},
	} {
		h := nats.Header{}
		h.Set(tc.header, tc.value)
		info, err := readInfo("jobs", "jobs.q.k", h, nil, meta, 25)
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), tc.header) {
			t.Errorf("%s=%q: err = %v", tc.header, tc.value, err)
		}
		if info == nil || info.Queue != "q" || info.Kind != "k" {
			t.Errorf("%s=%q: info not filled for the dead letter: %+v", tc.header, tc.value, info)
		}
	}
}

func TestSubjectToken(t *testing.T) {
	if got := SubjectToken("abc-1_2"); got != "abc-1_2" {
		t.Fatalf("SubjectToken kept-safe = %q", got)
	}
	a, b := SubjectToken("a.b c"), SubjectToken("a.b d")
	if a == b || strings.ContainsAny(a, ". *>") || !strings.HasPrefix(a, "h-") {
		t.Fatalf("SubjectToken hashed = %q, %q", a, b)
	}
}

func TestTopologyValidate(t *testing.T) {
	for _, tc := range []struct {
		topo Topology
		ok   bool
	}{
		{Topology{}, true},
		{Topology{Stream: "ORDERS", Prefix: "orders"}, true},
		{Topology{Stream: "A.B"}, false},
		{Topology{Stream: "X", DeadLetterStream: "X"}, false},
		{Topology{Prefix: "jobs", DeadLetterPrefix: "jobs.dlq"}, false},
		{Topology{Prefix: "a*"}, false},
		{Topology{Replicas: 7}, false},
		{Topology{MaxAge: time.Minute, DuplicateWindow: time.Hour}, false},
		{Topology{MaxMsgs: -5}, false},
	} {
		if err := tc.topo.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.topo, err, tc.ok)
		}
	}
}

func TestServerAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v     string
		minor int
		want  bool
	}{
		{"2.12.0", 12, true}, {"2.11.9", 12, false}, {"v2.14.0-beta", 14, true}, {"3.0.0", 14, true}, {"", 12, false}, {"junk", 12, false},
	} {
		if got := serverAtLeast(tc.v, 2, tc.minor); got != tc.want {
			t.Errorf("serverAtLeast(%q, 2.%d) = %v", tc.v, tc.minor, got)
		}
	}
}

func TestReadInfoClipsHugeHeaderInError(t *testing.T) {
	meta := &jetstream.MsgMetadata{Stream: "JOBS", NumDelivered: 1}
	h := nats.Header{}
	h.Set(HeaderTimeout, strings.Repeat("x", 100000))
	_, err := readInfo("jobs", "jobs.q.k", h, nil, meta, 25)
	if !errors.Is(err, ErrDecode) || len(err.Error()) > 300 {
		t.Fatalf("error of %d bytes: %.200v", len(err.Error()), err)
	}
}

func TestCopyHeaderDropsServerHeaders(t *testing.T) {
	h := nats.Header{"Nats-Msg-Id": {"m"}, "Nats-Schedule": {"@at x"}, HeaderID: {"j"}, HeaderReason: {"failed"}, "X-Tenant": {"a"}}
	got := CopyHeader(h, 2, HeaderReason)
	if len(got) != 2 || got.Get(HeaderID) != "j" || got.Get("X-Tenant") != "a" {
		t.Fatalf("CopyHeader = %v", got)
	}
	got.Set("X-Tenant", "b")
	if h.Get("X-Tenant") != "a" {
		t.Fatal("copy shares the map with the original")
	}
}
