package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type seqArgs struct {
	Key string `json:"key"`
	N   int    `json:"n"`
	// Fail fails the first attempt; Snooze snoozes it; Dead fails it
	// permanently.
	Fail   bool `json:"fail,omitempty"`
	Snooze bool `json:"snooze,omitempty"`
	Dead   bool `json:"dead,omitempty"`
}

// seqLedger checks, as jobs start and end, that no two jobs of a key
// overlap and that each key's jobs start in enqueue order (a retried job
// starting again is the same place in the order).
type seqLedger struct {
	mu         sync.Mutex
	running    map[string]int // key -> running job's N, -1 none
	next       map[string]int // key -> N expected to start (or restart: N-1)
	done       map[string]int
	now, peak  int // jobs of any key running at once
	violations []string
}

func newSeqLedger() *seqLedger {
	return &seqLedger{running: map[string]int{}, next: map[string]int{}, done: map[string]int{}}
}

func (l *seqLedger) start(a seqArgs, attempt int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.running[a.Key]; ok && n >= 0 {
		l.violations = append(l.violations, fmt.Sprintf("key %s: job %d started while job %d ran", a.Key, a.N, n))
	}
	l.running[a.Key] = a.N
	if want := l.next[a.Key]; a.N != want && !(attempt > 1 && a.N == want-1) {
		l.violations = append(l.violations, fmt.Sprintf("key %s: job %d (attempt %d) started, want job %d", a.Key, a.N, attempt, want))
	}
	l.next[a.Key] = a.N + 1
	l.now++
	l.peak = max(l.peak, l.now)
}

func (l *seqLedger) end(a seqArgs, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running[a.Key] = -1
	l.now--
	if ok {
		l.done[a.Key]++
	}
}

func (l *seqLedger) finished(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done[key]
}

// Jobs of a key run one at a time in enqueue order across retries, a
// snooze and a dead-lettered job, while jobs of other keys run in
// parallel. Without the partition consumers' MaxAckPending 1 (or with a
// snooze that republishes) jobs of a key overlap or overtake.
func TestSequenceOrderThroughRetriesSnoozeAndDeadLetter(t *testing.T) {
	e := newEnv(t)
	const keys, perKey = 8, 30
	var reqs []job.Request
	for n := range perKey {
		for k := range keys {
			a := seqArgs{Key: fmt.Sprintf("k%d", k), N: n, Fail: n%7 == 3, Snooze: n == 12, Dead: n == 20 && k == 0}
			reqs = append(reqs, job.Request{Kind: "seq", Args: a, Options: []job.Option{job.Sequence(a.Key)}})
		}
	}
	res, err := e.client.EnqueueMany(context.Background(), reqs)
	must(t, err)
	for _, r := range res {
		must(t, r.Err)
	}
	l := newSeqLedger()
	e.pool(worker.Config{
		Queues:      map[string]worker.QueueConfig{"default": {Concurrency: 4}},
		RetryPolicy: retry.PolicyFunc(func(int) time.Duration { return 20 * time.Millisecond }),
		Logger:      testLogger(),
	}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "seq", func(ctx context.Context, j *job.Job[seqArgs]) error {
			if j.Sequence != j.Args.Key {
				t.Errorf("Info.Sequence %q, want %q", j.Sequence, j.Args.Key)
			}
			l.start(j.Args, j.Attempt)
			var err error
			switch {
			case j.Args.Dead:
				err = job.Permanent(errors.New("bad job"))
			case j.Args.Fail && j.Attempt == 1:
				err = errors.New("first attempt fails")
			case j.Args.Snooze && j.Attempt == 1:
				err = job.Snooze(30 * time.Millisecond)
			}
			time.Sleep(200 * time.Microsecond) // the job's work: room for an overlap
			l.end(j.Args, err == nil)
			return err
		}))
	})
	eventually(t, func() bool {
		for k := range keys {
			want := perKey
			if k == 0 {
				want-- // job 20 of k0 is dead-lettered
			}
			if l.finished(fmt.Sprintf("k%d", k)) < want {
				return false
			}
		}
		return true
	}, "every key's jobs to finish")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.violations {
		t.Error(v)
	}
	if l.peak < 2 {
		t.Errorf("at most %d job ran at once: keys did not run in parallel", l.peak)
	}
	dls := e.deadLetters()
	if len(dls) != 1 || dls[0].Reason != job.ReasonFailed {
		t.Fatalf("dead letters %+v, want job 20 of k0 failed", dls)
	}
}

