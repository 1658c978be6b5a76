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

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestConcurrencyLimitIsNeverExceeded(t *testing.T) {
	e := newEnv(t)
	const limit, jobs = 4, 60
	var running, peak, done atomic.Int32
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: limit}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "work", func(ctx context.Context, j *job.Job[struct{}]) error {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond) // the work itself
			running.Add(-1)
			done.Add(1)
			return nil
		}))
	})
	reqs := make([]job.Request, jobs)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "work"}
	}
	_, err := e.client.EnqueueMany(context.Background(), reqs)
	must(t, err)
	eventually(t, func() bool { return done.Load() == jobs }, "all jobs done (%d)", done.Load())
	if peak.Load() > limit {
		t.Fatalf("peak concurrency %d exceeds limit %d", peak.Load(), limit)
	}
	if peak.Load() < 2 {
		t.Fatalf("peak concurrency %d: jobs did not run concurrently", peak.Load())
	}
}

func TestBusyPoolLeavesJobsForOthers(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	var slowRan, fastRan atomic.Int32
	// Pool A has one slot, taken by a long job; it must not hold more.
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 1}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "work", func(ctx context.Context, j *job.Job[struct{}]) error {
			slowRan.Add(1)
			<-release
			return nil
		}))
	})
	e.enqueue("work", nil)
	eventually(t, func() bool { return slowRan.Load() == 1 }, "slow job started")
	for range 5 {
		e.enqueue("work", nil)
	}
	_, js2 := e.srv.Connect(t)
	p2, err := worker.New(js2, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p2, "work", func(ctx context.Context, j *job.Job[struct{}]) error { fastRan.Add(1); return nil }))
	must(t, p2.Start(context.Background()))
	eventually(t, func() bool { return fastRan.Load() == 5 }, "second pool ran the 5 waiting jobs (ran %d)", fastRan.Load())
	close(release)
	must(t, p2.Stop(context.Background()))
}

func TestHeartbeatsKeepLongJobFromRedelivery(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int32
	finished := make(chan struct{})
	e.pool(worker.Config{AckWait: time.Second}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "long", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.Add(1)
			select {
			case <-time.After(4 * time.Second): // four times AckWait
			case <-ctx.Done():
				return ctx.Err()
			}
			close(finished)
			return nil
		}))
	})
	e.enqueue("long", nil)
	select {
	case <-finished:
	case <-time.After(15 * time.Second):
		t.Fatal("long job did not finish")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("long job ran %d times; heartbeats should have kept it from redelivery", n)
	}
	cons, err := e.js.Consumer(context.Background(), "JOBS", "default")
	must(t, err)
	info, err := cons.Info(context.Background())
	must(t, err)
	if info.NumRedelivered != 0 {
		t.Fatalf("consumer reports %d redelivered", info.NumRedelivered)
	}
}

func TestJobTimeoutCancelsContext(t *testing.T) {
	e := newEnv(t)
	evc := make(chan worker.Event, 1)
	e.pool(worker.Config{Hooks: worker.Hooks{OnDeadLetter: func(ev worker.Event) { evc <- ev }}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "slow", func(ctx context.Context, j *job.Job[struct{}]) error {
			if _, ok := ctx.Deadline(); !ok {
				return job.Permanent(errors.New("no deadline on the job context"))
			}
			<-ctx.Done()
			return ctx.Err()
		}))
	})
	e.enqueue("slow", nil, job.Timeout(100*time.Millisecond), job.MaxAttempts(1))
	select {
	case ev := <-evc:
		if !errors.Is(ev.Err, context.DeadlineExceeded) || ev.Duration < 100*time.Millisecond {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed-out job not dead-lettered")
	}
}

