package job_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// Pending jobs are listed page by page, oldest or newest first, by kind,
// and reading them consumes nothing.
func TestPendingJobsPagesWithoutConsuming(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	for i := range 30 {
		kind := "a.x"
		if i%3 == 0 {
			kind = "b"
		}
		if _, err := c.Enqueue(ctx, kind, map[string]int{"i": i}, job.ID(fmt.Sprintf("j%02d", i)), job.Queue("q")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Enqueue(ctx, "other", nil, job.Queue("elsewhere")); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.PendingJobs(ctx, "q", job.JobFilter{Limit: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 12 || page.Jobs[0].ID != "j00" || page.Jobs[11].ID != "j11" || page.Next == 0 {
		t.Fatalf("first page: %d jobs, first %q, next %d", len(page.Jobs), page.Jobs[0].ID, page.Next)
	}
	var ids []string
	for after := uint64(0); ; {
		p, err := c.PendingJobs(ctx, "q", job.JobFilter{Limit: 7, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range p.Jobs {
			ids = append(ids, j.ID)
		}
		if p.Next == 0 {
			break
		}
		after = p.Next
	}
	if len(ids) != 30 || ids[29] != "j29" {
		t.Fatalf("paged through %d jobs: %v", len(ids), ids)
	}
	b, err := c.PendingJobs(ctx, "q", job.JobFilter{Kind: "b", Newest: true, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Jobs) != 4 || b.Jobs[0].ID != "j27" || b.Jobs[3].ID != "j18" || b.Jobs[0].Kind != "b" {
		t.Fatalf("newest of kind b: %+v", b.Jobs)
	}
	s, _ := js.Stream(ctx, "JOBS")
	if n := s.CachedInfo().State.Msgs; n != 60 {
		t.Fatalf("stream holds %d jobs after browsing, want 60", n)
	}
	if _, err := c.PendingJobs(ctx, "bad queue", job.JobFilter{}); !errors.Is(err, job.ErrInvalidName) {
		t.Fatalf("bad queue: err = %v", err)
	}
}

func TestFindJobInEveryPlace(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	r, err := c.Enqueue(ctx, "k", nil, job.ID("pend-1"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.FindJob(ctx, "pend-1", job.FindOptions{})
	if err != nil || f.State != job.JobPending || f.Job.Seq != r.Seq {
		t.Fatalf("pending: %+v, %v", f, err)
	}
	if _, err := c.Enqueue(ctx, "k", nil, job.ID("later"), job.In(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f, err = c.FindJob(ctx, "later", job.FindOptions{})
	if err != nil || f.State != job.JobDelayed || f.Delayed.Kind != "k" || f.Delayed.Queue != "default" || f.Delayed.RunAt.IsZero() {
		t.Fatalf("delayed: %+v, %v", f, err)
	}
	delayed, next, err := c.DelayedJobs(ctx, 0, 10)
	if err != nil || len(delayed) != 1 || next != 0 || delayed[0].ID != "later" {
		t.Fatalf("delayed jobs: %+v next %d err %v", delayed, next, err)
	}
	deadLetter(t, c, js, "dead-1", "q", "k", job.ReasonFailed, "boom")
	f, err = c.FindJob(ctx, "dead-1", job.FindOptions{})
	if err != nil || f.State != job.JobDead || f.DeadLetter.Error != "boom" {
		t.Fatalf("dead: %+v, %v", f, err)
	}
	if _, err := c.FindJob(ctx, "nowhere", job.FindOptions{}); !errors.Is(err, job.ErrJobNotLocated) {
		t.Fatalf("unknown: err = %v", err)
	}
	// A plain job's ID names its place: found however deep it waits.
	reqs := make([]job.Request, 20)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "k", Args: i}
	}
	res, err := c.EnqueueMany(ctx, reqs)
	if err != nil || res[15].Err != nil {
		t.Fatal(err, res[15].Err)
	}
	f, err = c.FindJob(ctx, res[15].ID, job.FindOptions{ScanPending: 5})
	if err != nil || f.State != job.JobPending || f.Job.Seq != res[15].Seq || f.Job.ID != res[15].ID {
		t.Fatalf("plain job 15 behind 5 scanned: %+v, %v", f, err)
	}
}

// deadLetter stores a dead letter as a worker would.
func deadLetter(t *testing.T, c *job.Client, js jetstream.JetStream, id, queue, kind string, reason job.Reason, cause string) uint64 {
	t.Helper()
	topo := c.Topology()
	msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, queue, kind), nil, []byte(`{"x":1}`), id, queue, "JOBS", uint64(time.Now().UnixNano()), reason, cause, 3)
	msg.Header.Set(job.HeaderID, id)
	ack, err := js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// Queries select by queue, kind, reason and error text, count exactly up
// to a mark, and replay or delete only what existed at the mark.
func TestDeadLetterQueryCountReplayDelete(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	for i := range 40 {
		q, kind, reason, cause := "a", "k1", job.ReasonFailed, "timeout talking to db"
		if i%2 == 0 {
			q = "b"
		}
		if i%4 == 0 {
			kind, reason, cause = "k2", job.ReasonDecode, "bad json"
		}
		deadLetter(t, c, js, fmt.Sprintf("d%02d", i), q, kind, reason, cause)
	}
	mark, err := c.DeadLetterSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadLetter(t, c, js, "after-mark", "b", "k2", job.ReasonDecode, "bad json")

	count := func(q job.DeadLetterQuery) uint64 {
		t.Helper()
		q.Through = mark
		n, err := c.CountDeadLetters(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(job.DeadLetterQuery{}); n != 40 {
		t.Fatalf("all: %d", n)
	}
	if n := count(job.DeadLetterQuery{Queue: "b"}); n != 20 {
		t.Fatalf("queue b: %d", n)
	}
	if n := count(job.DeadLetterQuery{Queue: "b", Kind: "k2"}); n != 10 {
		t.Fatalf("queue b kind k2: %d", n)
	}
	if n := count(job.DeadLetterQuery{ErrorContains: "TIMEOUT"}); n != 30 {
		t.Fatalf("error timeout: %d", n)
	}
	if n := count(job.DeadLetterQuery{Reason: job.ReasonDecode}); n != 10 {
		t.Fatalf("reason decode: %d", n)
	}

	page, err := c.QueryDeadLetters(ctx, job.DeadLetterQuery{Kind: "k2", Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.DeadLetters) != 4 || page.Next == 0 || page.DeadLetters[0].ID != "d00" || page.DeadLetters[1].ID != "d04" {
		t.Fatalf("page: %+v", page)
	}
	// An error filter reads the headers of what the other filters
	// select, at most ScanLimit of them a page.
	page, err = c.QueryDeadLetters(ctx, job.DeadLetterQuery{ErrorContains: "json", ScanLimit: 5})
	if err != nil || len(page.DeadLetters) != 2 || page.Next != 5 || page.Scanned != 5 {
		t.Fatalf("scan-limited page: %d dead letters, next %d, scanned %d, %v", len(page.DeadLetters), page.Next, page.Scanned, err)
	}
	// A kind is selected by the server: the page reads only its dead
	// letters.
	page, err = c.QueryDeadLetters(ctx, job.DeadLetterQuery{Kind: "k2", ScanLimit: 5})
	if err != nil || len(page.DeadLetters) != 5 || page.Next != 17 || page.Scanned != 5 {
		t.Fatalf("kind page: %d dead letters, next %d, scanned %d, %v", len(page.DeadLetters), page.Next, page.Scanned, err)
	}

	n, err := c.ReplayDeadLetters(ctx, job.DeadLetterQuery{Kind: "k2", Through: mark})
	if err != nil || n != 10 {
		t.Fatalf("replayed %d, %v", n, err)
	}
	if _, err := c.DeadLetter(ctx, "after-mark"); err != nil {
		t.Fatalf("the dead letter after the mark was touched: %v", err)
	}
	n, err = c.DeleteDeadLetters(ctx, job.DeadLetterQuery{ErrorContains: "db", Queue: "a", Through: mark})
	if err != nil || n != 20 {
		t.Fatalf("deleted %d, %v", n, err)
	}
	n, err = c.DeleteDeadLetters(ctx, job.DeadLetterQuery{Through: mark})
	if err != nil || n != 10 {
		t.Fatalf("purged %d, %v", n, err)
	}
	left, err := c.DeadLetters(ctx, job.DeadLetterFilter{})
	if err != nil || len(left) != 1 || left[0].ID != "after-mark" {
		t.Fatalf("left: %+v, %v", left, err)
	}
	if _, err := c.DeleteDeadLetters(ctx, job.DeadLetterQuery{}); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("no mark: err = %v", err)
	}
}

// Dead letters of a queue, newest first, page by page.
func TestDeadLettersNewestFirst(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	for i := range 25 {
		q := "a"
		if i%5 == 0 {
			q = "b"
		}
		deadLetter(t, c, js, fmt.Sprintf("d%02d", i), q, "k", job.ReasonFailed, "x")
	}
	var ids []string
	var before uint64
	for range 10 {
		page, err := c.QueryDeadLetters(ctx, job.DeadLetterQuery{Queue: "a", Newest: true, Before: before, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, dl := range page.DeadLetters {
			ids = append(ids, dl.ID)
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
	}
	if len(ids) != 20 || ids[0] != "d24" || ids[1] != "d23" || ids[19] != "d01" {
		t.Fatalf("newest first: %v", ids)
	}
}
