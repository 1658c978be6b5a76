package worker_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

type resizeArgs struct {
	Images int `json:"images"`
}

type resizeResult struct {
	Resized int    `json:"resized"`
	By      string `json:"by"`
}

func awaitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAwaitResultAfterAndBeforeCompletion(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "resize", func(ctx context.Context, j *job.Job[resizeArgs]) (resizeResult, error) {
			<-release
			return resizeResult{Resized: j.Args.Images, By: "test"}, nil
		}))
	})
	ctx := awaitCtx(t)
	r := e.enqueue("resize", resizeArgs{Images: 8}, job.KeepResult(time.Minute))

	// Before completion: Await waits, and Status sees the job running.
	type outcome struct {
		res resizeResult
		err error
	}
	got := make(chan outcome, 1)
	go func() {
		res, err := job.AwaitResult[resizeResult](ctx, e.client, r.ID)
		got <- outcome{res, err}
	}()
	eventually(t, func() bool {
		st, err := e.client.Status(ctx, r.ID)
		return err == nil && st.Status == job.StatusRunning && st.Attempt == 1 && st.Worker != ""
	}, "status running")
	close(release)
	o := <-got
	if o.err != nil || o.res != (resizeResult{Resized: 8, By: "test"}) {
		t.Fatalf("AwaitResult = %+v, %v", o.res, o.err)
	}

	// After completion: Await returns at once with the stored outcome.
	st, err := e.client.Await(ctx, r.ID)
	if err != nil || st.Status != job.StatusSucceeded || string(st.Result) != `{"resized":8,"by":"test"}` || st.FinishedAt.IsZero() || st.EnqueuedAt.IsZero() {
		t.Fatalf("Await after completion = %+v, %v", st, err)
	}
	// Waiters leave no consumer behind on the server.
	s, err := e.js.Stream(ctx, "KV_JOBS_STATE")
	must(t, err)
	if info, err := s.Info(ctx); err != nil || info.State.Consumers != 0 {
		t.Fatalf("state bucket has %d consumers after the waiters returned (%v), want 0", info.State.Consumers, err)
	}
}

func TestJobsWithoutKeepResultHaveNoState(t *testing.T) {
	e := newEnv(t)
	var done atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "plain", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
			if job.KeepsResult(ctx) {
				t.Error("a job that did not ask keeps its result")
			}
			must(t, job.Progress(ctx, 0.5, "half"))
			done.Add(1)
			return "dropped", nil
		}))
	})
	r := e.enqueue("plain", nil)
	eventually(t, func() bool { return done.Load() == 1 }, "job ran")
	if _, err := e.client.Status(context.Background(), r.ID); !errors.Is(err, job.ErrJobNotFound) {
		t.Fatalf("Status of a job without KeepResult: %v, want ErrJobNotFound", err)
	}
	s, err := e.js.Stream(context.Background(), "KV_JOBS_STATE")
	must(t, err)
	if info, _ := s.Info(context.Background()); info.State.Msgs != 0 {
		t.Fatalf("state bucket holds %d records, want 0", info.State.Msgs)
	}
}

func TestKindKeepsResultAndEnqueueAndAwait(t *testing.T) {
	e := newEnv(t)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "sum", func(ctx context.Context, j *job.Job[[]int]) (int, error) {
			n := 0
			for _, x := range j.Args {
				n += x
			}
			return n, nil
		}, worker.WithKeepResult(time.Minute)))
	})
	ctx := awaitCtx(t)
	n, err := job.EnqueueAndAwaitResult[int](ctx, e.client, job.Request{Kind: "sum", Args: []int{1, 2, 3}})
	if err != nil || n != 6 {
		t.Fatalf("EnqueueAndAwaitResult = %d, %v", n, err)
	}
	// The kind's setting alone keeps the state of a job enqueued without it.
	r := e.enqueue("sum", []int{4})
	eventually(t, func() bool {
		st, err := e.client.Status(ctx, r.ID)
		return err == nil && st.Status == job.StatusSucceeded && string(st.Result) == "4"
	}, "kind's setting kept the result")
}

