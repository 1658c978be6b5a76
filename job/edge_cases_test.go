package job_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// ReplayAll replays the dead letters that exist when it starts: a replayed
// job that dies again is stored as a new dead letter with a higher
// sequence, and the same call must not find and replay it again (it would
// run the job over and over until ctx ended).
func TestReplayAllStopsAtTheDeadLettersItFound(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	var runs atomic.Int32
	pooltest.Start(t, js, worker.Config{}, func(p *worker.Pool) {
		if err := worker.Handle(p, "always.fails", func(ctx context.Context, j *job.Job[struct{}]) error {
			runs.Add(1)
			return job.Permanent(errors.New("bad input"))
		}); err != nil {
			t.Fatal(err)
		}
	})

	if _, err := c.Enqueue(ctx, "always.fails", nil, job.ID("poison-1")); err != nil {
		t.Fatal(err)
	}
	deadLetterSeq := func() uint64 {
		dl, err := c.DeadLetter(ctx, "poison-1")
		if err != nil {
			return 0
		}
		return dl.Seq
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return deadLetterSeq() != 0 }, "first dead letter")
	before, _ := c.DeadLetters(ctx, job.DeadLetterFilter{})
	if len(before) != 1 {
		t.Fatalf("%d dead letters before ReplayAll, want 1", len(before))
	}

	// A ReplayAll over many dead letters takes a while; here the worker's
	// re-dead-lettering is simply allowed to land before ReplayAll reads
	// on (the progress callback waits for it, bounded). ReplayAll should
	// stop after the one dead letter it was asked to replay.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	last := before[0].Seq
	n, err := c.ReplayAll(rctx, "", func(done int) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if s := deadLetterSeq(); s > last {
				last = s
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if done >= 5 {
			cancel() // it would go on forever
		}
	})
	t.Logf("ReplayAll = %d, %v; handler ran %d times", n, err, runs.Load())
	if n != 1 {
		t.Errorf("ReplayAll of 1 dead letter replayed %d times (the handler ran %d times); want 1", n, runs.Load())
	}
}

