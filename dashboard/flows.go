package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/jetjobs/jetjobs/job"
)

// maxListedFlows bounds the batches and workflows one list page shows
// (the newest).
const maxListedFlows = 50

type batchesData struct {
	Batches   []*job.BatchStatus
	Workflows []job.WorkflowSummary
	// More says how many batches or workflows were left off.
	MoreBatches, MoreWorkflows int
	// Unsupported says why the server keeps no batches or workflows.
	Unsupported string
}

// flowsPage lists batches with their progress and the workflows.
func (h *handler) flowsPage(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Batches and workflows", "flows"
	d := &batchesData{}
	v.Data = d
	var err error
	d.Batches, d.MoreBatches, err = h.client.RecentBatches(ctx, maxListedFlows)
	if errors.Is(err, job.ErrFlowsUnsupported) {
		d.Unsupported = err.Error()
		return "flows", nil
	}
	if err != nil {
		return "flows", err
	}
	d.Workflows, d.MoreWorkflows, err = h.client.Workflows(ctx, maxListedFlows)
	return "flows", err
}

// openFlow sends the ID typed into the page's form to its batch's or
// workflow's page.
func (h *handler) openFlow(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := strings.TrimSpace(q.Get("id"))
	where := h.cfg.Prefix + "/flows"
	switch {
	case id == "":
	case q.Get("what") == "batch":
		where = h.cfg.Prefix + "/batches/" + url.PathEscape(id)
	default:
		where = h.workflowURL(id)
	}
	http.Redirect(w, r, where, http.StatusSeeOther)
}

type batchData struct {
	ID       string
	Batch    *job.BatchStatus
	NotFound string
}

func (h *handler) batchPage(ctx context.Context, r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	v.Title, v.Nav = "Batch "+id, "flows"
	d := &batchData{ID: id}
	v.Data = d
	b, err := h.client.Batch(ctx, id)
	if errors.Is(err, job.ErrBatchNotFound) {
		d.NotFound = err.Error()
		return "batch", nil
	}
	if err != nil {
		return "batch", err
	}
	d.Batch = b
	return "batch", nil
}

type workflowData struct {
	ID       string
	Workflow *job.WorkflowStatus
	Graph    *dagGraph
	Counts   map[job.Status]int
	Done     bool
	NotFound string
}

func (h *handler) workflowPage(ctx context.Context, r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	v.Title, v.Nav = "Workflow "+id, "flows"
	d := &workflowData{ID: id}
	v.Data = d
	wf, err := h.client.Workflow(ctx, id)
	if errors.Is(err, job.ErrWorkflowNotFound) {
		d.NotFound = err.Error()
		return "workflow", nil
	}
	if err != nil {
		return "workflow", err
	}
	d.Workflow, d.Done = wf, wf.Done()
	d.Counts = map[job.Status]int{}
	for _, t := range wf.Tasks {
		d.Counts[t.Status]++
	}
	d.Graph = layoutDAG(wf.Tasks, h.cfg.Prefix)
	return "workflow", nil
}

func (h *handler) cancelWorkflow(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	id := r.PathValue("id")
	if err := h.client.CancelWorkflow(ctx, id); err != nil {
		return "", "", err
	}
	return h.workflowURL(id), "Canceled workflow " + id + ": its waiting tasks will not run and its enqueued ones are canceled.", nil
}

func (h *handler) retryTask(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	id, task := r.PathValue("id"), r.PostForm.Get("task")
	if task == "" {
		return "", "", fmt.Errorf("%w: name the task to retry", errBadRequest)
	}
	res, err := h.client.RetryTask(ctx, id, task)
	if err != nil {
		return "", "", err
	}
	return h.workflowURL(id), fmt.Sprintf("Task %s enqueued again as job %s.", task, res.ID), nil
}

func (h *handler) workflowURL(id string) string {
	return h.cfg.Prefix + "/workflows/" + url.PathEscape(id)
}

// A drawn workflow: tasks in columns by their depth (the longest chain of
// dependencies before them), edges from each dependency to its dependent.
// A column with more tasks than fit is drawn as its first tasks and one
// node standing for the rest, so a fan-out of 1,000 stays a small picture.
type dagGraph struct {
	Width, Height int
	Nodes         []dagNode
	Edges         []dagEdge
}

type dagNode struct {
	X, Y, W, H int
	Label      string
	Title      string
	Status     string
	URL        string
	// Rest is the number of tasks a summary node stands for.
	Rest int
}

type dagEdge struct{ X1, Y1, X2, Y2 int }