func TestProgressSeenInOrder(t *testing.T) {
	e := newEnv(t)
	steps := []float64{0.1, 0.25, 0.5, 0.75, 1}
	next := make(chan struct{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "steps", func(ctx context.Context, j *job.Job[struct{}]) error {
			for i, f := range steps {
				// A burst of reports: the throttle writes the first and
				// the last of it.
				for k := range 50 {
					must(t, job.Progress(ctx, f*float64(k)/50, "busy"))
				}
				must(t, job.Progress(ctx, f, "step"))
				if i < len(steps)-1 {
					<-next // the waiter saw this step
				}
			}
			return job.RecordResult(ctx, "done")
		}))
	})
	ctx := awaitCtx(t)
	r := e.enqueue("steps", nil, job.KeepResult(time.Minute))
	var seen []float64
	want := 0
	st, err := e.client.Await(ctx, r.ID, job.OnProgress(func(st *job.State) {
		if st.Progress == nil {
			return
		}
		if n := len(seen); n > 0 && st.Progress.Fraction < seen[n-1] && st.Progress.Message == "step" {
			t.Errorf("progress went back: %v after %v", st.Progress.Fraction, seen)
		}
		if st.Progress.Message != "step" {
			return
		}
		seen = append(seen, st.Progress.Fraction)
		if want < len(steps)-1 && st.Progress.Fraction == steps[want] {
			want++
			next <- struct{}{}
		}
	}))
	if err != nil || st.Status != job.StatusSucceeded || string(st.Result) != `"done"` {
		t.Fatalf("Await = %+v, %v", st, err)
	}
	if want != len(steps)-1 {
		t.Fatalf("saw steps %v, want %v in order", seen, steps)
	}
}

func TestResultTooLargeFailsTheAttempt(t *testing.T) {
	e := newEnv(t)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "big", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
			return strings.Repeat("x", job.MaxResultSize), nil // plus the quotes
		}))
	})
	ctx := awaitCtx(t)
	_, err := job.EnqueueAndAwaitResult[string](ctx, e.client, job.Request{Kind: "big"})
	var je *job.JobError
	if !errors.As(err, &je) || je.Status != job.StatusDead || je.Reason != job.ReasonFailed || !strings.Contains(je.Message, "result too large") || je.Attempts != 1 {
		t.Fatalf("too large a result: %v (%+v)", err, je)
	}
}

