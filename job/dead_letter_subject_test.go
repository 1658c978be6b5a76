package job_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// storedDeadLetter is what a test stored, to compute what a query selects.
type storedDeadLetter struct {
	id, queue, kind string
	reason          job.Reason
	cause           string
	v1              bool
}

func (d storedDeadLetter) selectedBy(q job.DeadLetterQuery) bool {
	return (q.Queue == "" || d.queue == q.Queue) && (q.Kind == "" || d.kind == q.Kind) &&
		(q.Reason == "" || d.reason == q.Reason) && (q.ErrorContains == "" || d.cause == q.ErrorContains)
}

// storeDeadLetter stores d's dead letter as a worker of this version
// would, or, for d.v1, on the subject older versions filed it under.
func storeDeadLetter(t *testing.T, c *job.Client, js jetstream.JetStream, d storedDeadLetter) uint64 {
	t.Helper()
	topo := c.Topology()
	msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, d.queue, d.kind), nats.Header{job.HeaderID: {d.id}}, []byte(`{"x":1}`), d.id, d.queue, "JOBS", 1, d.reason, d.cause, 3)
	msg.Header.Del(job.HeaderMsgID)
	if d.v1 {
		msg.Subject = wire.DeadLetterSubjectV1(topo.DeadLetterPrefix, d.queue, d.id)
	}
	ack, err := js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// Queue, kind and reason filters select exactly, whether a dead letter is
// filed under its reason and kind or was stored by an older version under
// <queue>.<id> only; counts, pages, deletes and replays agree on what
// they select, and spare what came after the mark.
func TestDeadLetterFiltersReadBothSubjectForms(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	var stored []storedDeadLetter
	kinds := []string{"email", "email.send", "send"}
	reasons := []job.Reason{job.ReasonFailed, job.ReasonDecode}
	for i := range 48 {
		d := storedDeadLetter{
			id: fmt.Sprintf("d%02d", i), queue: []string{"a", "b"}[i%2], kind: kinds[i%3],
			reason: reasons[(i/3)%2], cause: []string{"quota", "timeout"}[(i/6)%2], v1: i%4 == 3,
		}
		storeDeadLetter(t, c, js, d)
		stored = append(stored, d)
	}
	mark, err := c.DeadLetterSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storeDeadLetter(t, c, js, storedDeadLetter{id: "late", queue: "a", kind: "email", reason: job.ReasonFailed, cause: "quota"})
	storeDeadLetter(t, c, js, storedDeadLetter{id: "late-v1", queue: "a", kind: "email", reason: job.ReasonFailed, cause: "quota", v1: true})

	want := func(q job.DeadLetterQuery) []string {
		var ids []string
		for _, d := range stored {
			if d.selectedBy(q) {
				ids = append(ids, d.id)
			}
		}
		return ids
	}
	var queries []job.DeadLetterQuery
	for _, queue := range []string{"", "a"} {
		for _, kind := range append([]string{""}, kinds...) {
			for _, reason := range []job.Reason{"", job.ReasonDecode} {
				for _, cause := range []string{"", "timeout"} {
					queries = append(queries, job.DeadLetterQuery{Queue: queue, Kind: kind, Reason: reason, ErrorContains: cause})
				}
			}
		}
	}
	for _, q := range queries {
		q.Through = mark
		ids := want(q)
		n, err := c.CountDeadLetters(ctx, q)
		if err != nil || n != uint64(len(ids)) {
			t.Errorf("%+v: counted %d, %v; want %d", q, n, err, len(ids))
		}
		var got []string
		for page := q; ; {
			page.Limit = 4
			p, err := c.QueryDeadLetters(ctx, page)
			if err != nil {
				t.Fatal(err)
			}
			for _, dl := range p.DeadLetters {
				got = append(got, dl.ID)
			}
			if p.Next == 0 {
				break
			}
			page.After = p.Next
		}
		if !slices.Equal(got, ids) {
			t.Errorf("%+v: listed %v, want %v", q, got, ids)
		}
	}

	// Delete by kind: one purge for those filed under it, a delete each
	// for the v1 ones of that kind.
	byKind := job.DeadLetterQuery{Kind: "email", Through: mark}
	deleted := want(byKind)
	n, err := c.DeleteDeadLetters(ctx, byKind)
	if err != nil || n != len(deleted) {
		t.Fatalf("deleted %d, %v; want %d", n, err, len(deleted))
	}
	stored = slices.DeleteFunc(stored, func(d storedDeadLetter) bool { return slices.Contains(deleted, d.id) })

	// Replay by queue and reason, both forms.
	byReason := job.DeadLetterQuery{Queue: "b", Reason: job.ReasonDecode, Through: mark}
	replayed := want(byReason)
	n, err = c.ReplayDeadLetters(ctx, byReason)
	if err != nil || n != len(replayed) {
		t.Fatalf("replayed %d, %v; want %d", n, err, len(replayed))
	}
	work, err := js.Stream(ctx, c.Topology().Stream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := work.Info(ctx); err != nil || info.State.Msgs != uint64(len(replayed)) {
		t.Fatalf("work stream holds %v jobs (%v); want %d replayed", info.State.Msgs, err, len(replayed))
	}
	stored = slices.DeleteFunc(stored, func(d storedDeadLetter) bool { return slices.Contains(replayed, d.id) })

	left, err := c.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var leftIDs []string
	for _, dl := range left {
		leftIDs = append(leftIDs, dl.ID)
	}
	if wantLeft := append(want(job.DeadLetterQuery{}), "late", "late-v1"); !slices.Equal(leftIDs, wantLeft) {
		t.Fatalf("left %v, want %v", leftIDs, wantLeft)
	}
}

// A dead letter an older version stored under <queue>.<id> is found by
// ID, replayed, and purged with its queue's.
func TestDeadLetterOfOlderFormReplays(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{Stream: "APP", Prefix: "app"})
	ctx := context.Background()
	storeDeadLetter(t, c, js, storedDeadLetter{id: "old-1", queue: "mail", kind: "email.send", reason: job.ReasonFailed, cause: "boom", v1: true})
	storeDeadLetter(t, c, js, storedDeadLetter{id: "old-2", queue: "mail", kind: "email.send", reason: job.ReasonFailed, cause: "boom", v1: true})
	newest := storeDeadLetter(t, c, js, storedDeadLetter{id: "new-1", queue: "mail", kind: "email.send", reason: job.ReasonFailed, cause: "boom"})

	dl, err := c.DeadLetter(ctx, "old-1")
	if err != nil || dl.Queue != "mail" || dl.Kind != "email.send" || dl.Reason != job.ReasonFailed {
		t.Fatalf("DeadLetter(old-1) = %+v, %v", dl, err)
	}
	res, err := c.Replay(ctx, "old-1")
	if err != nil || res.ID != "old-1" {
		t.Fatalf("replay of a v1 dead letter: %+v, %v", res, err)
	}
	if _, err := c.DeadLetter(ctx, "old-1"); !errors.Is(err, job.ErrDeadLetterNotFound) {
		t.Fatalf("after replay: %v", err)
	}
	// The same ID dead again, in both forms: the newest is the one found.
	storeDeadLetter(t, c, js, storedDeadLetter{id: "new-1", queue: "mail", kind: "email.send", reason: job.ReasonDecode, cause: "boom", v1: true})
	if dl, err := c.DeadLetter(ctx, "new-1"); err != nil || dl.Seq <= newest || dl.Reason != job.ReasonDecode {
		t.Fatalf("DeadLetter(new-1) = seq %d reason %s, %v; want the v1 one after %d", dl.Seq, dl.Reason, err, newest)
	}
	if n, err := c.PurgeDeadLetters(ctx, "mail"); err != nil || n != 3 {
		t.Fatalf("purged %d, %v; want 3", n, err)
	}
}

