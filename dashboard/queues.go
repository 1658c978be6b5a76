package dashboard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

type overviewData struct {
	Queues  []queueRow
	Workers int
	Totals  job.QueueStats
	// WorkersErr says why the workers could not be read.
	WorkersErr string
}

type queueRow struct {
	job.QueueStats
	Chart chart
}

func (h *handler) overview(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Overview", "overview"
	d := &overviewData{}
	v.Data = d
	stats, err := h.insp.Queues(ctx)
	if errors.Is(err, job.ErrNoStream) {
		return "overview", fmt.Errorf("%w: create the streams with a worker, `jetjobs server` or Client.EnsureTopology", err)
	}
	if err != nil {
		return "overview", err
	}
	now := time.Now()
	h.samples.record(stats, now)
	for _, s := range stats {
		d.Queues = append(d.Queues, queueRow{QueueStats: s, Chart: h.samples.chart(s.Queue, now)})
		d.Totals.Pending += s.Pending
		d.Totals.Running += s.Running
		d.Totals.Redelivered += s.Redelivered
		d.Totals.DeadLetters += s.DeadLetters
	}
	ws, err := h.client.Workers(ctx)
	if err != nil {
		d.WorkersErr = err.Error()
	}
	d.Workers = len(ws)
	return "overview", nil
}

type queueData struct {
	Stats   job.QueueStats
	Kinds   []kindCount
	Kind    string
	Newest  bool
	Pending job.JobPage
	Running []runningRow
	// NextURL is the link to the next page of pending jobs.
	NextURL string
	// PauseDefault is the value of the pause form's end time input.
	PauseDefault string
}

type kindCount struct {
	Kind  string
	Count uint64
}

type runningRow struct {
	job.StoredJob
	Worker  string
	Attempt int
	Since   time.Time
}

func (h *handler) queuePage(ctx context.Context, r *http.Request, v *view) (string, error) {
	queue := r.PathValue("queue")
	v.Title, v.Nav = "Queue "+queue, "overview"
	if err := job.ValidateQueue(queue); err != nil {
		return "", err
	}
	q := r.URL.Query()
	d := &queueData{Kind: q.Get("kind"), Newest: q.Get("order") == "newest"}
	v.Data = d
	stats, err := h.insp.Queue(ctx, queue)
	if err != nil {
		return "queue", err
	}
	d.Stats = stats
	d.PauseDefault = time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")
	if d.Kinds, err = h.kinds(ctx, queue); err != nil {
		return "queue", err
	}
	after, _ := strconv.ParseUint(q.Get("after"), 10, 64)
	d.Pending, err = h.client.PendingJobs(ctx, queue, job.JobFilter{Kind: d.Kind, After: after, Newest: d.Newest, Limit: 50})
	if err != nil {
		return "queue", err
	}
	if d.Pending.Next > 0 {
		next := url.Values{"after": {strconv.FormatUint(d.Pending.Next, 10)}}
		if d.Kind != "" {
			next.Set("kind", d.Kind)
		}
		d.NextURL = h.cfg.Prefix + "/queues/" + url.PathEscape(queue) + "?" + next.Encode()
	}
	running, err := h.client.RunningJobs(ctx, queue, 50)
	if err != nil {
		return "queue", err
	}
	bySeq := map[uint64]struct {
		worker  string
		attempt int
		since   time.Time
	}{}
	if ws, err := h.client.Workers(ctx); err == nil {
		for _, w := range ws {
			for _, rj := range w.Running {
				bySeq[rj.Seq] = struct {
					worker  string
					attempt int
					since   time.Time
				}{w.Host + " pid " + strconv.Itoa(w.PID), rj.Attempt, rj.Since}
			}
		}
	}
	for _, j := range running {
		row := runningRow{StoredJob: j}
		if w, ok := bySeq[j.Seq]; ok {
			row.Worker, row.Attempt, row.Since = w.worker, w.attempt, w.since
		}
		d.Running = append(d.Running, row)
	}
	return "queue", nil
}

// kinds returns the kinds of queue's stored jobs with their counts (one
// entry per subject: as many as the queue has kinds).
func (h *handler) kinds(ctx context.Context, queue string) ([]kindCount, error) {
	s, err := h.js.Stream(ctx, h.client.Topology().Stream)
	if err != nil {
		return nil, err
	}
	prefix := job.Subject(h.client.Topology().Prefix, queue, "")
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+">"))
	if err != nil {
		return nil, err
	}
	var out []kindCount
	for _, subject := range slices.Sorted(maps.Keys(info.State.Subjects)) {
		out = append(out, kindCount{Kind: strings.TrimPrefix(subject, prefix), Count: info.State.Subjects[subject]})
	}
	return out, nil
}

func (h *handler) pauseQueue(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	queue := r.PathValue("queue")
	back := h.cfg.Prefix + "/queues/" + url.PathEscape(queue)
	var until time.Time
	switch f := r.PostForm.Get("for"); f {
	case "", "until":
		if s := strings.TrimSpace(r.PostForm.Get("until")); s != "" && f == "until" {
			t, err := time.Parse("2006-01-02T15:04", s)
			if err != nil {
				return "", "", fmt.Errorf("%w: end time %q: use YYYY-MM-DDTHH:MM (UTC)", errBadRequest, s)
			}
			until = t
		}
	case "forever":
	default:
		d, err := time.ParseDuration(f)
		if err != nil || d <= 0 {
			return "", "", fmt.Errorf("%w: pause for %q: use a duration such as 15m or 1h", errBadRequest, f)
		}
		until = time.Now().Add(d)
	}
	end, err := h.client.PauseQueue(ctx, queue, until)
	if err != nil {
		return "", "", err
	}
	msg := "Paused queue " + queue + " until resumed."
	if !until.IsZero() {
		msg = "Paused queue " + queue + " until " + clock(end) + "."
	}
	return back, msg, nil
}

func (h *handler) resumeQueue(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	queue := r.PathValue("queue")
	if err := h.client.ResumeQueue(ctx, queue); err != nil {
		return "", "", err
	}
	return h.cfg.Prefix + "/queues/" + url.PathEscape(queue), "Resumed queue " + queue + ".", nil
}

type workersData struct {
	Workers []job.WorkerInfo
}

func (h *handler) workers(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Workers", "workers"
	d := &workersData{}
	v.Data = d
	ws, err := h.client.Workers(ctx)
	d.Workers = ws
	return "workers", err
}