func TestAwaitSeesRetriesAndFailures(t *testing.T) {
	e := newEnv(t)
	ctx := awaitCtx(t)
	// The waiter watches before the job first runs, and the second attempt
	// waits until the waiter saw the retry: every change reaches it.
	r := e.enqueue("flaky", nil, job.KeepResult(time.Minute))
	watching, sawRetrying := make(chan struct{}), make(chan struct{})
	var watchOnce, retryOnce sync.Once
	var statuses []job.Status
	type outcome struct {
		st  *job.State
		err error
	}
	got := make(chan outcome, 1)
	go func() {
		st, err := e.client.Await(ctx, r.ID, job.OnProgress(func(st *job.State) {
			watchOnce.Do(func() { close(watching) })
			statuses = append(statuses, st.Status)
			if st.Status == job.StatusRetrying {
				if st.Error != "first attempt fails" || st.NextAttemptAt.IsZero() || st.Attempt != 1 {
					t.Errorf("retrying state = %+v", st)
				}
				retryOnce.Do(func() { close(sawRetrying) })
			}
		}))
		got <- outcome{st, err}
	}()
	<-watching
	e.pool(worker.Config{RetryPolicy: retry.Constant(200 * time.Millisecond)}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "flaky", func(ctx context.Context, j *job.Job[struct{}]) (int, error) {
			if j.Attempt == 1 {
				return 0, errors.New("first attempt fails")
			}
			select {
			case <-sawRetrying:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			return j.Attempt, nil
		}))
		must(t, worker.Handle(p, "broken", func(ctx context.Context, j *job.Job[struct{}]) error {
			return job.Permanent(errors.New("bad input"))
		}))
	})
	o := <-got
	if o.err != nil || o.st.Status != job.StatusSucceeded || string(o.st.Result) != "2" || o.st.Attempt != 2 {
		t.Fatalf("flaky: %+v, %v", o.st, o.err)
	}
	// In order; a record overwritten before it reached the waiter (the
	// bucket keeps the latest) may be missing, but not the retry the second
	// attempt waited for.
	want := []job.Status{job.StatusWaiting, job.StatusRunning, job.StatusRetrying, job.StatusRunning}
	if !inOrder(statuses, want) || !slices.Contains(statuses, job.StatusRetrying) {
		t.Errorf("statuses seen %v, want retrying among %v, in that order", statuses, want)
	}
	st, err := e.client.EnqueueAndAwait(ctx, job.Request{Kind: "broken"})
	if err != nil || st.Status != job.StatusDead || st.Reason != job.ReasonFailed || st.Error != "bad input" {
		t.Fatalf("broken: %+v, %v", st, err)
	}
	if _, err := job.ResultOf[int](st); err == nil || !strings.Contains(err.Error(), "bad input") {
		t.Fatalf("ResultOf dead job: %v", err)
	}
}

// inOrder reports whether seen is a subsequence of want.
func inOrder(seen, want []job.Status) bool {
	i := 0
	for _, s := range seen {
		for i < len(want) && want[i] != s {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}

func containsStatus(ss []job.Status, s job.Status) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestAwaitUnknownIDHonoursContext(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := e.client.Await(ctx, "never-enqueued")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await of an unknown ID: %v, want the context's deadline", err)
	}
	if _, err := e.client.Status(context.Background(), "never-enqueued"); !errors.Is(err, job.ErrJobNotFound) {
		t.Fatalf("Status of an unknown ID: %v", err)
	}
}

func TestStateExpiresAfterItsTTL(t *testing.T) {
	e := newEnv(t)
	// No worker: the job waits, and its record expires while Await
	// watches it.
	ctx := awaitCtx(t)
	r := e.enqueue("nobody", nil, job.KeepResult(time.Second))
	if st, err := e.client.Status(ctx, r.ID); err != nil || st.Status != job.StatusWaiting || st.Kind != "nobody" || st.Queue != "default" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	_, err := e.client.Await(ctx, r.ID)
	if !errors.Is(err, job.ErrJobNotFound) {
		t.Fatalf("Await while the record expires: %v, want ErrJobNotFound", err)
	}
	if _, err := e.client.Status(ctx, r.ID); !errors.Is(err, job.ErrJobNotFound) {
		t.Fatalf("Status after expiry: %v", err)
	}
}

func TestAwaitAcrossWorkerDeath(t *testing.T) {
	e := newEnv(t)
	nc1, js1 := e.srv.Connect(t)
	started := make(chan struct{})
	release := make(chan struct{})
	p1, err := worker.New(js1, worker.Config{Logger: testLogger(), AckWait: time.Second})
	must(t, err)
	must(t, worker.HandleResult(p1, "work", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
		close(started)
		<-release
		return "first", nil
	}))
	must(t, p1.Start(context.Background()))
	t.Cleanup(func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = p1.Stop(ctx)
	})
	ctx := awaitCtx(t)
	r := e.enqueue("work", nil, job.KeepResult(time.Minute))
	<-started
	nc1.Close() // the worker "dies" mid-job: no heartbeat, no outcome

	_, js2 := e.srv.Connect(t)
	p2, err := worker.New(js2, worker.Config{Logger: testLogger(), AckWait: time.Second})
	must(t, err)
	must(t, worker.HandleResult(p2, "work", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
		return "second", nil
	}))
	must(t, p2.Start(context.Background()))
	defer p2.Stop(context.Background())
	st, err := e.client.Await(ctx, r.ID)
	if err != nil || st.Status != job.StatusSucceeded || string(st.Result) != `"second"` || st.Attempt != 2 {
		t.Fatalf("Await across a worker death = %+v, %v", st, err)
	}
}

