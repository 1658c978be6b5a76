package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

// rolesConfig returns the authorization block of docs/security.md, between
// its permissions markers, with its password variables defined.
func rolesConfig(tb testing.TB) string {
	tb.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "security.md"))
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- permissions:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- permissions:end -->")
	if !ok || !ok2 {
		tb.Fatal("docs/security.md has no permissions block")
	}
	block = strings.TrimSpace(block)
	block = strings.TrimPrefix(block, "```")
	block = strings.TrimSuffix(block, "```")
	return `ADMIN_PASSWORD: "admin-pw"
MAIL_ENQUEUER_PASSWORD: "enqueuer-pw"
MAIL_WORKER_PASSWORD: "worker-pw"
` + block
}

// role is a connection as one user, with the permission violations the
// server reported to it.
type role struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream

	mu         sync.Mutex
	violations []string
}

func connectAs(tb testing.TB, srv *natstest.Server, user, password, inboxPrefix string) *role {
	tb.Helper()
	r := &role{name: user}
	opts := []nats.Option{
		nats.UserInfo(user, password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				r.mu.Lock()
				r.violations = append(r.violations, err.Error())
				r.mu.Unlock()
			}
		}),
	}
	if inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(inboxPrefix))
	}
	r.nc, r.js = srv.Connect(tb, opts...)
	return r
}

func (r *role) violationsSoFar() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

func (r *role) violated(subject string) bool {
	for _, v := range r.violationsSoFar() {
		if strings.Contains(v, `"`+subject+`"`) {
			return true
		}
	}
	return false
}

// refused runs call, which the server must refuse: it reports a permission
// violation naming subject (at once), and call fails (the caller only sees
// its request time out, which is cut short here).
func refused(t *testing.T, r *role, what, subject string, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- call(ctx) }()
	ok := poll(5*time.Second, 5*time.Millisecond, func() bool { return r.violated(subject) })
	cancel()
	err := <-errc
	if !ok {
		t.Errorf("%s %s: the server reported no permission violation for %q (call returned %v)", r.name, what, subject, err)
	}
	if err == nil {
		t.Errorf("%s %s: allowed", r.name, what)
	}
}