func TestGracefulShutdownFinishesInFlightJobs(t *testing.T) {
	e := newEnv(t)
	var completed sync.Map
	var runs atomic.Int32
	started := make(chan struct{}, 10)
	p, err := worker.New(e.js, worker.Config{Logger: testLogger(), Queues: map[string]worker.QueueConfig{"default": {Concurrency: 3}}})
	must(t, err)
	must(t, worker.Handle(p, "work", func(ctx context.Context, j *job.Job[struct{}]) error {
		runs.Add(1)
		started <- struct{}{}
		time.Sleep(300 * time.Millisecond) // finishes well within the deadline
		completed.Store(j.ID, true)
		return nil
	}))
	must(t, p.Start(context.Background()))
	for range 3 {
		e.enqueue("work", nil)
	}
	for range 3 {
		<-started
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Stop(ctx))
	n := 0
	completed.Range(func(_, _ any) bool { n++; return true })
	if n != 3 {
		t.Fatalf("%d of 3 in-flight jobs completed before Stop returned", n)
	}
	// Finished jobs were acknowledged: nothing is left to run again.
	if m := streamMsgs(t, e); m != 0 {
		t.Fatalf("%d jobs left in the stream after graceful stop", m)
	}
}

func TestShutdownDeadlineRedeliversUnfinishedJobsPromptly(t *testing.T) {
	e := newEnv(t)
	started := make(chan time.Time, 1) // when the job was enqueued
	p1, err := worker.New(e.js, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p1, "stuck", func(ctx context.Context, j *job.Job[struct{}]) error {
		started <- j.EnqueuedAt
		<-ctx.Done() // runs until shutdown cancels it
		return ctx.Err()
	}))
	must(t, p1.Start(context.Background()))
	// Its only attempt: were the interrupted attempt counted, the job would
	// be dead-lettered instead of running again.
	r := e.enqueue("stuck", nil, job.MaxAttempts(1))
	enqueued := <-started
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p1.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want deadline exceeded", err)
	}

	// Another worker gets it at once, not after AckWait (30s).
	_, js2 := e.srv.Connect(t)
	got := make(chan *job.Job[struct{}], 1)
	p2, err := worker.New(js2, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p2, "stuck", func(ctx context.Context, j *job.Job[struct{}]) error { got <- j; return nil }))
	t0 := time.Now()
	must(t, p2.Start(context.Background()))
	defer p2.Stop(context.Background())
	select {
	case j := <-got:
		if j.ID != r.ID || j.Attempt != 1 {
			t.Fatalf("redelivered %+v; the interrupted attempt must not count", j.Info)
		}
		// The copy handed back keeps the time of the first enqueue.
		if enqueued.IsZero() || !j.EnqueuedAt.Equal(enqueued) {
			t.Fatalf("the job handed back says it was enqueued at %s, the first delivery %s", j.EnqueuedAt, enqueued)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Fatalf("redelivery took %s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("interrupted job was not redelivered promptly")
	}
}

func TestServerRestartLosesNothing(t *testing.T) {
	e := newEnv(t)
	const jobs = 200
	var seen sync.Map
	var uniq atomic.Int32
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 8}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "n", func(ctx context.Context, j *job.Job[int]) error {
			time.Sleep(2 * time.Millisecond)
			if _, dup := seen.LoadOrStore(j.Args, true); !dup {
				uniq.Add(1)
			}
			return nil
		}))
	})
	for i := range jobs / 2 {
		e.enqueue("n", i)
	}
	eventually(t, func() bool { return uniq.Load() > 10 }, "some jobs ran")
	e.srv.Restart(t)
	for i := jobs / 2; i < jobs; i++ {
		// Generous: a loaded machine takes a while to restart the server
		// and recover its streams.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for {
			_, err := e.client.Enqueue(ctx, "n", i, job.ID(fmt.Sprintf("n-%d", i)))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("enqueue after restart: %v", err)
			}
			time.Sleep(50 * time.Millisecond) // the client is reconnecting
		}
		cancel()
	}
	eventually(t, func() bool { return uniq.Load() == jobs }, "all %d jobs ran after a server restart (%d did)", jobs, uniq.Load())
}