func TestAwaitAcrossServerRestart(t *testing.T) {
	e := newEnv(t)
	poolConn, poolJS := e.srv.Connect(t)
	started := make(chan struct{})
	release := make(chan struct{})
	pool, err := worker.New(poolJS, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.HandleResult(pool, "work", func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
		close(started)
		<-release
		return "survived", nil
	}))
	must(t, pool.Start(context.Background()))
	defer pool.Stop(context.Background())
	ctx := awaitCtx(t)
	r := e.enqueue("work", nil, job.KeepResult(time.Minute))
	<-started
	got := make(chan error, 1)
	watching := make(chan struct{})
	var once sync.Once
	var st *job.State
	go func() {
		var err error
		st, err = e.client.Await(ctx, r.ID, job.OnProgress(func(*job.State) { once.Do(func() { close(watching) }) }))
		got <- err
	}()
	<-watching // Await watches the running job's record
	e.srv.Restart(t)
	clientConn := e.js.Conn()
	eventually(t, func() bool {
		return poolConn.Status() == nats.CONNECTED && clientConn.Status() == nats.CONNECTED
	}, "reconnected")
	close(release)
	if err := <-got; err != nil || st.Status != job.StatusSucceeded || string(st.Result) != `"survived"` {
		t.Fatalf("Await across a server restart = %+v, %v", st, err)
	}
}

func TestForeignEnqueuerKeepsResultWithHeader(t *testing.T) {
	e := newEnv(t)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "echo", func(ctx context.Context, j *job.Job[map[string]string]) (map[string]string, error) {
			return j.Args, nil
		}))
	})
	msg := nats.NewMsg("jobs.default.echo")
	msg.Data = []byte(`{"a":"b"}`)
	msg.Header.Set(job.HeaderID, "foreign-1")
	msg.Header.Set(job.HeaderKeepResult, "1m")
	_, err := e.js.PublishMsg(context.Background(), msg)
	must(t, err)
	res, err := job.AwaitResult[map[string]string](awaitCtx(t), e.client, "foreign-1")
	if err != nil || res["a"] != "b" {
		t.Fatalf("foreign job's result = %v, %v", res, err)
	}
	// A value that does not parse is a decode error, like any bad header.
	msg = nats.NewMsg("jobs.default.echo")
	msg.Header.Set(job.HeaderID, "foreign-2")
	msg.Header.Set(job.HeaderKeepResult, "forever")
	_, err = e.js.PublishMsg(context.Background(), msg)
	must(t, err)
	eventually(t, func() bool { return len(e.deadLetters()) == 1 }, "dead letter")
	if dl := e.deadLetters()[0]; dl.ID != "foreign-2" || dl.Reason != job.ReasonDecode || !strings.Contains(dl.Error, job.HeaderKeepResult) {
		t.Fatalf("dead letter = %+v", dl)
	}
}