// The same without any steering: a backlog of dead letters of a job that
// fails at once, replayed while a worker serves the queue, is replayed once
// each.
func TestReplayAllOfABacklogReplaysEachOnce(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	var runs atomic.Int32
	pooltest.Start(t, js, worker.Config{}, func(p *worker.Pool) {
		if err := worker.Handle(p, "always.fails", func(ctx context.Context, j *job.Job[struct{}]) error {
			runs.Add(1)
			return job.Permanent(errors.New("bad input"))
		}); err != nil {
			t.Fatal(err)
		}
	})

	const jobs = 200
	topo := c.Topology()
	for i := range jobs {
		dl := topo.DeadLetterMessage("jobs.default.always.fails", nil, nil, "p-"+itoa(i), "default", "JOBS", uint64(1_000_000+i), job.ReasonFailed, "bad input", 1)
		if _, err := js.PublishMsg(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	n, err := c.ReplayAll(rctx, "", func(done int) {
		if done >= 3*jobs {
			cancel()
		}
	})
	t.Logf("ReplayAll = %d, %v; handler ran %d times", n, err, runs.Load())
	if n != jobs {
		t.Errorf("ReplayAll of %d dead letters replayed %d", jobs, n)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A delayed job waits on <schedule prefix>.at.<ID>, and the server keeps
// one message per subject there: a second delayed job with the same ID,
// enqueued after the duplicate window, replaces the waiting one (a
// reschedule), as docs/scheduling.md says.
func TestDelayedJobWithTheSameIDReplacesTheWaitingOne(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{DuplicateWindow: time.Second})
	r1, err := c.Enqueue(ctx, "invoice.remind", map[string]int{"invoice": 1}, job.ID("remind-customer-7"), job.In(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var r2 job.Result
	natstest.Eventually(t, 10*time.Second, func() bool {
		r2, err = c.Enqueue(ctx, "invoice.remind", map[string]int{"invoice": 2}, job.ID("remind-customer-7"), job.In(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return !r2.Duplicate
	}, "second enqueue outside the duplicate window")
	s, err := js.Stream(ctx, "JOBS_SCHEDULES")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMsg(ctx, r1.Seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("first delayed job (seq %d) still waits: %v", r1.Seq, err)
	}
	if m, err := s.GetMsg(ctx, r2.Seq); err != nil || string(m.Data) != `{"invoice":2}` {
		t.Errorf("second delayed job (seq %d) does not wait: %v", r2.Seq, err)
	}
}

// Header values lose surrounding whitespace on the wire (a schedule
// declared with one would never compare equal to what is stored, and be
// rewritten on every declaration): the Header option refuses them.
func TestHeaderValueWithSurroundingSpacesIsRefused(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	s := job.Schedule{Name: "cleanup", Spec: "@every 1h", Kind: "tmp.cleanup", Options: []job.Option{job.Header("X-Team", "ops ")}}
	if _, err := c.DeclareSchedule(ctx, s); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("DeclareSchedule with a padded header value = %v, want ErrInvalidOption", err)
	}
	if _, err := c.Enqueue(ctx, "k", nil, job.Header("X-Team", " ops")); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("Enqueue with a padded header value = %v, want ErrInvalidOption", err)
	}
}

// LookupSchedule validates the name, which goes into a subject: a wildcard
// must not return some other schedule.
func TestLookupScheduleRefusesAWildcard(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	if _, err := c.DeclareSchedule(ctx, job.Schedule{Name: "nightly", Spec: "@daily", Kind: "report"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{">", "*"} {
		s, err := c.LookupSchedule(ctx, name)
		if !errors.Is(err, job.ErrScheduleNotFound) {
			t.Errorf("LookupSchedule(%q) = {Name:%q Seq:%d}, %v; want ErrScheduleNotFound or ErrInvalidName", name, s.Name, s.Seq, err)
		}
	}
}

// The server refuses protocol lines over 4 KiB by closing the connection,
// so kinds are bounded: a long one is refused before anything is sent, and
// the connection every other user shares lives on.
func TestLongKindIsRefusedAndTheConnectionLives(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	var disconnects atomic.Int32
	nc, js := srv.Connect(t, nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnects.Add(1) }))
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	kind := strings.Repeat("k", 5000)
	if err := job.ValidateKind(kind); err != nil {
		t.Logf("ValidateKind refuses it: %v", err)
		return
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.Enqueue(tctx, kind, nil)
	t.Logf("Enqueue(5000-char kind) = %.160v; disconnects %d; status %v", err, disconnects.Load(), nc.Status())
	if err == nil || !errors.Is(err, job.ErrInvalidName) {
		t.Errorf("Enqueue with a 5000-character kind: %.160v; want ErrInvalidName before publishing (disconnects: %d)", err, disconnects.Load())
	}
}

func TestLongForeignIDDeadLetterIsStored(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	id := strings.Repeat("x", 5000) // a valid subject token, so SubjectToken keeps it
	dl := c.Topology().DeadLetterMessage("jobs.default.k", nats.Header{job.HeaderID: {id}}, nil, id, "default", "JOBS", 1, job.ReasonFailed, "boom", 1)
	t.Logf("dead-letter subject length %d", len(dl.Subject))
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(tctx, dl); err != nil {
		t.Errorf("dead letter of a job with a 5000-character ID cannot be stored: %v", err)
	}
}

// The same through a real worker pool: a foreign job whose ID is a long
// valid subject token is dead-lettered, and the pool's connection stays up.
func TestForeignJobWithLongIDIsDeadLetteredAndTheWorkerLives(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	pool, err := worker.New(js, worker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Handle(pool, "k", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := pool.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		pool.Stop(sctx)
	})

	// Another service enqueues; its header does not decode, so the job goes
	// to dead letters with reason "decode".
	_, fjs := srv.Connect(t)
	foreign := &nats.Msg{Subject: "jobs.default.k", Header: nats.Header{
		job.HeaderID:          {strings.Repeat("A", 4500)},
		job.HeaderMaxAttempts: {"many"},
	}}
	if _, err := fjs.PublishMsg(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	c, err := job.NewClient(fjs, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		_, err := c.DeadLetter(ctx, strings.Repeat("A", 4500))
		return err == nil || nc.Status() == nats.CLOSED
	}, "the foreign job dead-lettered")
	if nc.Status() == nats.CLOSED {
		t.Errorf("the worker pool's connection is closed for good (%v) by a foreign job with a 4500-character ID", nc.LastError())
	}
}

// An existing schedule stream that does not allow message schedules (made
// by an operator or an earlier version) is reported by Ensure, naming the
// setting, instead of failing every delayed job later.
func TestEnsureRefusesScheduleStreamWithoutSchedules(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	cfg := job.Topology{}.ScheduleStreamConfig()
	cfg.AllowMsgSchedules = false
	cfg.AllowRollup = false
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ensureErr := c.EnsureTopology(ctx)
	_, enqErr := c.Enqueue(ctx, "later", nil, job.In(time.Minute))
	t.Logf("Ensure: %v\nEnqueue(In): %v", ensureErr, enqErr)
	if ensureErr == nil && enqErr != nil {
		t.Errorf("Ensure accepted schedule stream without AllowMsgSchedules; delayed Enqueue then fails: %v", enqErr)
	}
}

// Validate checks DuplicateWindow against DeadLetterMaxAge too, in its own
// words, before the server would refuse the dead-letter stream.
func TestValidateDeadLetterMaxAgeBelowDuplicateWindow(t *testing.T) {
	topo := job.Topology{DeadLetterMaxAge: time.Minute}
	if err := topo.Validate(); err != nil {
		t.Logf("Validate refuses it: %v", err)
		return
	}
	ctx := context.Background()
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	if err := topo.Ensure(ctx, js); err != nil {
		t.Errorf("Validate passed Topology{DeadLetterMaxAge: 1m}, Ensure failed: %v", err)
	}
}

// Header refuses names nats.go cannot encode, with ErrInvalidOption rather
// than a bare error at publish time.
func TestHeaderOptionRefusesUnencodableNames(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	for _, name := range []string{"Grüße", "X\tTab", "X\x00"} {
		_, err := c.Enqueue(context.Background(), "k", nil, job.Header(name, "v"))
		if !errors.Is(err, job.ErrInvalidOption) {
			t.Errorf("Enqueue with Header(%q): %v; want ErrInvalidOption", name, err)
		}
	}
}

// Replay checks where the server stored the replayed job, as Enqueue does:
// a dead letter whose Jetjobs-Subject belongs to another stream is kept,
// with an error.
func TestReplayChecksWhereTheJobWasStored(t *testing.T) {
	ctx := context.Background()
	_, js, _ := newClient(t, job.Topology{}) // JOBS owns jobs.>
	app, err := job.NewClient(js, job.ClientConfig{Topology: job.Topology{Stream: "APP", Prefix: "app"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	dl := app.Topology().DeadLetterMessage("jobs.default.k", nil, []byte(`{}`), "old-1", "default", "JOBS", 1, job.ReasonFailed, "boom", 3)
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Fatal(err)
	}
	r, err := app.Replay(ctx, "old-1")
	_, dlErr := app.DeadLetter(ctx, "old-1")
	t.Logf("Replay = %+v, %v; dead letter afterwards: %v", r, err, dlErr)
	if err == nil && errors.Is(dlErr, job.ErrDeadLetterNotFound) {
		t.Errorf("APP client replayed a dead letter into stream JOBS (not APP) without error and deleted the dead letter")
	}
}

// The size check keeps room for the headers a dead letter adds (reason,
// error of up to 2 KiB, attempts, subject, time, message ID): a job at the
// server's limit is refused, and the largest accepted one can still be
// dead-lettered.
func TestEveryAcceptedJobCanBeDeadLettered(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	limit := int(c.JetStream().Conn().MaxPayload())
	if _, _, err := c.Message("report.build", []byte(`"`+strings.Repeat("a", limit-400)+`"`)); !errors.Is(err, job.ErrPayloadTooLarge) {
		t.Fatalf("Message of a payload 400 bytes under max_payload = %v, want ErrPayloadTooLarge", err)
	}
	// The largest payload accepted, found by halving the step.
	size, step := 0, limit
	for step > 0 {
		if _, _, err := c.Message("report.build", []byte(`"`+strings.Repeat("a", size+step)+`"`)); err == nil {
			size += step
		}
		step /= 2
	}
	// Less a little: the enqueue time's length varies (RFC 3339 drops
	// trailing zeros of the fraction).
	payload := []byte(`"` + strings.Repeat("a", size-64) + `"`)
	msg, id, err := c.Message("report.build", payload)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	dl := c.Topology().DeadLetterMessage(msg.Subject, msg.Header, msg.Data, id, "default", "JOBS", ack.Sequence, job.ReasonFailed, strings.Repeat("x", 5000), 25)
	if _, err := js.PublishMsg(ctx, dl); err != nil {
		t.Errorf("an accepted job of %d payload bytes cannot be dead-lettered: %v", len(payload), err)
	}
}

// While the connection reconnects the server's version is unknown, not too
// old: a delayed Enqueue rides out the reconnect like a plain one.
func TestDelayedEnqueueDuringReconnectWaitsForTheServer(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	natstest.Eventually(t, 5*time.Second, func() bool { return nc.Status() == nats.RECONNECTING }, "reconnecting")
	plain := make(chan error, 1)
	go func() {
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := c.Enqueue(tctx, "now", nil)
		plain <- err
	}()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, delayedErr := c.Enqueue(tctx, "later", nil, job.In(time.Minute))
	_, declErr := c.DeclareSchedule(tctx, job.Schedule{Name: "n", Spec: "@daily", Kind: "k"})
	srv.Restart(t)
	plainErr := <-plain
	t.Logf("plain Enqueue: %v\ndelayed Enqueue: %v\nDeclareSchedule: %v", plainErr, delayedErr, declErr)
	if plainErr == nil && errors.Is(delayedErr, job.ErrSchedulingUnsupported) {
		t.Errorf("during a reconnect a delayed Enqueue fails with ErrSchedulingUnsupported (%v) while a plain one succeeds", delayedErr)
	}
	if errors.Is(declErr, job.ErrSchedulingUnsupported) {
		t.Errorf("during a reconnect DeclareSchedule fails with ErrSchedulingUnsupported: %v", declErr)
	}
}

// A long schedule name is refused like a long kind.
func TestLongScheduleNameIsRefusedAndTheConnectionLives(t *testing.T) {
	ctx := context.Background()
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = c.DeclareSchedule(tctx, job.Schedule{Name: strings.Repeat("n", 5000), Spec: "@daily", Kind: "k"})
	if !errors.Is(err, job.ErrInvalidName) {
		t.Errorf("DeclareSchedule with a 5000-character name: %.120v; connection %v", err, nc.Status())
	}
}

// Replay drops the job's deadline: replaying a dead letter with reason
// "expired" runs the job instead of dead-lettering it again at once.
func TestReplayOfAnExpiredJobRunsIt(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	var runs atomic.Int32
	pooltest.Start(t, js, worker.Config{}, func(p *worker.Pool) {
		if err := worker.Handle(p, "otp.send", func(ctx context.Context, j *job.Job[struct{}]) error {
			runs.Add(1)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	// Accepted although the deadline is already past.
	if _, err := c.Enqueue(ctx, "otp.send", nil, job.ID("otp-1"), job.Deadline(time.Now().Add(-time.Second))); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		dl, err := c.DeadLetter(ctx, "otp-1")
		return err == nil && dl.Reason == job.ReasonExpired
	}, "expired dead letter")
	if _, err := c.Replay(ctx, "otp-1"); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return runs.Load() == 1 }, "the replayed job ran")
	if _, err := c.DeadLetter(ctx, "otp-1"); !errors.Is(err, job.ErrDeadLetterNotFound) {
		t.Errorf("after the replay ran: dead letter %v", err)
	}
}

// Topology.Replicas set explicitly is applied to the cancel bucket too, as
// to the streams: a namespace moved to R3 keeps its cancels on three
// servers.
func TestEnsureReplicasReachesTheCancelBucket(t *testing.T) {
	ctx := context.Background()
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var srvs []*natstest.Server
	for i := range 3 {
		srvs = append(srvs, natstest.Start(t, func(o *server.Options) {
			o.ServerName = fmt.Sprintf("s%d", i)
			o.Cluster = server.ClusterOpts{Name: "review", Host: "127.0.0.1", Port: ports[i]}
			for j := range 3 {
				if j != i {
					o.Routes = append(o.Routes, server.RoutesFromStr(fmt.Sprintf("nats://127.0.0.1:%d", ports[j]))...)
				}
			}
		}))
	}
	_, js := srvs[0].Connect(t)
	var err error
	natstest.Eventually(t, 30*time.Second, func() bool {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		err = job.Topology{}.Ensure(tctx, js)
		return err == nil
	}, "cluster ready: %v", err)
	if err := (job.Topology{Replicas: 3}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"JOBS", "JOBS_DLQ", "JOBS_SCHEDULES", "KV_JOBS_CANCELED", "KV_JOBS_STATE"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("after Ensure with Replicas 3: %s has %d replica(s)", name, r)
		}
		// Let the new replicas catch up before the servers stop: a server
		// shut down while it creates a replica's store leaves that store's
		// goroutines behind.
		natstest.Eventually(t, 30*time.Second, func() bool {
			info, err := s.Info(ctx)
			if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
				return false
			}
			for _, p := range info.Cluster.Replicas {
				if !p.Current {
					return false
				}
			}
			return true
		}, "%s: replicas current", name)
	}
}

// DeadLetterSequence of a dead-letter stream that never held a message is
// 0: a purge through that mark deletes nothing, so dead letters that arrive
// after someone looked are spared.
func TestPurgeThroughAMarkOfZeroPurgesNothing(t *testing.T) {
	ctx := context.Background()
	c, js, _ := newClient(t, job.Topology{})
	mark, err := c.DeadLetterSequence(ctx)
	if err != nil || mark != 0 {
		t.Fatalf("mark %d, %v", mark, err)
	}
	for i := range 3 { // arrive after the mark was read
		dl := c.Topology().DeadLetterMessage("jobs.default.k", nil, nil, "late-"+itoa(i), "default", "JOBS", uint64(i+1), job.ReasonFailed, "boom", 1)
		if _, err := js.PublishMsg(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}
	n, err := c.PurgeDeadLettersThrough(ctx, "", mark)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("PurgeDeadLettersThrough(mark %d read before they arrived) purged %d dead letters, want 0", mark, n)
	}
}

// Job IDs become Nats-Msg-Id, in the same dedupe window as the message IDs
// of jetjobs' own copies (replay:<dlq>:<seq>, fired:..., handback:...): a
// job ID equal to a replay's would make that replay a "duplicate" and lose
// the dead job. Such IDs are refused.
func TestInternalMessageIDPrefixesAreReserved(t *testing.T) {
	ctx := context.Background()
	c, _, _ := newClient(t, job.Topology{})
	for _, id := range []string{"replay:JOBS_DLQ:1", "fired:x", "handback:JOBS:1:1", "snooze:JOBS:1:1", "dlq:JOBS:1"} {
		if _, err := c.Enqueue(ctx, "other", nil, job.ID(id)); !errors.Is(err, job.ErrInvalidOption) {
			t.Errorf("Enqueue with ID %q = %v, want ErrInvalidOption", id, err)
		}
	}
	if _, err := c.Enqueue(ctx, "other", nil, job.ID("replay-of-invoice-7")); err != nil {
		t.Errorf("an ID that merely starts with the word: %v", err)
	}
}

// "@every1h" is normalized to "@every 1h", the only form the server knows.
func TestEveryWithoutSpaceIsNormalized(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{})
	_, err := c.DeclareSchedule(context.Background(), job.Schedule{Name: "tick", Spec: "@every1h", Kind: "k"})
	t.Logf("DeclareSchedule(@every1h) = %v", err)
	if err != nil && strings.Contains(err.Error(), "server refused") {
		t.Errorf("client accepted spec %q that the server refuses: %v", "@every1h", err)
	}
}

// The work stream refuses a job too large to be dead-lettered, also one a
// foreign publisher sends past the client's own check, and Ensure lowers
// the limit of a stream created with one that large.
func TestWorkStreamRefusesJobsTooLargeToDeadLetter(t *testing.T) {
	ctx := context.Background()
	_, js, _ := newClient(t, job.Topology{})
	maxPayload := js.Conn().MaxPayload()
	s, err := js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(s.CachedInfo().Config.MaxMsgSize); got > maxPayload-4096 {
		t.Fatalf("work stream MaxMsgSize = %d; want at most max_payload %d less a dead letter's 4096", got, maxPayload)
	}
	big := make([]byte, maxPayload-300) // fits max_payload, not with a dead letter's headers
	if _, err := js.Publish(ctx, "jobs.default.k", big); err == nil {
		t.Fatal("the work stream stored a job too large to be dead-lettered")
	}

	// A stream made by an older version with the server's whole max_payload.
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = int32(maxPayload)
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := (job.Topology{}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	s, err = js.Stream(ctx, "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(s.CachedInfo().Config.MaxMsgSize); got > maxPayload-4096 {
		t.Fatalf("after Ensure the work stream's MaxMsgSize is still %d", got)
	}
}
