package worker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

// counter counts handler runs by job ID.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
	seq  []string
}

func (c *counter) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[id]++
	c.seq = append(c.seq, id)
}

func (c *counter) get(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[id]
}

func (c *counter) order() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.seq)
}

// workStreamEmpty reports whether every job was acknowledged: nothing, no
// second callback either, waits in the work stream.
func (e *env) workStreamEmpty(ctx context.Context) bool {
	s, err := e.js.Stream(ctx, "JOBS")
	if err != nil {
		return false
	}
	info, err := s.Info(ctx)
	return err == nil && info.State.Msgs == 0
}

// A hundred jobs of a batch are held until all run, then finish at the same
// moment on a hundred runners: the success callback runs once, and the
// complete callback once with the counts.
func TestBatchConcurrentLastFinishesFireOneCallback(t *testing.T) {
	e := newEnv(t)
	const n = 100
	var running atomic.Int32
	release := make(chan struct{})
	var calls counter
	var gotCounts job.BatchCounts
	var countsOK atomic.Bool
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{job.DefaultQueue: {Concurrency: n}}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "part", func(ctx context.Context, j *job.Job[struct{}]) error {
			if running.Add(1) == n {
				close(release)
			}
			<-release
			return nil
		}))
		must(t, worker.Handle(p, "on.success", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.add("success")
			return nil
		}))
		must(t, worker.Handle(p, "on.complete", func(ctx context.Context, j *job.Job[struct{}]) error {
			b, counts, ok := job.BatchCountsOf(j.Info)
			if ok && b == "b100" {
				gotCounts = counts
				countsOK.Store(true)
			}
			calls.add("complete")
			return nil
		}))
	})
	ctx := awaitCtx(t)
	reqs := make([]job.Request, n)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "part"}
	}
	res, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "b100", OnSuccess: &job.Request{Kind: "on.success"}, OnComplete: &job.Request{Kind: "on.complete"}}, reqs...)
	if err != nil || len(res) != n {
		t.Fatalf("EnqueueBatch: %d results, %v", len(res), err)
	}
	eventually(t, func() bool {
		return calls.get("success") >= 1 && calls.get("complete") >= 1 && e.workStreamEmpty(ctx)
	}, "both callbacks ran and every job was acknowledged")
	if s, c := calls.get("success"), calls.get("complete"); s != 1 || c != 1 {
		t.Fatalf("success callback ran %d times, complete %d; want 1 each", s, c)
	}
	if !countsOK.Load() || gotCounts != (job.BatchCounts{Total: n, Succeeded: n}) {
		t.Fatalf("complete callback counts = %+v (ok %v), want total and succeeded %d", gotCounts, countsOK.Load(), n)
	}
	st, err := e.client.Batch(ctx, "b100")
	if err != nil || !st.Done || st.Succeeded != n || st.Pending != 0 || !st.SuccessFired || !st.CompleteFired {
		t.Fatalf("Batch = %+v, %v", st, err)
	}
}

// Dead and retried jobs: no success callback, and the complete callback
// carries the counts.
func TestBatchCompleteCallbackCounts(t *testing.T) {
	e := newEnv(t)
	var calls counter
	countsCh := make(chan job.BatchCounts, 2)
	var flaky atomic.Int32
	e.pool(worker.Config{RetryPolicy: retry.Constant(10 * time.Millisecond)}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "ok", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
		must(t, worker.Handle(p, "bad", func(ctx context.Context, j *job.Job[struct{}]) error {
			return job.Permanent(errors.New("refused"))
		}))
		must(t, worker.Handle(p, "flaky", func(ctx context.Context, j *job.Job[struct{}]) error {
			if flaky.Add(1) == 1 {
				return errors.New("first attempt fails")
			}
			return nil
		}))
		must(t, worker.Handle(p, "on.success", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.add("success")
			return nil
		}))
		must(t, worker.Handle(p, "on.complete", func(ctx context.Context, j *job.Job[struct{}]) error {
			_, counts, _ := job.BatchCountsOf(j.Info)
			countsCh <- counts
			return nil
		}))
	})
	ctx := awaitCtx(t)
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "mixed", OnSuccess: &job.Request{Kind: "on.success"}, OnComplete: &job.Request{Kind: "on.complete"}},
		job.Request{Kind: "ok"}, job.Request{Kind: "ok"}, job.Request{Kind: "bad"}, job.Request{Kind: "bad"}, job.Request{Kind: "flaky"})
	must(t, err)
	var counts job.BatchCounts
	select {
	case counts = <-countsCh:
	case <-ctx.Done():
		t.Fatal("complete callback never ran")
	}
	want := job.BatchCounts{Total: 5, Succeeded: 3, Dead: 2, Failed: 1}
	if counts != want {
		t.Fatalf("counts = %+v, want %+v", counts, want)
	}
	eventually(t, func() bool { return e.workStreamEmpty(ctx) }, "work stream empty")
	if calls.get("success") != 0 {
		t.Fatal("success callback ran for a batch with dead jobs")
	}
	st, err := e.client.Batch(ctx, "mixed")
	if err != nil || st.BatchCounts != want || !st.Done || st.SuccessFired || !st.CompleteFired {
		t.Fatalf("Batch = %+v, %v", st, err)
	}
}

