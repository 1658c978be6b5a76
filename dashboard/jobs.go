package dashboard

import (
	"context"
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
	// A job that keeps its result has a state record, also after it left
	// every stream (succeeded); without one, Status errs and there is none
	// to show.
	if st, err := h.client.Status(ctx, id); err == nil {
		d.State = st
		d.Result = viewPayload(st.Result, q.Get("full") == "1", detailBytes, h.cfg.MaxPayload)
	}
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
