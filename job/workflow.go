package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/jetjobs/jetjobs/internal/faultpoint"
	"github.com/jetjobs/jetjobs/internal/wire"
)

// DefaultWorkflowKeep is how long the state and result of each task of a
// workflow are kept when Workflow.KeepResults does not say.
const DefaultWorkflowKeep = 7 * 24 * time.Hour

// StatusPending is the status of a workflow task that waits for its
// dependencies (it has no job yet).
const StatusPending Status = "pending"

// Workflow is a DAG of named tasks declared in Go and started with
// Client.StartWorkflow. A task is a job; it starts once all its
// dependencies succeeded (or ended, for a task that runs anyway) and reads
// their results with DependencyResult. See docs/workflows.md.
type Workflow struct {
	id    string
	keep  time.Duration
	tasks []*Task
}

// Task is one task of a workflow.
type Task struct {
	wf        *Workflow
	name      string
	kind      string
	args      any
	opts      []Option
	deps      []*Task
	depNames  []string
	runAnyway bool
}

// TaskOption configures a task.
type TaskOption func(*Task)

// After makes the task start only after deps succeeded.
func After(deps ...*Task) TaskOption {
	return func(t *Task) { t.deps = append(t.deps, deps...) }
}

// AfterNamed is After by task names, for workflows built from data; a
// name the workflow lacks fails StartWorkflow.
func AfterNamed(names ...string) TaskOption {
	return func(t *Task) { t.depNames = append(t.depNames, names...) }
}

// RunAnyway makes the task start once its dependencies ended, whether
// they succeeded or not (dead, canceled). Without it, a dependency that
// ends other than succeeded cancels the task and the tasks after it.
func RunAnyway() TaskOption {
	return func(t *Task) { t.runAnyway = true }
}

// WithOptions gives the task's job enqueue options (Queue, MaxAttempts, Timeout,
// Header...). ID, Unique, UniqueUntilDone, At and In are refused: a task's
// job ID is derived from the workflow and task names.
func WithOptions(opts ...Option) TaskOption {
	return func(t *Task) { t.opts = append(t.opts, opts...) }
}

// NewWorkflow returns an empty workflow named id (1 to 128 characters of
// A-Z a-z 0-9 _ -).
func NewWorkflow(id string) *Workflow {
	return &Workflow{id: id}
}

// ID returns the workflow's ID.
func (w *Workflow) ID() string { return w.id }

// KeepResults sets how long each task's state and result are kept after
// it was written; default DefaultWorkflowKeep.
func (w *Workflow) KeepResults(d time.Duration) *Workflow {
	w.keep = d
	return w
}

// Task adds the task name (1 to 128 characters of A-Z a-z 0-9 _ -) that
// runs a job of kind with args, and returns it for other tasks' After.
func (w *Workflow) Task(name, kind string, args any, opts ...TaskOption) *Task {
	t := &Task{wf: w, name: name, kind: kind, args: args}
	for _, o := range opts {
		o(t)
	}
	w.tasks = append(w.tasks, t)
	return t
}

// Name returns the task's name.
func (t *Task) Name() string { return t.name }

// After adds dependencies to the task.
func (t *Task) After(deps ...*Task) *Task {
	t.deps = append(t.deps, deps...)
	return t
}

