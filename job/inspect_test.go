package job_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

func TestInspectorQueues(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	before := time.Now()
	for range 3 {
		if _, err := c.Enqueue(ctx, "email.send", nil, job.Queue("mail")); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := c.Enqueue(ctx, "report.build", nil, job.Queue("reports")); err != nil {
			t.Fatal(err)
		}
	}

	// A queue consumer like a worker's: one job received twice (Nak'd once)
	// and not settled. MaxAckPending 1 makes the second receive wait for
	// the Nak'd job, which the server may not have handled yet, instead of
	// taking the next one.
	stream, err := js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "mail", FilterSubject: "jobs.mail.>", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := msg.Nak(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A dead letter of queue mail.
	topo := c.Topology()
	dl := topo.DeadLetterMessage("jobs.mail.email.send", nil, []byte(`{}`), "dead-1", "mail", "JOBS", 99, job.ReasonFailed, "boom", 3)
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Fatal(err)
	}

	stats, err := c.Inspector().Queues(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 2 || stats[0].Queue != "mail" || stats[1].Queue != "reports" {
		t.Fatalf("queues = %+v, want mail and reports", stats)
	}
	mail, reports := stats[0], stats[1]
	if !mail.Bound || mail.Pending != 2 || mail.Running != 1 || mail.Redelivered != 1 || mail.DeadLetters != 1 {
		t.Errorf("mail = %+v, want bound, 2 pending, 1 running, 1 redelivered, 1 dead letter", mail)
	}
	if reports.Bound || reports.Pending != 2 || reports.Running != 0 || reports.DeadLetters != 0 {
		t.Errorf("reports = %+v, want unbound with 2 pending", reports)
	}
	for _, s := range stats {
		if s.OldestPendingAt.Before(before.Add(-time.Second)) || s.OldestPendingAt.After(time.Now()) || s.OldestPendingAge < 0 {
			t.Errorf("%s: oldest pending at %s (age %s), want a time during the test", s.Queue, s.OldestPendingAt, s.OldestPendingAge)
		}
	}

	one, err := c.Inspector().Queue(ctx, "reports")
	if err != nil || one.Pending != 2 {
		t.Errorf("Queue(reports) = %+v, %v; want 2 pending", one, err)
	}
	none, err := c.Inspector().Queue(ctx, "nobody")
	if err != nil || none.Bound || none.Pending != 0 || none.Queue != "nobody" {
		t.Errorf("Queue(nobody) = %+v, %v; want zero figures", none, err)
	}
	if _, err := c.Inspector().Queue(ctx, "_reserved"); !errors.Is(err, job.ErrInvalidName) {
		t.Errorf("Queue(_reserved) error = %v, want ErrInvalidName", err)
	}
}

func TestInspectorWithoutStream(t *testing.T) {
	_, js, _ := newClient(t, job.Topology{})
	in, err := job.NewInspector(js, job.Topology{Stream: "OTHER", Prefix: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Queues(context.Background()); !errors.Is(err, job.ErrNoStream) {
		t.Fatalf("Queues without the work stream: error = %v, want ErrNoStream", err)
	}
	if _, err := job.NewInspector(nil, job.Topology{}); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("NewInspector(nil) error = %v, want ErrInvalidOption", err)
	}
}

// Dead letters are counted per queue without listing one subject per dead
// letter; a queue that has only dead letters is still found, and forgotten
// once they are gone. The counting consumers do not outlive a read.
func TestInspectorDeadLetterCounts(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	if _, err := c.Enqueue(ctx, "email.send", nil, job.Queue("mail")); err != nil {
		t.Fatal(err)
	}
	topo := c.Topology()
	seq := uint64(0) // of the jobs dead-lettered, which the server deduplicates by
	deadLetter := func(queue string, n int) {
		t.Helper()
		for range n {
			seq++
			id := fmt.Sprintf("%s-%d", queue, seq)
			if _, err := js.PublishMsg(ctx, topo.DeadLetterMessage("jobs.x.y", nil, nil, id, queue, "JOBS", seq, job.ReasonFailed, "boom", 1)); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadLetter("mail", 2)
	deadLetter("orphan", 3) // no consumer, no jobs
	deadLetter("", 1)       // queue unreadable: the _invalid pseudo-queue, not reported

	in := c.Inspector()
	figures := func() map[string]uint64 {
		t.Helper()
		qs, err := in.Queues(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, q := range qs {
			out[q.Queue] = q.DeadLetters
		}
		return out
	}
	want := map[string]uint64{"mail": 2, "orphan": 3}
	for read := range 2 { // the first read finds orphan, the second remembers it
		if got := figures(); !maps.Equal(got, want) {
			t.Errorf("read %d: dead letters = %v, want %v", read+1, got, want)
		}
	}
	if q, err := job.NewInspector(js, job.Topology{}); err != nil {
		t.Fatal(err)
	} else if one, err := q.Queue(ctx, "orphan"); err != nil || one.DeadLetters != 3 || one.Bound {
		t.Errorf("Queue(orphan) = %+v, %v; want 3 dead letters, unbound", one, err)
	}

	dlq, err := js.Stream(ctx, "JOBS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if err := dlq.Purge(ctx, jetstream.WithPurgeSubject("jobs_dlq.orphan.>")); err != nil {
		t.Fatal(err)
	}
	for read := range 2 {
		if got := figures(); !maps.Equal(got, map[string]uint64{"mail": 2}) {
			t.Errorf("read %d after purging orphan: dead letters = %v, want mail's 2 only", read+1, got)
		}
	}
	deadLetter("orphan", 1)
	if got := figures(); !maps.Equal(got, map[string]uint64{"mail": 2, "orphan": 1}) {
		t.Errorf("after a new dead letter of orphan: dead letters = %v", got)
	}

	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("the dead-letter stream has %d consumers after the reads, want 0", info.State.Consumers)
	}
}