// A running job adds jobs to its own batch: the batch waits for them.
func TestBatchJobAddsToItsBatch(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	var calls counter
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "parent", func(ctx context.Context, j *job.Job[struct{}]) error {
			reqs := []job.Request{}
			for i := range 3 {
				reqs = append(reqs, job.Request{Kind: "child", Options: []job.Option{job.ID(fmt.Sprintf("child-%d", i))}})
			}
			_, err := e.client.AddToBatch(ctx, reqs...)
			return err
		}))
		must(t, worker.Handle(p, "child", func(ctx context.Context, j *job.Job[struct{}]) error {
			<-release
			calls.add(j.ID)
			return nil
		}))
		must(t, worker.Handle(p, "on.success", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.add("success")
			return nil
		}))
	})
	ctx := awaitCtx(t)
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "tree", OnSuccess: &job.Request{Kind: "on.success"}}, job.Request{Kind: "parent"})
	must(t, err)
	eventually(t, func() bool {
		st, err := e.client.Batch(ctx, "tree")
		return err == nil && st.Total == 4 && st.Succeeded == 1 && st.Pending == 3
	}, "the parent succeeded and its three children are counted")
	if calls.get("success") != 0 {
		t.Fatal("success callback ran before the added jobs finished")
	}
	close(release)
	eventually(t, func() bool { return calls.get("success") == 1 && e.workStreamEmpty(ctx) }, "success callback after the children")
	for i := range 3 {
		if calls.get(fmt.Sprintf("child-%d", i)) != 1 {
			t.Fatalf("child-%d ran %d times", i, calls.get(fmt.Sprintf("child-%d", i)))
		}
	}
	if _, err := e.client.AddToBatch(ctx, job.Request{Kind: "child"}); !errors.Is(err, job.ErrNotInBatch) {
		t.Fatalf("AddToBatch outside a job: %v, want ErrNotInBatch", err)
	}
}

func TestEnqueueBatchRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := awaitCtx(t)
	if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "a.b"}, job.Request{Kind: "x"}); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("bad ID: %v", err)
	}
	if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "empty"}); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("no jobs: %v", err)
	}
	if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "badjob"}, job.Request{Kind: "ok"}, job.Request{Kind: "bad kind"}); !errors.Is(err, job.ErrInvalidName) {
		t.Fatalf("bad kind: %v", err)
	}
	if _, err := e.client.Batch(ctx, "badjob"); !errors.Is(err, job.ErrBatchNotFound) {
		t.Fatalf("a refused batch was stored: %v", err)
	}
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "once"}, job.Request{Kind: "x"})
	must(t, err)
	if _, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "once"}, job.Request{Kind: "x"}); !errors.Is(err, job.ErrBatchExists) {
		t.Fatalf("second batch with the same ID: %v, want ErrBatchExists", err)
	}
}