// Validate reports the first reason the workflow cannot run: a bad or
// repeated name, an unknown dependency or one of another workflow, a task
// that depends on itself, or a cycle (named by its tasks).
func (w *Workflow) Validate() error {
	if err := validateFlowID("workflow ID", w.id); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidWorkflow, err)
	}
	if len(w.tasks) == 0 {
		return fmt.Errorf("%w: workflow %s has no tasks; add some with Task", ErrInvalidWorkflow, w.id)
	}
	byName := make(map[string]*Task, len(w.tasks))
	for _, t := range w.tasks {
		if err := validateFlowID("task name", t.name); err != nil {
			return fmt.Errorf("%w: workflow %s: %w", ErrInvalidWorkflow, w.id, err)
		}
		if _, dup := byName[t.name]; dup {
			return fmt.Errorf("%w: workflow %s: two tasks are named %q; give each a unique name", ErrInvalidWorkflow, w.id, t.name)
		}
		byName[t.name] = t
	}
	for _, t := range w.tasks {
		for _, d := range t.deps {
			if d == nil || d.wf != w || byName[d.name] != d {
				return fmt.Errorf("%w: workflow %s: task %s depends on a task of another workflow; pass tasks this workflow's Task returned", ErrInvalidWorkflow, w.id, t.name)
			}
		}
		for _, n := range t.depNames {
			if byName[n] == nil {
				return fmt.Errorf("%w: workflow %s: task %s depends on %q, which the workflow has no task of; declare it or fix the name", ErrInvalidWorkflow, w.id, t.name, n)
			}
		}
		for _, d := range t.depList() {
			if d == t.name {
				return fmt.Errorf("%w: workflow %s: task %s depends on itself", ErrInvalidWorkflow, w.id, t.name)
			}
		}
	}
	if cycle := w.cycle(byName); cycle != nil {
		return fmt.Errorf("%w: workflow %s: the dependencies form a cycle: %s; remove one of them", ErrInvalidWorkflow, w.id, strings.Join(cycle, " -> "))
	}
	return nil
}

// depList returns the names of t's dependencies, each once, in order.
func (t *Task) depList() []string {
	out := make([]string, 0, len(t.deps)+len(t.depNames))
	for _, d := range t.deps {
		if !slices.Contains(out, d.name) {
			out = append(out, d.name)
		}
	}
	for _, n := range t.depNames {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// cycle returns the tasks of a dependency cycle, the first repeated last,
// or nil.
func (w *Workflow) cycle(byName map[string]*Task) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(byName))
	var path []string
	var visit func(name string) []string
	visit = func(name string) []string {
		switch state[name] {
		case onPath:
			i := slices.Index(path, name)
			return append(slices.Clone(path[i:]), name)
		case done:
			return nil
		}
		state[name] = onPath
		path = append(path, name)
		for _, d := range byName[name].depList() {
			if c := visit(d); c != nil {
				return c
			}
		}
		path = path[:len(path)-1]
		state[name] = done
		return nil
	}
	for _, t := range w.tasks {
		if c := visit(t.name); c != nil {
			slices.Reverse(c) // dependency order: a -> b means b runs after a
			return c
		}
	}
	return nil
}

// workflowRecord is a workflow's record in the flow bucket.
type workflowRecord struct {
	ID        string       `json:"id"`
	CreatedAt time.Time    `json:"created_at"`
	Tasks     []taskHeader `json:"tasks"`
}

type taskHeader struct {
	Name string   `json:"name"`
	Deps []string `json:"deps,omitempty"`
}

// taskDef is a task's definition in the flow bucket: its job, and what the
// worker that settles it needs of its dependents.
type taskDef struct {
	Name       string     `json:"name"`
	Msg        *storedMsg `json:"msg"`
	Deps       int        `json:"deps"`
	RunAnyway  bool       `json:"run_anyway,omitempty"`
	Dependents []edge     `json:"dependents,omitempty"`
}

// edge is a dependent of a task: its name, its number of dependencies and
// whether it runs anyway.
type edge struct {
	Name      string `json:"name"`
	Deps      int    `json:"deps"`
	RunAnyway bool   `json:"run_anyway,omitempty"`
}

// fireParallelism bounds the tasks enqueued at once by one step.
const fireParallelism = 16