// A server runs with exactly the roles of docs/security.md. The enqueuer
// enqueues into its queue and nothing else, and cannot read jobs; the
// worker of queue mail works its queue end to end — success, dead letter,
// snooze through a server schedule, the max-deliveries advisory — without a
// single permission violation, and cannot take, settle or dead-letter the
// jobs of queue reports.
func TestLeastPrivilegeRoles(t *testing.T) {
	srv, admin, adminClient := rolesServer(t)
	ctx := context.Background()
	stream, err := admin.js.Stream(ctx, "JOBS")
	must(t, err)
	// Queue reports exists and has a job waiting.
	_, err = stream.CreateOrUpdateConsumer(ctx, worker.ConsumerConfig(job.Topology{}, "reports", 30*time.Second, 100, 0))
	must(t, err)
	reportJob, err := adminClient.Enqueue(ctx, "report.build", nil, job.Queue("reports"))
	must(t, err)

	t.Run("enqueuer", func(t *testing.T) {
		enq := connectAs(t, srv, "mail-enqueuer", "enqueuer-pw", "_INBOX_mail_enqueuer")
		c, err := job.NewClient(enq.js, job.ClientConfig{Queue: "mail"})
		must(t, err)
		if _, err := c.Enqueue(ctx, "send", map[string]string{"to": "a@b.c"}); err != nil {
			t.Fatalf("enqueue into its own queue: %v", err)
		}
		if v := enq.violationsSoFar(); len(v) > 0 {
			t.Fatalf("enqueueing into its own queue caused permission violations: %v", v)
		}
		refused(t, enq, "enqueue into queue reports", "jobs.reports.report.build", func(ctx context.Context) error {
			_, err := c.Enqueue(ctx, "report.build", nil, job.Queue("reports"))
			return err
		})
		refused(t, enq, "read the work stream", "$JS.API.STREAM.INFO.JOBS", func(ctx context.Context) error {
			_, err := enq.js.Stream(ctx, "JOBS")
			return err
		})
		refused(t, enq, "read a job by sequence", "$JS.API.STREAM.MSG.GET.JOBS", func(ctx context.Context) error {
			_, err := enq.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.JOBS", []byte(`{"seq":1}`))
			return err
		})
		refused(t, enq, "take a job of its own queue", "$JS.API.CONSUMER.MSG.NEXT.JOBS.mail", func(ctx context.Context) error {
			_, err := enq.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.JOBS.mail", []byte(`{"batch":1}`))
			return err
		})
		refused(t, enq, "subscribe to job subjects", "jobs.>", func(ctx context.Context) error {
			return subscribeAndWait(ctx, enq.nc, "jobs.>")
		})
		refused(t, enq, "snoop on the worker's inbox", "_INBOX_mail_worker.>", func(ctx context.Context) error {
			return subscribeAndWait(ctx, enq.nc, "_INBOX_mail_worker.>")
		})
		refused(t, enq, "read dead letters", "$JS.API.STREAM.INFO.JOBS_DLQ", func(ctx context.Context) error {
			_, err := enq.js.Stream(ctx, "JOBS_DLQ")
			return err
		})
	})

	t.Run("worker", func(t *testing.T) {
		// Cancels recorded before the worker starts, over 2 MB of them:
		// replaying them takes the watch of the cancel bucket through the
		// server's flow control (from 1 MB in flight), which the worker must
		// be allowed to answer or its Start never finishes.
		const cancels = 600
		record := []byte(`{"id":"old","canceled_at":"2026-01-01T00:00:00Z","pad":"` + strings.Repeat("x", 4000) + `"}`)
		for i := range cancels {
			if _, err := admin.js.PublishAsync(fmt.Sprintf("$KV.JOBS_CANCELED.old-%d", i), record); err != nil {
				t.Fatal(err)
			}
			if i%200 == 199 || i == cancels-1 {
				select {
				case <-admin.js.PublishAsyncComplete():
				case <-time.After(30 * time.Second):
					t.Fatal("recording the old cancels timed out")
				}
			}
		}

		w := connectAs(t, srv, "mail-worker", "worker-pw", "_INBOX_mail_worker")
		var sent, snoozedDone atomic.Int32
		var snoozed sync.Map
		release := make(chan struct{})
		var blocking atomic.Bool
		cfg := worker.Config{
			Queues:        map[string]worker.QueueConfig{"mail": {Concurrency: 1}},
			SkipTopology:  true,
			SnoozeInQueue: true,
			Logger:        testLogger(t),
			AckWait:       time.Second,
			MaxAttempts:   2,
			MaxDeliver:    3,
			RetryPolicy:   retry.Exponential{Initial: 100 * time.Millisecond, Max: 200 * time.Millisecond},
		}
		p, err := worker.New(w.js, cfg)
		must(t, err)
		must(t, worker.Handle(p, "send", func(ctx context.Context, j *job.Job[struct{}]) error { sent.Add(1); return nil }))
		must(t, worker.Handle(p, "fail", func(ctx context.Context, j *job.Job[struct{}]) error {
			return job.Permanent(errors.New("refused by the mail server"))
		}))
		must(t, worker.Handle(p, "snooze", func(ctx context.Context, j *job.Job[struct{}]) error {
			if _, again := snoozed.LoadOrStore(j.ID, true); !again {
				return job.Snooze(time.Second)
			}
			snoozedDone.Add(1)
			return nil
		}))
		// A job that waits until its context ends: canceled before it
		// starts it never runs; if its worker learns of the cancel only as
		// it starts (the watch is asynchronous), its context is canceled.
		// Either way it is dead-lettered as canceled.
		must(t, worker.Handle(p, "await.cancel", func(ctx context.Context, j *job.Job[struct{}]) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Minute):
				return nil
			}
		}))
		must(t, worker.Handle(p, "block", func(ctx context.Context, j *job.Job[struct{}]) error {
			blocking.Store(true)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}))
		startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := p.Start(startCtx); err != nil {
			t.Fatalf("the worker cannot start with its permissions: %v (violations %v)", err, w.violationsSoFar())
		}
		var releaseOnce, stopOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		stop := func() {
			stopOnce.Do(func() {
				unblock()
				sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				t0 := time.Now()
				// A denied request would hold Stop for the 5s ack timeout.
				if err := p.Stop(sctx); err != nil || time.Since(t0) > 4*time.Second {
					t.Errorf("Stop took %s: %v", time.Since(t0), err)
				}
			})
		}
		defer stop()

		mail := job.Queue("mail")
		_, err = adminClient.Enqueue(ctx, "send", nil, mail)
		must(t, err)
		failed, err := adminClient.Enqueue(ctx, "fail", nil, mail)
		must(t, err)
		_, err = adminClient.Enqueue(ctx, "snooze", nil, mail)
		must(t, err)
		// A job of queue mail whose kind is invalid: its dead letter goes
		// to the dead letters of queue mail, which the worker may write,
		// not to a queue of invalid jobs, which it may not.
		invalid := nats.NewMsg("jobs.mail.é1")
		invalid.Header.Set(job.HeaderID, "bad-kind-1")
		_, err = admin.js.PublishMsg(ctx, invalid)
		must(t, err)
		waitFor(t, 20*time.Second, 10*time.Millisecond, func() bool {
			dl, err := adminClient.DeadLetter(ctx, failed.ID)
			bad, badErr := adminClient.DeadLetters(ctx, job.DeadLetterFilter{Queue: "mail"})
			found := false
			for _, d := range bad {
				found = found || d.ID == "bad-kind-1" && d.Reason == job.ReasonDecode
			}
			// Two sends: the enqueuer's and the admin's.
			return sent.Load() == 2 && snoozedDone.Load() == 1 && err == nil && dl.Reason == job.ReasonFailed && badErr == nil && found
		}, "success, dead letter, snooze and the invalid kind's dead letter in queue mail (violations %v)", w.violationsSoFar())

		// The queue's first sequence job: the worker hears its publish,
		// opens the queue's partition consumers and runs it, all within
		// its role (and well before the 30 s look into the stream).
		_, err = adminClient.Enqueue(ctx, "send", nil, mail, job.Sequence("k"), job.ID("in-sequence"))
		must(t, err)
		waitFor(t, 15*time.Second, 10*time.Millisecond, func() bool { return sent.Load() == 3 },
			"the sequence job of queue mail ran (violations %v)", w.violationsSoFar())

		// Max deliveries: with the pool's one slot busy, a "crashing" consumer
		// (the admin) takes a job MaxDeliver times without settling it; the
		// worker dead-letters it from the server's advisory.
		_, err = adminClient.Enqueue(ctx, "block", nil, mail)
		must(t, err)
		waitFor(t, 10*time.Second, 10*time.Millisecond, blocking.Load, "blocking job started")
		crashy, err := adminClient.Enqueue(ctx, "send", map[string]int{"n": 1}, mail)
		must(t, err)
		mailCons, err := admin.js.Consumer(ctx, "JOBS", "mail")
		must(t, err)
		for range cfg.MaxDeliver {
			msgs, err := mailCons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			must(t, err)
			for range msgs.Messages() {
			}
		}
		msgs, err := mailCons.Fetch(1, jetstream.FetchMaxWait(2*time.Second)) // lets the server notice the limit
		must(t, err)
		for range msgs.Messages() {
		}
		waitFor(t, 20*time.Second, 20*time.Millisecond, func() bool {
			dl, err := adminClient.DeadLetter(ctx, crashy.ID)
			return err == nil && dl.Reason == job.ReasonMaxDeliveries
		}, "max-deliveries dead letter written by the worker")

		// Cancel: a job canceled while it waits is dead-lettered as
		// canceled, whether its worker learns of the cancel before the job
		// starts (it never runs) or as it starts (its context ends).
		doomed, err := adminClient.Enqueue(ctx, "await.cancel", nil, mail)
		must(t, err)
		_, err = adminClient.Cancel(ctx, doomed.ID)
		must(t, err)
		unblock()
		waitFor(t, 20*time.Second, 20*time.Millisecond, func() bool {
			dl, err := adminClient.DeadLetter(ctx, doomed.ID)
			return err == nil && dl.Reason == job.ReasonCanceled
		}, "canceled job dead-lettered by the worker")
		stop()
		if v := w.violationsSoFar(); len(v) > 0 {
			t.Fatalf("working its own queue caused permission violations: %v", v)
		}
		if sent.Load() != 3 {
			t.Errorf("the crashing or the canceled job ran in the worker (%d sends)", sent.Load())
		}

		// Outside its queue.
		refused(t, w, "serve queue reports", "$JS.API.CONSUMER.INFO.JOBS.reports", func(ctx context.Context) error {
			p, err := worker.New(w.js, worker.Config{Queues: map[string]worker.QueueConfig{"reports": {}}, SkipTopology: true, Logger: testLogger(t)})
			must(t, err)
			must(t, worker.Handle(p, "report.build", func(context.Context, *job.Job[struct{}]) error { return nil }))
			if err := p.Start(ctx); err != nil {
				return err
			}
			return p.Stop(ctx)
		})
		refused(t, w, "take a job of queue reports", "$JS.API.CONSUMER.MSG.NEXT.JOBS.reports", func(ctx context.Context) error {
			_, err := w.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.MSG.NEXT.JOBS.reports", []byte(`{"batch":1}`))
			return err
		})
		refused(t, w, "make a consumer of queue reports under its own name", "$JS.API.CONSUMER.CREATE.JOBS.mail.jobs.reports.>", func(ctx context.Context) error {
			cc := worker.ConsumerConfig(job.Topology{}, "mail", time.Second, 3, 0)
			cc.FilterSubject = "jobs.reports.>"
			req, _ := json.Marshal(map[string]any{"stream_name": "JOBS", "config": cc})
			_, err := w.nc.RequestWithContext(ctx, "$JS.API.CONSUMER.CREATE.JOBS.mail.jobs.reports.>", req)
			return err
		})
		refused(t, w, "dead-letter a job of queue reports", "jobs_dlq.reports.x", func(ctx context.Context) error {
			_, err := w.js.Publish(ctx, "jobs_dlq.reports.x", nil)
			return err
		})
		refused(t, w, "dead-letter a job of queue reports, filed by reason and kind", "jobs_dlq.reports.failed.x.report.build", func(ctx context.Context) error {
			_, err := w.js.Publish(ctx, "jobs_dlq.reports.failed.x.report.build", nil)
			return err
		})
		refused(t, w, "enqueue into queue reports", "jobs.reports.report.build", func(ctx context.Context) error {
			_, err := w.js.Publish(ctx, "jobs.reports.report.build", nil)
			return err
		})
		// No stream the worker may publish to allows roll-ups: the schedule
		// stream does (the server insists), so the worker may not publish
		// there at all — neither a roll-up that erases every schedule nor a
		// periodic schedule of its own into another queue.
		refused(t, w, "erase the schedule stream with a roll-up", "jobs_sched.at.x", func(ctx context.Context) error {
			m := nats.NewMsg("jobs_sched.at.x")
			m.Header.Set(jetstream.MsgRollup, "all")
			_, err := w.js.PublishMsg(ctx, m)
			return err
		})
		refused(t, w, "declare a schedule into queue reports", "jobs_sched.at.y", func(ctx context.Context) error {
			m := nats.NewMsg("jobs_sched.at.y")
			m.Header.Set(jetstream.ScheduleHeader, "@every 1s")
			m.Header.Set(jetstream.ScheduleTargetHeader, "jobs_sched.fire.reports.report.build")
			_, err := w.js.PublishMsg(ctx, m)
			return err
		})
		refused(t, w, "create a stream", "$JS.API.STREAM.CREATE.EVIL", func(ctx context.Context) error {
			_, err := w.js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVIL", Subjects: []string{"evil.>"}})
			return err
		})
		refused(t, w, "listen to queue reports' advisories", "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.reports", func(ctx context.Context) error {
			return subscribeAndWait(ctx, w.nc, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.JOBS.reports")
		})
		// A filter that does not match the subject it came on is refused by
		// the server itself, whatever the permissions.
		cc := worker.ConsumerConfig(job.Topology{}, "mail", time.Second, 3, 0)
		cc.FilterSubject = "jobs.reports.>"
		req, _ := json.Marshal(map[string]any{"stream_name": "JOBS", "config": cc})
		resp, err := w.nc.Request("$JS.API.CONSUMER.CREATE.JOBS.mail.jobs.mail.>", req, 5*time.Second)
		must(t, err)
		if !strings.Contains(string(resp.Data), `"error"`) {
			t.Errorf("the server let queue mail's consumer be re-filtered to queue reports: %s", resp.Data)
		}
		// The job of queue reports is still there, untouched.
		rc, err := admin.js.Consumer(ctx, "JOBS", "reports")
		must(t, err)
		info, err := rc.Info(ctx)
		must(t, err)
		if info.NumPending != 1 || info.NumAckPending != 0 || info.Delivered.Consumer != 0 {
			t.Errorf("queue reports' job %s was touched: pending %d, ack pending %d, delivered %d", reportJob.ID, info.NumPending, info.NumAckPending, info.Delivered.Consumer)
		}
	})
}