// A sequence job whose kind the pool does not serve keeps its place: the
// next job of its key waits until a pool that serves it has run it.
func TestSequenceUnservedKindKeepsItsPlace(t *testing.T) {
	e := newEnv(t)
	e.enqueue("other", nil, job.Sequence("k"), job.ID("first"))
	e.enqueue("seq", seqArgs{Key: "k", N: 1}, job.Sequence("k"), job.ID("second"))
	var mu sync.Mutex
	var order []string
	record := func(id string) {
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
	}
	e.pool(worker.Config{UnservedTimeout: time.Hour}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "seq", func(ctx context.Context, j *job.Job[seqArgs]) error {
			record(j.ID)
			return nil
		}))
	})
	// The first pool passed "first" on (a delayed Nak); "second" must not
	// have started. A pool with the kind now takes it.
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "other", func(ctx context.Context, j *job.Job[json.RawMessage]) error {
			record(j.ID)
			return nil
		}))
	})
	eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 2
	}, "both jobs to run")
	if order[0] != "first" || order[1] != "second" {
		t.Fatalf("order %v, want [first second]", order)
	}
}

// Pausing a queue pauses its sequences too; resuming lets them run.
func TestSequencePausesWithItsQueue(t *testing.T) {
	e := newEnv(t)
	_, ran := recordingPool(e)
	ctx := context.Background()
	if _, err := e.client.PauseQueue(ctx, "default", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// The queue's first sequence job makes the pool open its partitions,
	// paused like the queue.
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("paused-job"))
	s, err := e.js.Stream(ctx, "JOBS")
	must(t, err)
	for p := range job.DefaultSequencePartitions {
		eventually(t, func() bool {
			c, err := s.Consumer(ctx, job.PartitionConsumer("default", p))
			return err == nil && c.CachedInfo().Paused
		}, "partition %d opened, paused", p)
	}
	select {
	case id := <-ran:
		t.Fatalf("%s ran while its queue was paused", id)
	default:
	}
	must(t, e.client.ResumeQueue(ctx, "default"))
	expectRun(t, ran, "paused-job", "after the queue resumed")
}

// A sequence job whose workers died on every delivery reaches the
// partition consumer's MaxDeliver: the server lets the key's next job
// start, and a pool dead-letters the dead one from the partition
// consumer's MAX_DELIVERIES advisory, filed under its queue.
func TestSequenceMaxDeliveriesDeadLettersAndUnblocksKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("dies"))
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("next"))
	// A "worker" that takes the job twice and dies each time: it never
	// acknowledges, and the server redelivers after AckWait.
	s, err := e.js.Stream(ctx, "JOBS")
	must(t, err)
	part := wireDefaultPartition("default", "k")
	cons, err := s.CreateOrUpdateConsumer(ctx, worker.PartitionConsumerConfig(job.Topology{}, "default", part, time.Second, 2))
	must(t, err)
	for delivery := 1; delivery <= 2; delivery++ {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		must(t, err)
		var got []string
		for m := range batch.Messages() {
			got = append(got, m.Headers().Get(job.HeaderID))
		}
		if len(got) != 1 || got[0] != "dies" {
			t.Fatalf("delivery %d: got %v, want the key's first job", delivery, got)
		}
	}
	ran := make(chan string, 2)
	e.pool(worker.Config{MaxAttempts: 1, MaxDeliver: 2, AckWait: time.Second}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "seq", func(ctx context.Context, j *job.Job[json.RawMessage]) error {
			ran <- j.ID
			return nil
		}))
	})
	select {
	case id := <-ran:
		if id != "next" {
			t.Fatalf("ran %s, want next", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the key's next job did not run")
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter of the job that reached MaxDeliver")
	dl := e.deadLetters()[0]
	if dl.ID != "dies" || dl.Reason != job.ReasonMaxDeliveries || dl.Queue != "default" || dl.Kind != "seq" {
		t.Fatalf("dead letter %+v", dl)
	}
}

// wireDefaultPartition is the partition of key in queue with the default
// partition count.
func wireDefaultPartition(queue, key string) int {
	return wire.Partition(queue, key, job.DefaultSequencePartitions)
}

// A dead-lettered sequence job replays into its partition, after the jobs
// of its key that are waiting then.
func TestSequenceDeadLetterReplays(t *testing.T) {
	e := newEnv(t)
	var failed atomic.Bool
	ran := make(chan string, 4)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "seq", func(ctx context.Context, j *job.Job[json.RawMessage]) error {
			if j.ID == "bad" && failed.CompareAndSwap(false, true) {
				return job.Permanent(errors.New("bad input"))
			}
			ran <- j.ID
			return nil
		}))
	})
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("bad"))
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter of bad")
	if _, err := e.client.Replay(context.Background(), "bad"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-ran:
		if id != "bad" {
			t.Fatalf("ran %s, want the replayed job", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the replayed sequence job did not run")
	}
}

// partitionConsumers counts the partition consumers of queue on the work
// stream.
func partitionConsumers(t *testing.T, e *env, queue string) int {
	t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, "JOBS")
	must(t, err)
	n := 0
	for p := range job.DefaultSequencePartitions {
		if _, err := s.Consumer(ctx, job.PartitionConsumer(queue, p)); err == nil {
			n++
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
	}
	return n
}

// A queue's partition consumers are made on its first sequence job, not
// at Start: until then every acknowledgement of the queue's other jobs
// would cost the server a look at sixteen idle consumers.
func TestSequencePartitionsOpenOnFirstSequenceJob(t *testing.T) {
	e := newEnv(t)
	_, ran := recordingPool(e)
	e.enqueue("seq", nil, job.ID("plain"))
	expectRun(t, ran, "plain", "")
	if n := partitionConsumers(t, e, "default"); n != 0 {
		t.Fatalf("%d partition consumers before any sequence job, want 0", n)
	}
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("first-in-sequence"))
	expectRun(t, ran, "first-in-sequence", "as the queue's first sequence job")
	if n := partitionConsumers(t, e, "default"); n != job.DefaultSequencePartitions {
		t.Fatalf("%d partition consumers after the first sequence job, want %d", n, job.DefaultSequencePartitions)
	}
}