// StartWorkflow validates wf, stores its definition and enqueues the tasks
// without dependencies. The others are enqueued by the workers that settle
// their dependencies.
//
// Errors: ErrInvalidWorkflow, ErrInvalidOption and the other errors of
// Enqueue for a task's job (nothing was stored), ErrWorkflowExists,
// ErrFlowsUnsupported, ErrStateUnsupported.
func (c *Client) StartWorkflow(ctx context.Context, wf *Workflow) error {
	if err := wf.Validate(); err != nil {
		return err
	}
	if !SupportsState(c.js) {
		return fmt.Errorf("%w (connected to %s): workflow tasks keep their results", ErrStateUnsupported, c.js.Conn().ConnectedServerVersion())
	}
	keep := wf.keep
	if keep == 0 {
		keep = DefaultWorkflowKeep
	}
	rec := workflowRecord{ID: wf.id, CreatedAt: time.Now().UTC()}
	defs := make(map[string]*taskDef, len(wf.tasks))
	for _, t := range wf.tasks {
		id := wire.TaskJobID(wf.id, t.name)
		opts := append(slices.Clip(t.opts), KeepResult(keep), ID(id))
		msg, _, o, err := c.message(t.kind, t.args, opts)
		if err == nil && (o.unique || o.untilDone || !o.runAt.IsZero()) {
			err = fmt.Errorf("%w: Unique, UniqueUntilDone, At and In do not apply to a task", ErrInvalidOption)
		}
		if err != nil {
			return fmt.Errorf("workflow %s: task %s: %w", wf.id, t.name, err)
		}
		msg.Header[wire.Workflow] = []string{wf.id}
		msg.Header[wire.Task] = []string{t.name}
		deps := t.depList()
		defs[t.name] = &taskDef{Name: t.name, Msg: storeMsg(id, msg), Deps: len(deps), RunAnyway: t.runAnyway}
		rec.Tasks = append(rec.Tasks, taskHeader{Name: t.name, Deps: deps})
	}
	for _, th := range rec.Tasks {
		d := defs[th.Name]
		for _, dep := range th.Deps {
			defs[dep].Dependents = append(defs[dep].Dependents, edge{Name: th.Name, Deps: d.Deps, RunAnyway: d.RunAnyway})
		}
	}
	created, err := c.createJSON(ctx, wire.WorkflowKey(wf.id), rec)
	if err != nil {
		return err
	}
	if !created {
		return fmt.Errorf("%w: %s; choose another ID", ErrWorkflowExists, wf.id)
	}
	if err := c.storeDefs(ctx, wf.id, defs); err != nil {
		return err
	}
	var roots []*taskDef
	for _, th := range rec.Tasks {
		if len(th.Deps) == 0 {
			roots = append(roots, defs[th.Name])
		}
	}
	return c.fireTasks(ctx, wf.id, roots)
}

// storeDefs writes the task definitions, pipelined.
func (c *Client) storeDefs(ctx context.Context, wf string, defs map[string]*taskDef) error {
	msgs := make([]*nats.Msg, 0, len(defs))
	ids := make([]string, 0, len(defs))
	for name, d := range defs {
		data, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("jetjobs: encode task %s: %w", name, err)
		}
		msgs = append(msgs, &nats.Msg{Subject: wire.KVSubject(c.topo.FlowBucket, wire.TaskDefKey(wf, name)), Data: data})
		ids = append(ids, name)
	}
	for _, r := range c.publishRaw(ctx, msgs, ids) {
		if r.Err != nil {
			return fmt.Errorf("jetjobs: workflow %s: store task %s: %w", wf, r.ID, r.Err)
		}
	}
	return nil
}

// publishRaw publishes msgs (not jobs) pipelined.
func (c *Client) publishRaw(ctx context.Context, msgs []*nats.Msg, ids []string) []Result {
	results := c.publishAll(ctx, msgs, ids, false)
	for i := range results {
		if errors.Is(results[i].Err, ErrTopologyMismatch) {
			results[i].Err = nil // not a job: stored in the flow bucket's stream
		}
	}
	return results
}