func TestUniqueUntilDone(t *testing.T) {
	e := newEnv(t)
	ctx := awaitCtx(t)
	const n = 10
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored int
		active int
		other  []error
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.client.Enqueue(ctx, "once", nil, job.ID("report-7"), job.UniqueUntilDone())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				stored++
			case errors.Is(err, job.ErrJobActive):
				active++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	if stored != 1 || active != n-1 || len(other) > 0 {
		t.Fatalf("%d concurrent enqueues: stored %d, refused %d, other errors %v", n, stored, active, other)
	}
	if got := streamMsgs(t, e); got != 1 {
		t.Fatalf("work stream holds %d jobs, want 1", got)
	}
	var ran atomic.Int32
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "once", func(ctx context.Context, j *job.Job[struct{}]) error { ran.Add(1); return nil }))
	})
	if st, err := e.client.Await(ctx, "report-7"); err != nil || st.Status != job.StatusSucceeded {
		t.Fatalf("Await = %+v, %v", st, err)
	}
	// Finished: the ID is free again, within the duplicate window too.
	if _, err := e.client.Enqueue(ctx, "once", nil, job.ID("report-7"), job.UniqueUntilDone()); err != nil {
		t.Fatalf("enqueue after the first finished: %v", err)
	}
	eventually(t, func() bool { return ran.Load() == 2 }, "second job ran (ran %d)", ran.Load())
	if _, err := e.client.Enqueue(ctx, "once", nil, job.UniqueUntilDone()); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("UniqueUntilDone without an ID: %v", err)
	}
}

func TestCancelScheduledJobRecordsCanceled(t *testing.T) {
	e := newEnv(t)
	ctx := awaitCtx(t)
	r := e.enqueue("later", nil, job.In(time.Hour), job.KeepResult(time.Minute))
	st, err := e.client.Status(ctx, r.ID)
	if err != nil || st.Status != job.StatusScheduled || st.RunAt.Before(time.Now().Add(59*time.Minute)) {
		t.Fatalf("Status of a delayed job = %+v, %v", st, err)
	}
	res, err := e.client.Cancel(ctx, r.ID)
	if err != nil || !res.Unscheduled {
		t.Fatalf("Cancel = %+v, %v", res, err)
	}
	st, err = e.client.Await(ctx, r.ID)
	if err != nil || st.Status != job.StatusCanceled || !errors.Is(st.Err(), job.ErrCanceled) {
		t.Fatalf("Await of a canceled delayed job = %+v, %v", st, err)
	}
}

func TestAwaitSeesCanceledExpiredAndSnoozed(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{}, 1)
	var snoozed atomic.Bool
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "long", func(ctx context.Context, j *job.Job[struct{}]) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}))
		must(t, worker.Handle(p, "late", func(ctx context.Context, j *job.Job[struct{}]) error {
			t.Error("an expired job ran")
			return nil
		}))
		must(t, worker.Handle(p, "nap", func(ctx context.Context, j *job.Job[struct{}]) error {
			if !snoozed.Swap(true) {
				return job.Snooze(time.Second)
			}
			return nil
		}))
	})
	ctx := awaitCtx(t)

	// Canceled while it runs.
	r := e.enqueue("long", nil, job.KeepResult(time.Minute))
	<-started
	_, err := e.client.Cancel(ctx, r.ID)
	must(t, err)
	st, err := e.client.Await(ctx, r.ID)
	if err != nil || st.Status != job.StatusCanceled || st.Reason != job.ReasonCanceled || !errors.Is(st.Err(), job.ErrCanceled) {
		t.Fatalf("canceled while running: %+v, %v", st, err)
	}

	// Expired before it started.
	st, err = e.client.EnqueueAndAwait(ctx, job.Request{Kind: "late", Options: []job.Option{job.Deadline(time.Now().Add(-time.Minute))}})
	if err != nil || st.Status != job.StatusExpired || st.Reason != job.ReasonExpired {
		t.Fatalf("expired: %+v, %v", st, err)
	}

	// Snoozed: scheduled until its time, then run.
	var seen []job.Status
	st, err = e.client.EnqueueAndAwait(ctx, job.Request{Kind: "nap"}, job.OnProgress(func(st *job.State) {
		seen = append(seen, st.Status)
		if st.Status == job.StatusScheduled && st.RunAt.IsZero() {
			t.Errorf("scheduled without run_at: %+v", st)
		}
	}))
	if err != nil || st.Status != job.StatusSucceeded || !containsStatus(seen, job.StatusScheduled) {
		t.Fatalf("snoozed: %+v, %v (saw %v)", st, err, seen)
	}
}