// A job of a batch whose ID the work stream already holds is not part of
// the batch: the call says so, and the batch counts the others.
func TestEnqueueBatchDuplicateJobIsNotCounted(t *testing.T) {
	e := newEnv(t)
	ctx := awaitCtx(t)
	e.enqueue("x", nil, job.ID("taken"))
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "dup"}, job.Request{Kind: "x"}, job.Request{Kind: "x", Options: []job.Option{job.ID("taken")}})
	var berr *job.BatchError
	if !errors.As(err, &berr) || len(berr.Stored) != 1 || len(berr.NotStored) != 1 || berr.NotStored[0].ID != "taken" {
		t.Fatalf("err = %v, want a BatchError with one stored and %q not", err, "taken")
	}
	st, err := e.client.Batch(ctx, "dup")
	if err != nil || st.Total != 1 || st.Pending != 1 {
		t.Fatalf("Batch = %+v, %v", st, err)
	}
}

type chargeArgs struct {
	Order  string `json:"order"`
	Amount int    `json:"amount"`
}

type chargeResult struct {
	Receipt string `json:"receipt"`
}

// orderPipeline registers charge, ship, email, done and cleanup handlers
// that record their runs; failCharge decides whether charge fails.
func orderPipeline(t *testing.T, p *worker.Pool, calls *counter, failCharge func() bool) {
	must(t, worker.HandleResult(p, "charge", func(ctx context.Context, j *job.Job[chargeArgs]) (chargeResult, error) {
		calls.add("charge")
		if failCharge() {
			return chargeResult{}, job.Permanent(errors.New("card declined"))
		}
		return chargeResult{Receipt: "r-" + j.Args.Order}, nil
	}))
	for _, kind := range []string{"ship", "email"} {
		must(t, worker.HandleResult(p, kind, func(ctx context.Context, j *job.Job[struct{}]) (string, error) {
			r, err := job.DependencyResult[chargeResult](ctx, "charge")
			if err != nil {
				return "", err
			}
			calls.add(kind)
			return kind + " " + r.Receipt, nil
		}))
	}
	must(t, worker.Handle(p, "done", func(ctx context.Context, j *job.Job[struct{}]) error {
		for _, dep := range []string{"ship", "email"} {
			if _, err := job.DependencyResult[string](ctx, dep); err != nil {
				return err
			}
		}
		calls.add("done")
		return nil
	}))
	must(t, worker.Handle(p, "cleanup", func(ctx context.Context, j *job.Job[struct{}]) error {
		_, err := job.DependencyResult[chargeResult](ctx, "charge")
		var jerr *job.JobError
		if errors.As(err, &jerr) {
			calls.add("cleanup-after-failure")
		} else {
			calls.add("cleanup")
		}
		return nil
	}))
}

func orderWorkflow(id string) *job.Workflow {
	wf := job.NewWorkflow(id)
	charge := wf.Task("charge", "charge", chargeArgs{Order: id, Amount: 42}, job.WithOptions(job.MaxAttempts(1)))
	ship := wf.Task("ship", "ship", nil, job.After(charge))
	email := wf.Task("email", "email", nil, job.After(charge))
	wf.Task("done", "done", nil, job.After(ship, email))
	wf.Task("cleanup", "cleanup", nil, job.After(charge), job.RunAnyway())
	return wf
}

func awaitWorkflow(t *testing.T, e *env, ctx context.Context, id string) *job.WorkflowStatus {
	t.Helper()
	var st *job.WorkflowStatus
	eventually(t, func() bool {
		var err error
		st, err = e.client.Workflow(ctx, id)
		return err == nil && st.Done() && e.workStreamEmpty(ctx)
	}, "workflow %s done", id)
	return st
}

func taskStatuses(st *job.WorkflowStatus) map[string]job.Status {
	out := map[string]job.Status{}
	for _, t := range st.Tasks {
		out[t.Name] = t.Status
	}
	return out
}