// taskDef reads a task's definition. Definitions never change once
// written, so the client keeps the last ones it read: the worker that
// enqueues a task often settles it too.
func (c *Client) taskDef(ctx context.Context, wf, task string) (*taskDef, error) {
	key := wire.TaskDefKey(wf, task)
	if v, ok := c.flows.defs.Load(key); ok {
		if cd := v.(cachedDef); time.Since(cd.at) < defCacheTTL {
			return cd.def, nil
		}
	}
	d := &taskDef{}
	found, err := c.getJSON(ctx, key, d)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s has no task %s (its definition expired or was deleted)", ErrWorkflowNotFound, wf, task)
	}
	if c.flows.cached.Add(1) > maxCachedDefs {
		c.flows.defs.Clear()
		c.flows.cached.Store(0)
	}
	c.flows.defs.Store(key, cachedDef{def: d, at: time.Now()})
	return d, nil
}

// cachedDef is a task definition the client read at a time.
type cachedDef struct {
	def *taskDef
	at  time.Time
}

// maxCachedDefs bounds the task definitions a client keeps, and
// defCacheTTL how long: a workflow ID used again after its records expired
// has new definitions.
const (
	maxCachedDefs = 4096
	defCacheTTL   = 10 * time.Minute
)

// fireTasks enqueues tasks, each once, some at a time.
func (c *Client) fireTasks(ctx context.Context, wf string, tasks []*taskDef) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fireParallelism)
	for _, d := range tasks {
		g.Go(func() error { return c.fireTask(gctx, wf, d) })
	}
	return g.Wait()
}

// fireTask enqueues task d once. If a cancel of the task won the race for
// its marker after the job was published, the job is canceled too.
func (c *Client) fireTask(ctx context.Context, wf string, d *taskDef) error {
	m, err := c.enqueueOnce(ctx, d.Msg, wire.TaskMarkKey(wf, d.Name), nil)
	if err != nil {
		return fmt.Errorf("jetjobs: workflow %s: enqueue task %s: %w", wf, d.Name, err)
	}
	if m.Status == StatusCanceled {
		if _, err := c.Cancel(ctx, d.Msg.ID); err != nil {
			return fmt.Errorf("jetjobs: workflow %s: cancel task %s: %w", wf, d.Name, err)
		}
	}
	return nil
}

// settleTask advances workflow wf past the end of task (status).
func (c *Client) settleTask(ctx context.Context, wf, task string, info *Info, status Status) error {
	d, err := c.taskDef(ctx, wf, task)
	if err != nil {
		return err
	}
	// A replayed task (RetryTask) that had died was counted then by the
	// tasks that run anyway.
	replayed := info.Header.Get(wire.ReplayedAt) != ""
	return c.propagate(ctx, wf, d, status, replayed, map[string]bool{})
}

// propagate carries the end of task d (status) to its dependents: counts
// it for those it lets run and enqueues those that became ready; cancels
// the others, and carries their cancel on. seen holds the tasks canceled by
// this step, so a diamond is walked once.
func (c *Client) propagate(ctx context.Context, wf string, d *taskDef, status Status, replayed bool, seen map[string]bool) error {
	var subjects, msgIDs []string
	var counted []edge
	for _, e := range d.Dependents {
		switch {
		case status == StatusSucceeded && !(replayed && e.RunAnyway), status != StatusSucceeded && e.RunAnyway:
			subjects = append(subjects, wire.TaskCounterSubject(c.topo.CounterPrefix, wf, e.Name))
			msgIDs = append(msgIDs, wire.TaskEdgeID(wf, e.Name, d.Name))
			counted = append(counted, e)
		case status != StatusSucceeded:
			if err := c.cancelTask(ctx, wf, e.Name, d.Name, seen); err != nil {
				return err
			}
		}
	}
	if len(subjects) == 0 {
		return nil
	}
	values, err := c.incrAll(ctx, subjects, 1, msgIDs)
	if err != nil {
		return err
	}
	faultpoint.Reach(faultpoint.MidFlow, d.Msg.ID)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fireParallelism)
	for i, e := range counted {
		if values[i] < int64(e.Deps) {
			continue
		}
		g.Go(func() error {
			rd, err := c.taskDef(gctx, wf, e.Name)
			if err != nil {
				return err
			}
			return c.fireTask(gctx, wf, rd)
		})
	}
	return g.Wait()
}