func TestMaxDeliveriesAdvisoryDeadLetters(t *testing.T) {
	e := newEnv(t)
	busyPool(t, e)
	r := e.enqueue("crashy", map[string]string{"k": "v"})
	cons, err := e.js.Consumer(context.Background(), "JOBS", "default")
	must(t, err)
	for range 2 {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		must(t, err)
		for m := range msgs.Messages() {
			_ = m // a worker that dies before settling
		}
	}
	// The server notices the limit when it next tries to deliver the job,
	// which needs a waiting pull request.
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
	must(t, err)
	for m := range msgs.Messages() {
		t.Fatalf("job delivered beyond MaxDeliver: %s", m.Subject())
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "max-deliveries dead letter")
	dl := e.deadLetters()[0]
	if dl.ID != r.ID || dl.Reason != job.ReasonMaxDeliveries || string(dl.Payload) != `{"k":"v"}` || dl.Kind != "crashy" {
		t.Fatalf("dead letter = %+v", dl)
	}
	eventually(t, func() bool { return streamMsgs(t, e) == 1 }, "job removed from the work stream (only the blocking one left)")
}

func TestWorkerDeathOnLastAttemptDeadLetters(t *testing.T) {
	e := newEnv(t)
	// The first pool's connection "dies" while it runs the job.
	nc1, js1 := e.srv.Connect(t)
	p1, err := worker.New(js1, worker.Config{Logger: testLogger(), AckWait: time.Second, MaxAttempts: 1})
	must(t, err)
	must(t, worker.Handle(p1, "fatal", func(ctx context.Context, j *job.Job[struct{}]) error {
		nc1.Close()
		<-ctx.Done()
		return ctx.Err()
	}))
	must(t, p1.Start(context.Background()))
	r := e.enqueue("fatal", nil)
	eventually(t, func() bool { return nc1.IsClosed() }, "first worker died")
	stopCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = p1.Stop(stopCtx)

	_, js2 := e.srv.Connect(t)
	var ran atomic.Int32
	p2, err := worker.New(js2, worker.Config{Logger: testLogger(), AckWait: time.Second, MaxAttempts: 1})
	must(t, err)
	must(t, worker.Handle(p2, "fatal", func(ctx context.Context, j *job.Job[struct{}]) error { ran.Add(1); return nil }))
	must(t, p2.Start(context.Background()))
	defer p2.Stop(context.Background())
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter after worker death")
	if dl := e.deadLetters()[0]; dl.ID != r.ID || dl.Reason != job.ReasonMaxDeliveries || ran.Load() != 0 {
		t.Fatalf("dead letter = %+v, ran %d", dl, ran.Load())
	}
}

