package job_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// The server's subject transform stores a sequence job under the partition
// wire.Partition computes, in the queue's partition subject, with the
// kind's tokens kept: a foreign enqueuer and the Go client agree.
func TestSequenceStoredUnderServerPartition(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{SequencePartitions: 7})
	ctx := context.Background()
	keys := []string{"a", "b", "customer-42", "x_y", "Z", "order-1001", "k9"}
	for _, key := range keys {
		r, err := c.Enqueue(ctx, "invoice.send", nil, job.Queue("billing"), job.Sequence(key), job.ID("j-"+key))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq == 0 {
			t.Fatalf("key %s: no sequence in %+v", key, r)
		}
	}
	s, err := js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, key := range keys {
		p := wire.Partition("billing", key, 7)
		seen[p] = true
		m, err := s.GetLastMsgForSubject(ctx, wire.PartitionSubject("jobs", "billing", p, key, "invoice.send"))
		if err != nil {
			t.Fatalf("key %s: not stored under partition %d: %v", key, p, err)
		}
		if m.Header.Get(job.HeaderID) != "j-"+key {
			t.Fatalf("key %s: stored job %s", key, m.Header.Get(job.HeaderID))
		}
		q, kind, err := job.ParseSubject("jobs", m.Subject)
		if err != nil || q != "billing" || kind != "invoice.send" {
			t.Fatalf("ParseSubject(%s) = %q %q %v", m.Subject, q, kind, err)
		}
	}
	if len(seen) < 3 {
		t.Fatalf("7 keys fell into %d partitions of 7; the hash does not spread", len(seen))
	}
	if n := job.SequencePartitionsOf(s.CachedInfo().Config, "jobs"); n != 7 {
		t.Fatalf("SequencePartitionsOf = %d, want 7", n)
	}
}

// A stored subject republished (a dead-letter replay) is not transformed
// again: it keeps its partition.
func TestSequenceStoredSubjectIsNotTransformedAgain(t *testing.T) {
	_, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	subj := wire.PartitionSubject("jobs", "q", 3, "k", "a.b")
	if _, err := js.Publish(ctx, subj, nil); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, "JOBS")
	if _, err := s.GetLastMsgForSubject(ctx, subj); err != nil {
		t.Fatalf("republished stored subject moved: %v", err)
	}
}

func TestSequenceOptionValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []job.Option
		want error
		says string
	}{
		{"empty key", []job.Option{job.Sequence("")}, job.ErrInvalidName, "sequence key is empty"},
		{"dot in key", []job.Option{job.Sequence("a.b")}, job.ErrInvalidName, `character '.'`},
		{"long key", []job.Option{job.Sequence(strings.Repeat("k", 129))}, job.ErrInvalidName, "at most 128"},
		{"delayed", []job.Option{job.Sequence("k"), job.In(time.Minute)}, job.ErrInvalidOption, "cannot wait for a schedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := job.ValidateOptions(tc.opts...)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	if err := job.ValidateOptions(job.Sequence(strings.Repeat("k", 128)), job.Queue("q")); err != nil {
		t.Fatal(err)
	}
}

// Ensure adds the transform to a work stream made without one (an older
// jetjobs), keeps an existing count when none is asked for, and refuses to
// change it.
func TestEnsureSequencePartitions(t *testing.T) {
	_, js, _ := newClient(t, job.Topology{SequencePartitions: 5})
	ctx := context.Background()
	s, _ := js.Stream(ctx, "JOBS")
	cfg := s.CachedInfo().Config
	cfg.SubjectTransform = nil
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	partitions := func() int {
		s, err := js.Stream(ctx, "JOBS")
		if err != nil {
			t.Fatal(err)
		}
		return job.SequencePartitionsOf(s.CachedInfo().Config, "jobs")
	}
	if err := (job.Topology{}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	if n := partitions(); n != job.DefaultSequencePartitions {
		t.Fatalf("after Ensure: %d partitions, want %d", n, job.DefaultSequencePartitions)
	}
	err := job.Topology{SequencePartitions: 4}.Ensure(ctx, js)
	if !errors.Is(err, job.ErrTopologyMismatch) || !strings.Contains(err.Error(), fmt.Sprintf("into %d partitions, not 4", job.DefaultSequencePartitions)) {
		t.Fatalf("changing the count: %v", err)
	}
	if err := (job.Topology{SequencePartitions: 300}).Validate(); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("300 partitions: %v", err)
	}
}

// The same work in two keys is two jobs under Unique, and a periodic
// schedule refuses a sequence.
func TestSequenceUniqueAndSchedules(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	a, err := c.Enqueue(ctx, "sync", map[string]int{"v": 1}, job.Sequence("a"), job.Unique())
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Enqueue(ctx, "sync", map[string]int{"v": 1}, job.Sequence("b"), job.Unique())
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Enqueue(ctx, "sync", map[string]int{"v": 1}, job.Sequence("a"), job.Unique())
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || b.Duplicate || !again.Duplicate || again.ID != a.ID {
		t.Fatalf("key a %+v, key b %+v, key a again %+v: want two jobs, the third a duplicate of the first", a, b, again)
	}
	_, err = c.DeclareSchedule(ctx, job.Schedule{Name: "nightly", Spec: "@daily", Kind: "sync", Options: []job.Option{job.Sequence("a")}})
	if !errors.Is(err, job.ErrInvalidOption) || !strings.Contains(err.Error(), "Sequence") {
		t.Fatalf("schedule with a sequence: %v", err)
	}
}