// cancelTask cancels task (not enqueued yet) because dependency cause
// ended other than succeeded, and carries the cancel to its dependents.
// A task enqueued already is left alone.
func (c *Client) cancelTask(ctx context.Context, wf, task, cause string, seen map[string]bool) error {
	if seen[task] {
		return nil
	}
	seen[task] = true
	want := mark{Status: StatusCanceled, Cause: cause, At: time.Now().UTC()}
	if _, err := c.createJSON(ctx, wire.TaskMarkKey(wf, task), want); err != nil {
		return err
	}
	var have mark
	if _, err := c.getJSON(ctx, wire.TaskMarkKey(wf, task), &have); err != nil {
		return err
	}
	if have.Status != StatusCanceled {
		return nil // enqueued before: it runs, and its own end carries on
	}
	// Carried on also when the marker existed: a step that died half-way
	// is repeated in full.
	d, err := c.taskDef(ctx, wf, task)
	if err != nil {
		return err
	}
	return c.propagate(ctx, wf, d, StatusCanceled, false, seen)
}

// CancelWorkflow cancels every task of workflow id that has not ended:
// those not enqueued yet never will be, and enqueued ones are canceled
// (Client.Cancel: a waiting job is dead-lettered as canceled, a running
// one's context is canceled).
//
// Errors: ErrWorkflowNotFound, ErrFlowsUnsupported, the connection's error.
func (c *Client) CancelWorkflow(ctx context.Context, id string) error {
	rec, err := c.workflowRecord(ctx, id)
	if err != nil {
		return err
	}
	// First every task not enqueued yet is marked canceled, then the
	// enqueued ones are canceled: a task canceled first would, as it ends,
	// enqueue the tasks that run anyway before they are marked.
	var enqueued []string
	for _, th := range rec.Tasks {
		key := wire.TaskMarkKey(id, th.Name)
		created, err := c.createJSON(ctx, key, mark{Status: StatusCanceled, Cause: "workflow canceled", At: time.Now().UTC()})
		if err != nil {
			return err
		}
		if created {
			continue
		}
		var have mark
		if _, err := c.getJSON(ctx, key, &have); err != nil {
			return err
		}
		if have.Status != StatusCanceled {
			enqueued = append(enqueued, th.Name)
		}
	}
	for _, task := range enqueued {
		jobID := wire.TaskJobID(id, task)
		st, err := c.Status(ctx, jobID)
		if err == nil && st.Status.Final() {
			continue
		}
		if _, err := c.Cancel(ctx, jobID); err != nil {
			return fmt.Errorf("jetjobs: workflow %s: cancel task %s: %w", id, task, err)
		}
	}
	return nil
}