func TestRegistrationErrors(t *testing.T) {
	e := newEnv(t)
	p, err := worker.New(e.js, worker.Config{Logger: testLogger()})
	must(t, err)
	h := func(ctx context.Context, j *job.Job[struct{}]) error { return nil }
	must(t, worker.Handle(p, "a.b", h))
	if err := worker.Handle(p, "a.b", h); !errors.Is(err, worker.ErrAlreadyRegistered) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, kind := range []string{"", "a..b", "a b", "a.*", ">", "é"} {
		if err := worker.Handle(p, kind, h); !errors.Is(err, job.ErrInvalidName) {
			t.Errorf("kind %q: %v", kind, err)
		}
	}
	if err := worker.Register[struct{}](p, noKindWorker{}); !errors.Is(err, job.ErrInvalidOption) {
		t.Errorf("worker without kind: %v", err)
	}
	must(t, worker.Register(p, sendWorker{}))
	if got := p.Kinds(); len(got) != 2 || got[0] != "a.b" || got[1] != "email.send" {
		t.Fatalf("Kinds() = %v", got)
	}
	must(t, p.Start(context.Background()))
	if err := worker.Handle(p, "late", h); !errors.Is(err, worker.ErrStarted) {
		t.Errorf("register after start: %v", err)
	}
	must(t, p.Stop(context.Background()))

	empty, err := worker.New(e.js, worker.Config{})
	must(t, err)
	if err := empty.Start(context.Background()); !errors.Is(err, job.ErrInvalidOption) {
		t.Errorf("start without kinds: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	e := newEnv(t)
	for _, cfg := range []worker.Config{
		{Queues: map[string]worker.QueueConfig{"_x": {}}},
		{Queues: map[string]worker.QueueConfig{"a.b": {}}},
		{Queues: map[string]worker.QueueConfig{"q": {Concurrency: -1}}},
		{MaxAttempts: 10, MaxDeliver: 5},
		{AckWait: time.Millisecond},
		{Topology: job.Topology{Stream: "A.B"}},
		{Topology: job.Topology{Prefix: "jobs", DeadLetterPrefix: "jobs"}},
	} {
		if _, err := worker.New(e.js, cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

type noKindWorker struct {
	worker.WorkerDefaults[struct{}]
}

func (noKindWorker) Work(context.Context, *job.Job[struct{}]) error { return nil }

type sendArgs struct{ To string }

func (sendArgs) Kind() string { return "email.send" }

type sendWorker struct {
	worker.WorkerDefaults[sendArgs]
}

func (sendWorker) Work(context.Context, *job.Job[sendArgs]) error { return nil }
func (sendWorker) MaxAttempts() int                               { return 3 }

func TestDefaultPoolKeepsExistingStreamSettings(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx := context.Background()
	admin, err := job.NewClient(js, job.ClientConfig{Topology: job.Topology{MaxMsgs: 500, DuplicateWindow: time.Minute}})
	must(t, err)
	must(t, admin.EnsureTopology(ctx))
	p, err := worker.New(js, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p, "k", func(context.Context, *job.Job[struct{}]) error { return nil }))
	must(t, p.Start(ctx))
	defer p.Stop(ctx)
	s, err := js.Stream(ctx, "JOBS")
	must(t, err)
	if cfg := s.CachedInfo().Config; cfg.MaxMsgs != 500 || cfg.Duplicates != time.Minute {
		t.Fatalf("a pool with default settings changed the stream: MaxMsgs %d, Duplicates %s", cfg.MaxMsgs, cfg.Duplicates)
	}
}

func TestStartCanBeRetriedAfterAFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A foreign consumer where the queue's consumer belongs makes Start fail.
	stream, err := e.js.Stream(ctx, "JOBS")
	must(t, err)
	_, err = stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "default", FilterSubject: "jobs.other.>", AckPolicy: jetstream.AckExplicitPolicy})
	must(t, err)
	var wraps atomic.Int32
	done := make(chan struct{})
	p, err := worker.New(e.js, worker.Config{Logger: testLogger(), Middleware: []job.Middleware{func(next job.Handler) job.Handler {
		return job.HandlerFunc(func(ctx context.Context, info *job.Info) error {
			wraps.Add(1)
			return next.Handle(ctx, info)
		})
	}}})
	must(t, err)
	must(t, worker.Handle(p, "k", func(context.Context, *job.Job[struct{}]) error { close(done); return nil }))
	if err := p.Start(ctx); !errors.Is(err, job.ErrTopologyMismatch) {
		t.Fatalf("Start with a foreign consumer: %v", err)
	}
	must(t, stream.DeleteConsumer(ctx, "default"))
	must(t, p.Start(ctx))
	defer p.Stop(ctx)
	e.enqueue("k", nil)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not run after the retried Start")
	}
	if n := wraps.Load(); n != 1 {
		t.Fatalf("pool middleware ran %d times for one job", n)
	}
}

// busyPool starts a pool (AckWait 1s, MaxDeliver 2) whose only slot of
// queue default is busy with a job until the test ends, so jobs enqueued
// afterwards are taken only by the test's raw consumer, a "crashing" worker
// that never settles them, while the pool still handles their
// max-deliveries advisories.
func busyPool(t *testing.T, e *env) {
	t.Helper()
	block := make(chan struct{})
	var blockedStarted atomic.Bool
	e.pool(worker.Config{AckWait: time.Second, MaxAttempts: 1, MaxDeliver: 2, Queues: map[string]worker.QueueConfig{"default": {Concurrency: 1}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "block", func(ctx context.Context, j *job.Job[struct{}]) error {
			blockedStarted.Store(true)
			select {
			case <-block:
			case <-ctx.Done():
			}
			return nil
		}))
	})
	t.Cleanup(func() { close(block) }) // before the pool's Stop (cleanups run last first)
	e.enqueue("block", nil)
	eventually(t, func() bool { return blockedStarted.Load() }, "blocking job started")
}

