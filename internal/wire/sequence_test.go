package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSubjectOfSequences(t *testing.T) {
	for _, tc := range []struct {
		subject          string
		queue, kind, key string
		partition        int
		bad              string
	}{
		{subject: "jobs._seq.billing.cust-1.invoice.send", queue: "billing", kind: "invoice.send", key: "cust-1", partition: -1},
		{subject: "jobs._seqp.billing.7.cust-1.invoice.send", queue: "billing", kind: "invoice.send", key: "cust-1", partition: 7},
		{subject: "jobs._seqp.billing.x.cust-1.send", bad: "partition"},
		{subject: "jobs._seqp.billing.07.cust-1.send", bad: "partition"},
		{subject: "jobs._seqp.billing.3.cust-1", bad: "lacks tokens"},
		{subject: "jobs._seq.billing.cust-1", bad: "lacks tokens"},
		{subject: "jobs._seq._billing.k.send", bad: "reserved"},
	} {
		q, kind, err := ParseSubject("jobs", tc.subject)
		key, p, ok := ParseSequence("jobs", tc.subject)
		if tc.bad != "" {
			if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), tc.bad) || ok {
				t.Errorf("%s: err %v, ParseSequence ok %v; want an error saying %q", tc.subject, err, ok, tc.bad)
			}
			continue
		}
		if err != nil || q != tc.queue || kind != tc.kind || key != tc.key || p != tc.partition || !ok {
			t.Errorf("%s: %q %q %v, key %q partition %d ok %v", tc.subject, q, kind, err, key, p, ok)
		}
		if QueueToken("jobs", tc.subject) != tc.queue {
			t.Errorf("%s: QueueToken %q", tc.subject, QueueToken("jobs", tc.subject))
		}
	}
	if _, _, ok := ParseSequence("jobs", "jobs.billing.invoice.send"); ok {
		t.Error("a plain job parsed as a sequence job")
	}
}

func TestSequenceNames(t *testing.T) {
	if got := SubjectConsumer("jobs", PartitionSubject("jobs", "q", 5, "k", "a.b")); got != "_seq5-q" {
		t.Errorf("SubjectConsumer of a partition subject = %q", got)
	}
	if got := SubjectConsumer("jobs", "jobs.q.a.b"); got != "q" {
		t.Errorf("SubjectConsumer of a job subject = %q", got)
	}
	long := strings.Repeat("q", MaxQueueLen)
	if c := PartitionConsumer(long, 255); len(c) > 255 || !strings.HasPrefix(c, "_seq255-h-") {
		t.Errorf("PartitionConsumer of a %d-character queue = %q (%d characters)", len(long), c, len(c))
	}
	for _, n := range []int{1, 16, MaxPartitions} {
		if got, ok := ParseSequenceTransformDest("jobs", SequenceTransformDest("jobs", n)); !ok || got != n {
			t.Errorf("ParseSequenceTransformDest(%d) = %d %v", n, got, ok)
		}
	}
	if _, ok := ParseSequenceTransformDest("jobs", "jobs._seqp.{{wildcard(1)}}.{{partition(0,1,2)}}.{{wildcard(2)}}.>"); ok {
		t.Error("0 partitions parsed")
	}
	for _, key := range []string{"", "a.b", "a b", strings.Repeat("k", MaxSequenceKeyLen+1)} {
		if ValidateSequenceKey(key) == nil {
			t.Errorf("key %q accepted", key)
		}
	}
}