// Replay refuses a dead letter filed under another kind or reason than it
// names: a replay of all that match a kind must not publish a job of
// another kind.
func TestReplayRefusesDeadLetterFiledUnderAnotherKindOrReason(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	topo := c.Topology()
	forge := func(id, filedReason, filedKind string) uint64 {
		t.Helper()
		msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, "mail", "email.send"), nil, nil, id, "mail", "JOBS", 1, job.ReasonFailed, "boom", 1)
		msg.Header.Del(job.HeaderMsgID)
		msg.Subject = wire.DeadLetterSubject(topo.DeadLetterPrefix, "mail", filedReason, id, filedKind)
		ack, err := js.PublishMsg(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	for _, tc := range []struct {
		name, reason, kind string
		refused            bool
	}{
		{"filed as it names", "failed", "email.send", false},
		{"another kind", "failed", "report", true},
		{"a kind it starts with", "failed", "email", true},
		{"another reason", "decode", "email.send", true},
	} {
		seq := forge(tc.name[:3]+"-"+tc.kind, tc.reason, tc.kind)
		_, err := c.ReplayDeadLetterAt(ctx, seq)
		if refused := errors.Is(err, job.ErrInvalidDeadLetter); refused != tc.refused || (!tc.refused && err != nil) {
			t.Errorf("%s: replay: %v; want refused %v", tc.name, err, tc.refused)
		}
	}
	// A bulk replay of kind report selects the forged one and refuses it.
	mark, _ := c.DeadLetterSequence(ctx)
	if n, err := c.ReplayDeadLetters(ctx, job.DeadLetterQuery{Kind: "report", Through: mark}); n != 0 || !errors.Is(err, job.ErrInvalidDeadLetter) {
		t.Fatalf("bulk replay of kind report: %d, %v", n, err)
	}
}

// A filter whose names are not names (a wildcard, a space) is refused
// with ErrInvalidName instead of widening the server's subject filter.
func TestDeadLetterQueryRefusesBadNames(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	storeDeadLetter(t, c, js, storedDeadLetter{id: "d1", queue: "mail", kind: "email", reason: job.ReasonFailed, cause: "boom"})
	mark, _ := c.DeadLetterSequence(ctx)
	for _, q := range []job.DeadLetterQuery{
		{Kind: ">"}, {Kind: "email.*"}, {Kind: "a b"}, {Reason: "*"}, {Reason: "a.b"}, {Queue: "*"},
	} {
		q.Through = mark
		if _, err := c.CountDeadLetters(ctx, q); !errors.Is(err, job.ErrInvalidName) {
			t.Errorf("count %+v: %v, want ErrInvalidName", q, err)
		}
		if _, err := c.DeleteDeadLetters(ctx, q); !errors.Is(err, job.ErrInvalidName) {
			t.Errorf("delete %+v: %v, want ErrInvalidName", q, err)
		}
	}
	if n, err := c.CountDeadLetters(ctx, job.DeadLetterQuery{}); err != nil || n != 1 {
		t.Fatalf("after the refusals: %d dead letters, %v", n, err)
	}
}