// crashRounds has a raw consumer take n jobs rounds times without settling
// them, like workers that die on every attempt.
func crashRounds(t *testing.T, cons jetstream.Consumer, n, rounds int) {
	t.Helper()
	for round := 1; round <= rounds; round++ {
		got := 0
		deadline := time.Now().Add(15 * time.Second)
		for got < n && time.Now().Before(deadline) {
			msgs, err := cons.Fetch(n-got, jetstream.FetchMaxWait(3*time.Second))
			must(t, err)
			for range msgs.Messages() {
				got++
			}
		}
		if got != n {
			t.Fatalf("round %d: fetched %d of %d", round, got, n)
		}
	}
}

// nothingDelivered is a pull request that must come back empty; it also
// makes the server check its redeliveries, which is when it notices jobs
// that reached MaxDeliver.
func nothingDelivered(t *testing.T, cons jetstream.Consumer) {
	t.Helper()
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
	must(t, err)
	for m := range msgs.Messages() {
		t.Fatalf("job delivered beyond MaxDeliver: %s", m.Subject())
	}
}

// The server sends the MAX_DELIVERIES advisories of many jobs in one burst,
// once each: every one of them is dead-lettered.
func TestMaxDeliveriesBurstDeadLettersEveryJob(t *testing.T) {
	e := newEnv(t)
	busyPool(t, e)
	const jobs = 300
	reqs := make([]job.Request, jobs)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "crashy"}
	}
	_, err := e.client.EnqueueMany(context.Background(), reqs)
	must(t, err)
	cons, err := e.js.Consumer(context.Background(), "JOBS", "default")
	must(t, err)
	crashRounds(t, cons, jobs, 2)
	natstest.Eventually(t, 30*time.Second, func() bool {
		nothingDelivered(t, cons)
		return len(e.deadLetters()) == jobs
	}, "all %d jobs that reached MaxDeliver dead-lettered", jobs)
	eventually(t, func() bool { return streamMsgs(t, e) == 1 }, "jobs removed from the work stream (only the blocking one left)")
}

// A job may carry any application header, "Status" included, and have no
// payload: it is a job (it has an acknowledgement subject), not a status
// from the server, and it runs like any other.
func TestJobWithStatusHeaderAndNoPayloadRuns(t *testing.T) {
	e := newEnv(t)
	ran := make(chan string, 2)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		for _, kind := range []string{"status.report", "normal"} {
			must(t, worker.Handle(p, kind, func(ctx context.Context, j *job.Job[struct{}]) error {
				ran <- j.Kind
				return nil
			}))
		}
	})
	for _, code := range []string{"100", "408"} {
		m := nats.NewMsg("jobs.default.status.report")
		m.Header.Set("Status", code)
		_, err := e.js.PublishMsg(context.Background(), m)
		must(t, err)
		e.enqueue("normal", nil)
		got := map[string]bool{}
		for len(got) < 2 {
			select {
			case k := <-ran:
				got[k] = true
			case <-time.After(15 * time.Second):
				t.Fatalf("Status %s: ran %v; the job with a Status header and no payload was taken for a server status", code, got)
			}
		}
	}
}

// Stop with a context that has already ended returns nil when no job was
// running: none had to be canceled.
func TestStopWithEndedContextAndNoJobsReturnsNil(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		p, err := worker.New(e.js, worker.Config{Logger: testLogger()})
		must(t, err)
		must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
		must(t, p.Start(context.Background()))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := p.Stop(ctx); err != nil {
			t.Fatalf("Stop of an idle pool with an ended context: %v", err)
		}
	}
}