func TestWorkflowRunsInOrderAndReadsResults(t *testing.T) {
	e := newEnv(t)
	var calls counter
	e.pool(worker.Config{}, func(p *worker.Pool) { orderPipeline(t, p, &calls, func() bool { return false }) })
	ctx := awaitCtx(t)
	must(t, e.client.StartWorkflow(ctx, orderWorkflow("o1")))
	st := awaitWorkflow(t, e, ctx, "o1")
	for name, s := range taskStatuses(st) {
		if s != job.StatusSucceeded {
			t.Fatalf("task %s is %s, want succeeded (%+v)", name, s, st)
		}
	}
	order := calls.order()
	pos := func(name string) int { return slices.Index(order, name) }
	if pos("charge") != 0 || pos("ship") < 0 || pos("email") < 0 || pos("done") < max(pos("ship"), pos("email")) || pos("cleanup") < 0 {
		t.Fatalf("run order %v: charge first, done after ship and email", order)
	}
	ship, _ := st.Task("ship")
	if string(ship.Result) != `"ship r-o1"` {
		t.Fatalf("ship's result %s: want it to carry charge's receipt", ship.Result)
	}
	for _, name := range []string{"charge", "ship", "email", "done", "cleanup"} {
		if calls.get(name) != 1 {
			t.Fatalf("%s ran %d times, want 1", name, calls.get(name))
		}
	}
	if err := e.client.StartWorkflow(ctx, orderWorkflow("o1")); !errors.Is(err, job.ErrWorkflowExists) {
		t.Fatalf("second start: %v, want ErrWorkflowExists", err)
	}
}

// A dead task cancels the tasks after it; one that runs anyway runs, and
// RetryTask then runs the dead task again and its dependents go on.
func TestWorkflowDeadTaskCancelsDependentsThenRetry(t *testing.T) {
	e := newEnv(t)
	var calls counter
	var declined atomic.Bool
	declined.Store(true)
	e.pool(worker.Config{}, func(p *worker.Pool) { orderPipeline(t, p, &calls, declined.Load) })
	ctx := awaitCtx(t)
	must(t, e.client.StartWorkflow(ctx, orderWorkflow("o2")))
	st := awaitWorkflow(t, e, ctx, "o2")
	want := map[string]job.Status{"charge": job.StatusDead, "ship": job.StatusCanceled, "email": job.StatusCanceled, "done": job.StatusCanceled, "cleanup": job.StatusSucceeded}
	if got := taskStatuses(st); !mapsEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if ship, _ := st.Task("ship"); ship.Cause != "charge" {
		t.Fatalf("ship's cause %q, want charge", ship.Cause)
	}
	if done, _ := st.Task("done"); done.Cause != "ship" && done.Cause != "email" {
		t.Fatalf("done's cause %q, want ship or email", done.Cause)
	}
	if calls.get("cleanup-after-failure") != 1 || calls.get("ship") != 0 {
		t.Fatalf("runs %v", calls.order())
	}
	if _, err := e.client.RetryTask(ctx, "o2", "ship"); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("RetryTask of a canceled task: %v, want ErrInvalidOption", err)
	}

	declined.Store(false)
	if _, err := e.client.RetryTask(ctx, "o2", "charge"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return calls.get("done") == 1 && e.workStreamEmpty(ctx) }, "done ran after the retried charge")
	st = awaitWorkflow(t, e, ctx, "o2")
	for name, s := range taskStatuses(st) {
		if s != job.StatusSucceeded {
			t.Fatalf("after the retry task %s is %s (%v)", name, s, taskStatuses(st))
		}
	}
	// The task that ran anyway counted charge's death and does not run
	// again for its success.
	if calls.get("cleanup")+calls.get("cleanup-after-failure") != 1 {
		t.Fatalf("cleanup ran %d+%d times", calls.get("cleanup"), calls.get("cleanup-after-failure"))
	}
}

func mapsEqual(a, b map[string]job.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCancelWorkflow(t *testing.T) {
	e := newEnv(t)
	started := make(chan struct{})
	var calls counter
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "slow", func(ctx context.Context, j *job.Job[struct{}]) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}))
		must(t, worker.Handle(p, "next", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.add("next")
			return nil
		}))
	})
	ctx := awaitCtx(t)
	wf := job.NewWorkflow("c1")
	slow := wf.Task("slow", "slow", nil)
	wf.Task("next", "next", nil, job.After(slow))
	wf.Task("anyway", "next", nil, job.After(slow), job.RunAnyway())
	must(t, e.client.StartWorkflow(ctx, wf))
	<-started
	must(t, e.client.CancelWorkflow(ctx, "c1"))
	st := awaitWorkflow(t, e, ctx, "c1")
	want := map[string]job.Status{"slow": job.StatusCanceled, "next": job.StatusCanceled, "anyway": job.StatusCanceled}
	if got := taskStatuses(st); !mapsEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if calls.get("next") != 0 {
		t.Fatal("a task of a canceled workflow ran")
	}
}

