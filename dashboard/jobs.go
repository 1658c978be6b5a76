package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
)

type jobData struct {
	ID       string
	Found    job.FoundJob
	Queue    string
	Kind     string
	Seq      uint64
	Header   nats.Header
	Payload  payloadView
	FullURL  string
	Canceled bool
	Trace    string
	DeadURL  string
	NotFound string
	// State is the job's kept state (KeepResult), when it has one.
	State  *job.State
	Result payloadView
	// ResultURL shows the whole result when Result is cut.
	ResultURL string
	// StateErr says why the kept state could not be read.
	StateErr string
}

func (h *handler) jobPage(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Job", ""
	q := r.URL.Query()
	id := strings.TrimSpace(q.Get("id"))
	v.Search = id
	d := &jobData{ID: id}
	v.Data = d
	if id == "" {
		return "job", nil
	}
	v.Title = "Job " + id
	seq, _ := strconv.ParseUint(q.Get("seq"), 10, 64)
	h.keptState(ctx, r, d)
	found, err := h.client.FindJob(ctx, id, job.FindOptions{Seq: seq})
	if errors.Is(err, job.ErrJobNotLocated) {
		if d.State == nil {
			d.NotFound = err.Error()
		}
		return "job", nil
	}
	if err != nil {
		return "job", err
	}
	d.Found = found
	var payload []byte
	switch {
	case found.DeadLetter != nil:
		dl := found.DeadLetter
		d.Queue, d.Kind, d.Seq, d.Header, payload = dl.Queue, dl.Kind, dl.Seq, dl.Header, dl.Payload
		d.DeadURL = fmt.Sprintf("%s/dead-letters/%d", h.cfg.Prefix, dl.Seq)
	case found.Delayed != nil:
		dj := found.Delayed
		d.Queue, d.Kind, d.Seq, d.Header, payload = dj.Queue, dj.Kind, dj.Seq, dj.Header, dj.Payload
	case found.Job != nil:
		j := found.Job
		d.Queue, d.Kind, d.Seq, d.Header, payload = j.Queue, j.Kind, j.Seq, j.Header, j.Payload
	}
	full := q.Get("full") == "1"
	d.Payload = viewPayload(payload, full, detailBytes, h.cfg.MaxPayload)
	if d.Payload.Cut && !full {
		u := url.Values{"id": {id}, "full": {"1"}}
		if d.Seq > 0 && found.Job != nil {
			u.Set("seq", strconv.FormatUint(d.Seq, 10))
		}
		d.FullURL = h.cfg.Prefix + "/job?" + u.Encode()
	}
	d.Trace = traceID(d.Header)
	if c, err := h.client.Canceled(ctx, id); err == nil {
		d.Canceled = c
	}
	return "job", nil
}

// keptState fills d.State with the job's kept state. A job that keeps its
// result (job.KeepResult) has one, also after it succeeded and left every
// stream; most jobs have none (job.ErrJobNotFound), and neither has a
// namespace whose state bucket was never created or a server too old to
// keep states. Any other failure is
// shown on the page beside what the streams say, not instead of it.
func (h *handler) keptState(ctx context.Context, r *http.Request, d *jobData) {
	st, err := h.client.Status(ctx, d.ID)
	switch {
	case errors.Is(err, job.ErrJobNotFound), errors.Is(err, job.ErrNoStream), errors.Is(err, job.ErrStateUnsupported):
		return
	case err != nil:
		d.StateErr = h.describe(err)
		return
	}
	d.State = st
	if len(st.Result) == 0 {
		return
	}
	// The result comes from a handler or a foreign worker: shown like a
	// payload, cut unless asked for whole, and bounded even then. It is
	// formatted before it is cut (it is at most job.MaxResultSize from a
	// jetjobs worker), so a cut result reads as formatted JSON too.
	data := []byte(st.Result)
	var buf bytes.Buffer
	if json.Indent(&buf, data, "", "  ") == nil {
		data = buf.Bytes()
	}
	full := r.URL.Query().Get("result") == "full"
	d.Result = viewPayload(data, full, detailBytes, h.cfg.MaxPayload)
	if d.Result.Cut && !full {
		u := r.URL.Query()
		u.Set("result", "full")
		d.ResultURL = h.cfg.Prefix + "/job?" + u.Encode()
	}
}

func (h *handler) cancelJob(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	id := r.PostForm.Get("id")
	res, err := h.client.Cancel(ctx, id)
	if err != nil {
		return "", "", err
	}
	msg := "Canceled job " + id + "."
	if res.Unscheduled {
		msg = "Canceled delayed job " + id + ": it will not run."
	}
	back := h.cfg.Prefix + "/job?" + url.Values{"id": {id}, "seq": {r.PostForm.Get("seq")}}.Encode()
	return back, msg, nil
}