// rolesServer starts a server with exactly the roles of docs/security.md
// and returns it with the admin's connection and client, the namespace's
// streams created.
func rolesServer(t *testing.T) (*natstest.Server, *role, *job.Client) {
	t.Helper()
	confPath := filepath.Join(t.TempDir(), "roles.conf")
	if err := os.WriteFile(confPath, []byte(rolesConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	fileOpts, err := server.ProcessConfigFile(confPath)
	if err != nil {
		t.Fatalf("the permissions of docs/security.md do not parse: %v", err)
	}
	srv := natstest.Start(t, func(o *server.Options) { o.Users = fileOpts.Users })
	admin := connectAs(t, srv, "admin", "admin-pw", "")
	adminClient, err := job.NewClient(admin.js, job.ClientConfig{})
	must(t, err)
	must(t, adminClient.EnsureTopology(t.Context()))
	return srv, admin, adminClient
}

// A worker of queue mail may write the dead letters of its queue, and so
// every header of them. Dead letters it forges must not make an admin's
// replay publish anything but a job of queue mail: not a JetStream API
// request (which purged the work stream), not a job of another queue, and
// not lift the cancel of another queue's job.
func TestForgedDeadLettersAreNotReplayed(t *testing.T) {
	srv, admin, adminClient := rolesServer(t)
	ctx := t.Context()
	w := connectAs(t, srv, "mail-worker", "worker-pw", "_INBOX_mail_worker")

	// Work that must survive: a job of queue reports, canceled by ID, and
	// a pending job of queue mail.
	_, err := adminClient.Cancel(ctx, "order-43")
	must(t, err)
	_, err = adminClient.Enqueue(ctx, "report.build", nil, job.Queue("reports"), job.ID("order-43"))
	must(t, err)
	_, err = adminClient.Enqueue(ctx, "send", nil, job.Queue("mail"))
	must(t, err)
	jobs, err := admin.js.Stream(ctx, "JOBS")
	must(t, err)
	info, err := jobs.Info(ctx)
	must(t, err)
	before := info.State.Msgs

	var forgeOn func(id, stored, subject, reason string)
	forge := func(id, subject, reason string) {
		t.Helper()
		forgeOn(id, "jobs_dlq.mail."+job.SubjectToken(id), subject, reason)
	}
	forgeOn = func(id, stored, subject, reason string) {
		t.Helper()
		m := nats.NewMsg(stored)
		m.Header.Set(job.HeaderID, id)
		m.Header.Set(job.HeaderSubject, subject)
		m.Header.Set(job.HeaderReason, reason)
		m.Header.Set(job.HeaderError, "boom")
		m.Header.Set(job.HeaderAttempts, "3")
		if _, err := w.js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("the worker role could not write a dead letter of its queue: %v", err)
		}
	}
	// The older form, <queue>.<id>, still read, and the current one,
	// <queue>.<reason>.<id>.<kind>.
	forge("welcome-7", "$JS.API.STREAM.PURGE.JOBS", "failed")
	forge("steal-1", "jobs.reports.report.build", "failed")
	forge("order-43", "jobs.mail.send", "canceled") // filed under mail, names the reports job's ID
	forgeOn("steal-2", "jobs_dlq.mail.failed.steal-2.report.build", "jobs.reports.report.build", "failed")
	forgeOn("other-kind", "jobs_dlq.mail.failed.other-kind.send", "jobs.mail.purge.everything", "failed") // filed under kind send
	if v := w.violationsSoFar(); len(v) > 0 {
		t.Fatalf("permission violations: %v", v)
	}

	for _, id := range []string{"welcome-7", "steal-1", "steal-2", "other-kind"} {
		if _, err := adminClient.Replay(ctx, id); !errors.Is(err, job.ErrInvalidDeadLetter) {
			t.Errorf("Replay(%s) = %v; want ErrInvalidDeadLetter", id, err)
		} else {
			t.Logf("Replay(%s): %v", id, err)
		}
	}
	n, err := adminClient.ReplayAll(ctx, "", nil)
	if n != 1 || !errors.Is(err, job.ErrInvalidDeadLetter) {
		t.Errorf("ReplayAll = %d, %v; want 1 replayed (order-43, into queue mail) and ErrInvalidDeadLetter for the other four", n, err)
	}
	for _, id := range []string{"welcome-7", "steal-1", "steal-2", "other-kind"} {
		if _, err := adminClient.DeadLetter(ctx, id); err != nil {
			t.Errorf("the refused dead letter %s is gone: %v", id, err)
		}
	}
	info, err = jobs.Info(ctx)
	must(t, err)
	if info.State.Msgs != before+1 {
		t.Errorf("work stream holds %d jobs, want %d (the %d before and the replayed order-43 of queue mail)", info.State.Msgs, before+1, before)
	}
	if _, err := jobs.GetLastMsgForSubject(ctx, "jobs.reports.report.build"); err != nil {
		t.Errorf("queue reports' job is gone: %v", err)
	}
	if ok, err := adminClient.Canceled(ctx, "order-43"); err != nil || !ok {
		t.Errorf("Canceled(order-43) = %v, %v after replaying a forged dead letter; the cancel of queue reports' job must stand", ok, err)
	}
}

// subscribeAndWait subscribes to subject and waits for a message until ctx
// ends.
func subscribeAndWait(ctx context.Context, nc *nats.Conn, subject string) error {
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if _, err := sub.NextMsgWithContext(ctx); err != nil {
		return err
	}
	return fmt.Errorf("received a message on %s", subject)
}

// The CLI runs as the roles of docs/security.md: `jetjobs enqueue` as the
// enqueuer and `jetjobs worker` as the worker of queue mail, with the inbox
// prefixes the roles may subscribe to (--inbox-prefix) and the worker
// leaving the streams alone (--skip-topology). Neither meets a single
// permission violation, which the CLI would log.
func TestLeastPrivilegeRolesCLI(t *testing.T) {
	srv, _, _ := rolesServer(t)

	url := srv.URL()
	out, errOut, code := runCLI(t, "enqueue", "-s", url, "--log-format", "json", "--user", "mail-enqueuer", "--password", "enqueuer-pw",
		"--inbox-prefix", "_INBOX_mail_enqueuer", "--queue", "mail", "work", "{}")
	if code != 0 || errOut != "" {
		t.Fatalf("enqueue as the enqueuer: exit %d, stderr %q", code, errOut)
	}
	id := strings.TrimSpace(out)

	recDir := t.TempDir()
	w := startCLIWorker(t, recDir, "mail", "-s", url, "--user", "mail-worker", "--password", "worker-pw",
		"--inbox-prefix", "_INBOX_mail_worker", "--skip-topology", "--snooze-in-queue", "--queue", "mail")
	waitFor(t, 20*time.Second, 20*time.Millisecond, func() bool { return doneCounts(readRecords(t, recDir))[id] == 1 },
		"the worker ran job %s", id)
	w.signal(syscall.SIGTERM)
	if code, ok := w.wait(20 * time.Second); !ok || code != 0 {
		t.Fatalf("worker exit %d (exited %v):\n%s", code, ok, tail(w.logPath, 10))
	}
	if log := w.log(); strings.Contains(log, "NATS reported an error") || strings.Contains(strings.ToLower(log), "permission") {
		t.Errorf("the worker met permission errors:\n%s", log)
	}
}