// A workflow of 1,002 tasks: one root fans out to 1,000, which fan in to
// one summary. The summary's readiness is one counter, not 1,000 reads.
func TestWorkflowFanOutFanIn1000(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 tasks")
	}
	e := newEnv(t)
	var calls atomic.Int64
	var summary atomic.Int64
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{job.DefaultQueue: {Concurrency: 64}}}, func(p *worker.Pool) {
		must(t, worker.HandleResult(p, "chunk", func(ctx context.Context, j *job.Job[int]) (int, error) {
			calls.Add(1)
			return j.Args, nil
		}))
		must(t, worker.Handle(p, "summary", func(ctx context.Context, j *job.Job[int]) error {
			sum := 0
			for i := range j.Args {
				v, err := job.DependencyResult[int](ctx, fmt.Sprintf("c%d", i))
				if err != nil {
					return err
				}
				sum += v
			}
			summary.Store(int64(sum))
			return nil
		}))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 1000
	wf := fanWorkflow("fan", n)
	start := time.Now()
	must(t, e.client.StartWorkflow(ctx, wf))
	natstest.Eventually(t, 2*time.Minute, func() bool { return summary.Load() != 0 }, "summary ran")
	elapsed := time.Since(start)
	if want := int64(n * (n - 1) / 2); summary.Load() != want || calls.Load() != n+1 {
		t.Fatalf("summary %d (want %d), chunks run %d (want %d)", summary.Load(), want, calls.Load(), n+1)
	}
	t.Logf("%d-task workflow (fan-out %d, fan-in 1) finished in %s: %s per task", n+2, n, elapsed.Round(time.Millisecond), (elapsed / (n + 2)).Round(time.Microsecond))
}

// fanWorkflow is root -> c0..c(n-1) -> summary.
func fanWorkflow(id string, n int) *job.Workflow {
	wf := job.NewWorkflow(id)
	root := wf.Task("root", "chunk", 0)
	chunks := make([]*job.Task, n)
	for i := range chunks {
		chunks[i] = wf.Task(fmt.Sprintf("c%d", i), "chunk", i, job.After(root))
	}
	wf.Task("summary", "summary", n, job.After(chunks...))
	return wf
}

// A job ID used again in another batch (after the duplicate window) runs
// there too: the marker that lets a redelivery skip a settled job is kept
// per batch.
func TestBatchJobIDReusedInAnotherBatchRuns(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	topo := job.Topology{DuplicateWindow: time.Second}
	c, err := job.NewClient(js, job.ClientConfig{Topology: topo})
	must(t, err)
	ctx := awaitCtx(t)
	must(t, c.EnsureTopology(ctx))
	var calls counter
	pooltest.Start(t, js, worker.Config{Topology: topo}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "x", func(ctx context.Context, j *job.Job[struct{}]) error {
			b, _ := job.BatchOf(j.Info)
			calls.add(b)
			return nil
		}))
	})
	_, err = c.EnqueueBatch(ctx, job.Batch{ID: "first"}, job.Request{Kind: "x", Options: []job.Option{job.ID("same")}})
	must(t, err)
	eventually(t, func() bool { return calls.get("first") == 1 }, "the job ran in the first batch")
	// Within the duplicate window the work stream refuses the ID; once it
	// passed, the second batch stores it.
	n := 0
	eventually(t, func() bool {
		n++
		_, err := c.EnqueueBatch(ctx, job.Batch{ID: fmt.Sprintf("second-%d", n)}, job.Request{Kind: "x", Options: []job.Option{job.ID("same")}})
		return err == nil
	}, "the ID is accepted again after the duplicate window")
	second := fmt.Sprintf("second-%d", n)
	eventually(t, func() bool { return calls.get(second) == 1 }, "the job ran in batch %s", second)
	st, err := c.Batch(ctx, second)
	if err != nil || !st.Done || st.Succeeded != 1 {
		t.Fatalf("Batch(%s) = %+v, %v", second, st, err)
	}
}