// RetryTask runs again task of workflow id, which ended dead, canceled or
// expired: the tasks canceled because of it are pending again, and its
// dead letter is replayed. When it succeeds, its dependents go on.
//
// Errors: ErrWorkflowNotFound, ErrInvalidOption (the task did not end
// badly, or was never enqueued: retry the dependency that failed),
// ErrDeadLetterNotFound, the errors of Replay.
func (c *Client) RetryTask(ctx context.Context, id, task string) (Result, error) {
	rec, err := c.workflowRecord(ctx, id)
	if err != nil {
		return Result{}, err
	}
	if !slices.ContainsFunc(rec.Tasks, func(th taskHeader) bool { return th.Name == task }) {
		return Result{}, fmt.Errorf("%w: workflow %s has no task %q", ErrWorkflowNotFound, id, task)
	}
	jobID := wire.TaskJobID(id, task)
	var m mark
	found, err := c.getJSON(ctx, wire.TaskMarkKey(id, task), &m)
	if err != nil {
		return Result{}, err
	}
	if !found || m.Status == StatusCanceled {
		return Result{}, fmt.Errorf("%w: task %s of workflow %s never ran (it is pending or was canceled because %s ended badly); retry that task instead", ErrInvalidOption, task, id, m.Cause)
	}
	st, err := c.Status(ctx, jobID)
	if err != nil {
		return Result{}, err
	}
	if st.Status == StatusSucceeded || !st.Status.Final() {
		return Result{}, fmt.Errorf("%w: task %s of workflow %s is %s; only a task that ended dead, canceled or expired can be retried", ErrInvalidOption, task, id, st.Status)
	}
	if err := c.revive(ctx, id, task); err != nil {
		return Result{}, err
	}
	return c.Replay(ctx, jobID)
}

// revive makes the tasks canceled because task ended badly (and those
// canceled because of them) pending again.
func (c *Client) revive(ctx context.Context, wf, task string) error {
	kv, _, err := c.flowHandles(ctx)
	if err != nil {
		return err
	}
	causes := map[string]bool{task: true}
	queue := []string{task}
	for len(queue) > 0 {
		d, err := c.taskDef(ctx, wf, queue[0])
		if err != nil {
			return err
		}
		queue = queue[1:]
		for _, e := range d.Dependents {
			if causes[e.Name] {
				continue
			}
			var m mark
			found, err := c.getJSON(ctx, wire.TaskMarkKey(wf, e.Name), &m)
			if err != nil {
				return err
			}
			if !found || m.Status != StatusCanceled || !causes[m.Cause] {
				continue
			}
			if err := kv.Delete(ctx, wire.TaskMarkKey(wf, e.Name)); err != nil {
				return fmt.Errorf("jetjobs: workflow %s: revive task %s: %w", wf, e.Name, err)
			}
			causes[e.Name] = true
			queue = append(queue, e.Name)
		}
	}
	return nil
}

func (c *Client) workflowRecord(ctx context.Context, id string) (*workflowRecord, error) {
	if err := validateFlowID("workflow ID", id); err != nil {
		return nil, err
	}
	rec := &workflowRecord{}
	found, err := c.getJSON(ctx, wire.WorkflowKey(id), rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: %s", ErrWorkflowNotFound, id)
	}
	return rec, nil
}

// WorkflowStatus is the state of every task of a workflow.
type WorkflowStatus struct {
	ID        string       `json:"id"`
	CreatedAt time.Time    `json:"created_at"`
	Tasks     []TaskStatus `json:"tasks"`
}

// Done reports whether every task ended (or was canceled).
func (s *WorkflowStatus) Done() bool {
	for _, t := range s.Tasks {
		if !t.Status.Final() {
			return false
		}
	}
	return true
}

// Task returns the status of the task named name.
func (s *WorkflowStatus) Task(name string) (TaskStatus, bool) {
	for _, t := range s.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return TaskStatus{}, false
}