// Sequence jobs stored before the pool started open the partitions at
// Start; so do partition consumers an earlier pool made.
func TestSequencePartitionsOpenAtStartWhenInUse(t *testing.T) {
	e := newEnv(t)
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("waiting"))
	p, ran := recordingPool(e)
	if n := partitionConsumers(t, e, "default"); n != job.DefaultSequencePartitions {
		t.Fatalf("%d partition consumers when Start returned, want %d", n, job.DefaultSequencePartitions)
	}
	expectRun(t, ran, "waiting", "when stored before Start")
	must(t, p.Stop(context.Background()))

	// The partition consumers exist now; a new pool binds them at Start.
	_, ran = recordingPool(e)
	e.enqueue("seq", nil, job.Sequence("k"), job.ID("later"))
	expectRun(t, ran, "later", "on partitions an earlier pool made")
}

// A sequence job whose publish the pool did not hear (stored under its
// partition directly here, as after a disconnect) is found by the pool's
// look into the work stream.
func TestSequencePartitionsOpenOnStoredJobNotHeard(t *testing.T) {
	defer worker.SetSequenceProbeInterval(200 * time.Millisecond)()
	e := newEnv(t)
	_, ran := recordingPool(e)
	subject := wire.PartitionSubject("jobs", "default", wireDefaultPartition("default", "k"), "k", "seq")
	msg := &nats.Msg{Subject: subject, Header: nats.Header{job.HeaderID: {"not-heard"}}}
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	expectRun(t, ran, "not-heard", "found by the look into the stream")
}

// recordingPool starts a pool on e whose kind "seq" sends each job's ID
// to the channel it returns.
func recordingPool(e *env) (*worker.Pool, <-chan string) {
	ran := make(chan string, 8)
	p := e.pool(worker.Config{}, func(p *worker.Pool) {
		must(e.t, worker.Handle(p, "seq", func(ctx context.Context, j *job.Job[json.RawMessage]) error {
			ran <- j.ID
			return nil
		}))
	})
	return p, ran
}

// expectRun waits for the next job to run and fails unless it is want.
func expectRun(t *testing.T, ran <-chan string, want, what string) {
	t.Helper()
	select {
	case id := <-ran:
		if id != want {
			t.Fatalf("ran %s, want %s", id, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("job %s did not run %s", want, what)
	}
}