// A dead job of a batch, replayed, succeeds: it counts as succeeded, and the
// success callback, held back by it, runs.
func TestBatchReplayedDeadJobCompletesSuccess(t *testing.T) {
	e := newEnv(t)
	var calls counter
	var fixed atomic.Bool
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "x", func(ctx context.Context, j *job.Job[struct{}]) error {
			if j.ID == "broken" && !fixed.Load() {
				return job.Permanent(errors.New("broken"))
			}
			return nil
		}))
		must(t, worker.Handle(p, "cb", func(ctx context.Context, j *job.Job[struct{}]) error {
			calls.add(j.Header.Get("Which"))
			return nil
		}))
	})
	ctx := awaitCtx(t)
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "r1",
		OnSuccess:  &job.Request{Kind: "cb", Options: []job.Option{job.Header("Which", "success")}},
		OnComplete: &job.Request{Kind: "cb", Options: []job.Option{job.Header("Which", "complete")}}},
		job.Request{Kind: "x"}, job.Request{Kind: "x", Options: []job.Option{job.ID("broken")}})
	must(t, err)
	eventually(t, func() bool { return calls.get("complete") == 1 && e.workStreamEmpty(ctx) }, "complete callback")
	if calls.get("success") != 0 {
		t.Fatal("success callback with a dead job")
	}
	fixed.Store(true)
	if _, err := e.client.Replay(ctx, "broken"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return calls.get("success") == 1 && e.workStreamEmpty(ctx) }, "success callback after the replay")
	st, err := e.client.Batch(ctx, "r1")
	if err != nil || st.Succeeded != 2 || st.Dead != 0 || !st.SuccessFired || calls.get("complete") != 1 {
		t.Fatalf("Batch = %+v, %v; complete ran %d times", st, err, calls.get("complete"))
	}
}

// A job of a batch whose workers die on every attempt is dead-lettered by
// the max-deliveries service, which counts it in its batch: the batch ends
// and its complete callback is enqueued.
func TestBatchJobAtMaxDeliveriesEndsTheBatch(t *testing.T) {
	e := newEnv(t)
	busyPool(t, e)
	ctx := awaitCtx(t)
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "crashing", OnComplete: &job.Request{Kind: "report"}}, job.Request{Kind: "crashy"})
	must(t, err)
	cons, err := e.js.Consumer(ctx, "JOBS", "default")
	must(t, err)
	for range 2 {
		msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		must(t, err)
		for range msgs.Messages() {
			// a worker that dies before settling
		}
	}
	// The server notices the limit when it next tries to deliver the job.
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
	must(t, err)
	for range msgs.Messages() {
	}
	eventually(t, func() bool {
		st, err := e.client.Batch(ctx, "crashing")
		return err == nil && st.Done && st.Dead == 1 && st.CompleteFired
	}, "the batch ended with its job dead and its complete callback enqueued")
}

// A job whose batch record is gone (expired, deleted) is settled alone,
// not retried for ever.
func TestBatchJobOfAVanishedBatchIsSettledAlone(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	var calls counter
	e.pool(worker.Config{}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "x", func(ctx context.Context, j *job.Job[struct{}]) error {
			<-release
			calls.add(j.ID)
			return nil
		}))
	})
	ctx := awaitCtx(t)
	_, err := e.client.EnqueueBatch(ctx, job.Batch{ID: "gone", OnComplete: &job.Request{Kind: "x", Options: []job.Option{job.ID("cb")}}},
		job.Request{Kind: "x", Options: []job.Option{job.ID("orphan")}})
	must(t, err)
	kv, err := e.js.KeyValue(ctx, "JOBS_FLOWS")
	must(t, err)
	must(t, kv.Purge(ctx, "b.gone"))
	close(release)
	eventually(t, func() bool { return calls.get("orphan") == 1 && e.workStreamEmpty(ctx) }, "the job ran and was acknowledged")
	if calls.get("orphan") != 1 || calls.get("cb") != 0 {
		t.Fatalf("runs: %v", calls.order())
	}
}