// TaskStatus is one task's state.
type TaskStatus struct {
	Name  string   `json:"name"`
	Deps  []string `json:"deps,omitempty"`
	JobID string   `json:"job_id"`
	// Status is StatusPending while the task waits for its dependencies,
	// StatusCanceled if it was canceled before it was enqueued (Cause says
	// by which dependency, or "workflow canceled"), else its job's status.
	Status   Status          `json:"status"`
	Cause    string          `json:"cause,omitempty"`
	Attempt  int             `json:"attempt,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
	Finished time.Time       `json:"finished_at,omitzero"`
}

// Workflow returns the state of every task of workflow id, in declaration
// order.
//
// Errors: ErrWorkflowNotFound, ErrFlowsUnsupported, the connection's error.
func (c *Client) Workflow(ctx context.Context, id string) (*WorkflowStatus, error) {
	rec, err := c.workflowRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &WorkflowStatus{ID: rec.ID, CreatedAt: rec.CreatedAt, Tasks: make([]TaskStatus, len(rec.Tasks))}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fireParallelism)
	for i, th := range rec.Tasks {
		g.Go(func() error {
			ts, err := c.taskStatus(gctx, id, th)
			out.Tasks[i] = ts
			return err
		})
	}
	return out, g.Wait()
}

func (c *Client) taskStatus(ctx context.Context, wf string, th taskHeader) (TaskStatus, error) {
	ts := TaskStatus{Name: th.Name, Deps: th.Deps, JobID: wire.TaskJobID(wf, th.Name), Status: StatusPending}
	var m mark
	found, err := c.getJSON(ctx, wire.TaskMarkKey(wf, th.Name), &m)
	if err != nil || !found {
		return ts, err
	}
	if m.Status == StatusCanceled {
		ts.Status, ts.Cause, ts.Finished = StatusCanceled, m.Cause, m.At
		// A job canceled while enqueued has a record of its own.
	}
	st, err := c.Status(ctx, ts.JobID)
	if errors.Is(err, ErrJobNotFound) {
		if m.Status != StatusCanceled {
			ts.Status = StatusWaiting
		}
		return ts, nil
	}
	if err != nil {
		return ts, err
	}
	ts.Status, ts.Attempt, ts.Result, ts.Error, ts.Finished = st.Status, st.Attempt, st.Result, st.Error, st.FinishedAt
	return ts, nil
}

type flowClientKey struct{}

// WithFlowClient returns a context carrying c, through which
// DependencyResult reads results. Worker pools put it in the context of
// each attempt of a workflow's task; applications do not call it.
func WithFlowClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, flowClientKey{}, c)
}

// DependencyResult returns, from inside a workflow task's handler, the
// result of its dependency task decoded into R. A dependency that did not
// succeed (possible for a task that runs anyway) returns its *JobError;
// one that was canceled before it ran returns a *JobError with status
// canceled too.
//
// Errors: ErrInvalidOption (not a workflow task's context), ErrJobNotFound
// (no such task, or its state expired), *JobError.
func DependencyResult[R any](ctx context.Context, task string) (R, error) {
	var zero R
	info, ok := FromContext(ctx)
	c, _ := ctx.Value(flowClientKey{}).(*Client)
	if !ok || c == nil || info.Header.Get(wire.Workflow) == "" {
		return zero, fmt.Errorf("%w: DependencyResult needs the context of a running workflow task", ErrInvalidOption)
	}
	wf := info.Header.Get(wire.Workflow)
	jobID := wire.TaskJobID(wf, task)
	st, err := c.Status(ctx, jobID)
	if errors.Is(err, ErrJobNotFound) {
		var m mark
		if found, merr := c.getJSON(ctx, wire.TaskMarkKey(wf, task), &m); merr == nil && found && m.Status == StatusCanceled {
			return zero, &JobError{ID: jobID, Status: StatusCanceled, Reason: ReasonCanceled, Message: "canceled before it ran: " + m.Cause}
		}
		return zero, fmt.Errorf("%w: task %s of workflow %s", ErrJobNotFound, task, wf)
	}
	if err != nil {
		return zero, err
	}
	return ResultOf[R](st)
}

// WorkflowOf returns the workflow and task the job of info runs, if any.
func WorkflowOf(info *Info) (workflow, task string, ok bool) {
	workflow = info.Header.Get(wire.Workflow)
	return workflow, info.Header.Get(wire.Task), workflow != ""
}

// TaskJobID returns the job ID of task of workflow: Client.Status and
// Client.Await take it once the task was enqueued.
func TaskJobID(workflow, task string) string { return wire.TaskJobID(workflow, task) }