const (
	dagNodeW, dagNodeH   = 168, 38
	dagColGap, dagRowGap = 64, 12
	dagPad               = 8
	dagMaxRows           = 12
	dagLabelMax          = 22
)

func layoutDAG(tasks []job.TaskStatus, prefix string) *dagGraph {
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.Name] = i
	}
	// Depth by dependencies; tasks come in declaration order, but a task
	// may name a dependency declared after it, so iterate to a fixed point
	// (a workflow is validated acyclic before it is stored).
	depth := make([]int, len(tasks))
	for changed, round := true, 0; changed && round <= len(tasks); round++ {
		changed = false
		for i, t := range tasks {
			for _, dep := range t.Deps {
				if j, ok := index[dep]; ok && depth[j]+1 > depth[i] {
					depth[i], changed = depth[j]+1, true
				}
			}
		}
	}
	var columns [][]int
	for i := range tasks {
		for len(columns) <= depth[i] {
			columns = append(columns, nil)
		}
		columns[depth[i]] = append(columns[depth[i]], i)
	}
	g := &dagGraph{}
	nodeOf := make([]int, len(tasks)) // task → node index
	rows := 0
	for c, col := range columns {
		shown := col
		if len(col) > dagMaxRows {
			shown = col[:dagMaxRows-1]
		}
		for r, i := range shown {
			t := tasks[i]
			nodeOf[i] = len(g.Nodes)
			g.Nodes = append(g.Nodes, dagNode{
				X: dagPad + c*(dagNodeW+dagColGap), Y: dagPad + r*(dagNodeH+dagRowGap), W: dagNodeW, H: dagNodeH,
				Label: cut(t.Name, dagLabelMax), Title: t.Name + ": " + string(t.Status), Status: string(t.Status),
				URL: prefix + "/job?id=" + url.QueryEscape(t.JobID),
			})
		}
		if rest := col[len(shown):]; len(rest) > 0 {
			n := dagNode{
				X: dagPad + c*(dagNodeW+dagColGap), Y: dagPad + len(shown)*(dagNodeH+dagRowGap), W: dagNodeW, H: dagNodeH,
				Rest: len(rest), Status: summaryStatus(tasks, rest),
			}
			n.Label = fmt.Sprintf("+%d more tasks", len(rest))
			n.Title = n.Label + " (" + statusCounts(tasks, rest) + ")"
			for _, i := range rest {
				nodeOf[i] = len(g.Nodes)
			}
			g.Nodes = append(g.Nodes, n)
		}
		rows = max(rows, len(shown)+min(len(col)-len(shown), 1))
	}
	seen := map[[2]int]bool{}
	for i, t := range tasks {
		for _, dep := range t.Deps {
			j, ok := index[dep]
			if !ok {
				continue
			}
			from, to := nodeOf[j], nodeOf[i]
			if seen[[2]int{from, to}] {
				continue
			}
			seen[[2]int{from, to}] = true
			a, b := g.Nodes[from], g.Nodes[to]
			g.Edges = append(g.Edges, dagEdge{X1: a.X + a.W, Y1: a.Y + a.H/2, X2: b.X, Y2: b.Y + b.H/2})
		}
	}
	g.Width = 2*dagPad + len(columns)*(dagNodeW+dagColGap) - dagColGap
	g.Height = 2*dagPad + rows*(dagNodeH+dagRowGap) - dagRowGap
	return g
}

// summaryStatus is the status a summary node is drawn in: the least
// advanced of its tasks' (dead or canceled first, so a failure shows).
func summaryStatus(tasks []job.TaskStatus, idx []int) string {
	rank := map[job.Status]int{job.StatusDead: 0, job.StatusCanceled: 1, job.StatusExpired: 2, job.StatusRunning: 3, job.StatusRetrying: 4, job.StatusWaiting: 5, job.StatusScheduled: 6, job.StatusPending: 7, job.StatusSucceeded: 8}
	best, bestRank := job.StatusSucceeded, 99
	for _, i := range idx {
		r, ok := rank[tasks[i].Status]
		if !ok {
			r = 9
		}
		if r < bestRank {
			best, bestRank = tasks[i].Status, r
		}
	}
	return string(best)
}

func statusCounts(tasks []job.TaskStatus, idx []int) string {
	counts := map[job.Status]int{}
	var order []job.Status
	for _, i := range idx {
		s := tasks[i].Status
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, 0, len(order))
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	return strings.Join(parts, ", ")
}

// cut shortens s to at most n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