// A work stream deleted and made again by hand (EnsureTopology starts a
// new one at its creation time) or restored from a backup can start its
// sequences over. A job dead-lettered then, within the duplicate window,
// has the sequence of an earlier one: its dead letter must still be stored
// (the dead-letter message ID carries the stored time, not the sequence
// alone), or the job would be terminated with no dead letter at all.
func TestDeadLetterAfterTheWorkStreamWasRecreated(t *testing.T) {
	e := newEnv(t)
	cfg := worker.Config{Logger: testLogger(), MaxAttempts: 1}
	register := func(p *worker.Pool) {
		must(t, worker.Handle(p, "bad", func(ctx context.Context, j *job.Job[struct{}]) error {
			return job.Permanent(errors.New("bad input"))
		}))
	}
	first, err := worker.New(e.js, cfg)
	must(t, err)
	register(first)
	must(t, first.Start(context.Background()))
	a := e.enqueue("bad", nil, job.ID("job-a"))
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "first dead letter")
	must(t, first.Stop(context.Background()))

	must(t, e.js.DeleteStream(context.Background(), "JOBS"))
	again := job.Topology{}.StreamConfig()
	again.FirstSeq = a.Seq
	_, err = e.js.CreateStream(context.Background(), again)
	must(t, err)
	must(t, e.client.EnsureTopology(context.Background()))
	e.pool(cfg, register)
	b := e.enqueue("bad", nil, job.ID("job-b"))
	if a.Seq != b.Seq {
		t.Fatalf("sequences %d and %d: the recreated stream should start over", a.Seq, b.Seq)
	}
	eventually(t, func() bool { return len(e.deadLetters()) == 2 }, "the second job's dead letter, at the same work-stream sequence")
}

// A forged MAX_DELIVERIES advisory of queue default that names the
// sequence of another queue's job does not dead-letter that job; the
// pool handles advisories in order, so once a later one (for a job of
// queue default) is handled, the forged one was too.
func TestForgedMaxDeliveriesAdvisoryOfAnotherQueueIsIgnored(t *testing.T) {
	e := newEnv(t)
	busyPool(t, e) // its one slot is taken: queue default's jobs wait
	other := e.enqueue("report.build", nil, job.Queue("reports"))
	mine := e.enqueue("crashy", nil)
	advise := func(seq uint64) {
		t.Helper()
		adv, _ := json.Marshal(map[string]any{"stream": "JOBS", "consumer": "default", "stream_seq": seq, "deliveries": 2})
		must(t, e.js.Conn().Publish("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.default", adv))
	}
	advise(other.Seq)
	advise(mine.Seq)
	eventually(t, func() bool {
		for _, dl := range e.deadLetters() {
			if dl.ID == mine.ID {
				return true
			}
		}
		return false
	}, "the advisory of queue default's job handled")
	for _, dl := range e.deadLetters() {
		if dl.ID == other.ID {
			t.Fatalf("queue reports' job was dead-lettered by an advisory of queue default: %+v", dl)
		}
	}
	s, err := e.js.Stream(context.Background(), "JOBS")
	must(t, err)
	if _, err := s.GetMsg(context.Background(), other.Seq); err != nil {
		t.Fatalf("queue reports' job is gone from the work stream: %v", err)
	}
}

// Jobs that block each get a runner of their own: runners are woken one
// per processor at a time, each waking the next while jobs wait, so 64
// jobs that wait for one another all run at once rather than queue behind
// the first runners.
func TestBlockingJobsEachGetARunner(t *testing.T) {
	e := newEnv(t)
	const jobs = 64
	var started atomic.Int32
	all := make(chan struct{})
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: jobs}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "wait", func(ctx context.Context, j *job.Job[struct{}]) error {
			if started.Add(1) == jobs {
				close(all)
			}
			select {
			case <-all:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	})
	reqs := make([]job.Request, jobs)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "wait"}
	}
	_, err := e.client.EnqueueMany(context.Background(), reqs)
	must(t, err)
	select {
	case <-all:
	case <-time.After(15 * time.Second):
		t.Fatalf("%d of %d waiting jobs started: queued jobs waited behind blocked runners", started.Load(), jobs)
	}
}
