package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/jetjobs/jetjobs/job"
)

type deadLettersData struct {
	Filter  dlFilter
	Page    job.DeadLetterPage
	Total   uint64
	NextURL string
	Reasons []job.Reason
	// Oldest: the page lists oldest first, asked for or, ForcedOldest,
	// because the filter is read forward only (an error text, or dead
	// letters of the v1 subject form that only their headers place).
	Oldest, ForcedOldest bool
}

// dlFilter is the dead-letter filter of a request, in its form fields.
type dlFilter struct {
	Queue, Kind, Reason, Error string
}

func readFilter(v url.Values) dlFilter {
	return dlFilter{
		Queue:  strings.TrimSpace(v.Get("queue")),
		Kind:   strings.TrimSpace(v.Get("kind")),
		Reason: strings.TrimSpace(v.Get("reason")),
		Error:  strings.TrimSpace(v.Get("error")),
	}
}

func (f dlFilter) query() job.DeadLetterQuery {
	return job.DeadLetterQuery{Queue: f.Queue, Kind: f.Kind, Reason: job.Reason(f.Reason), ErrorContains: f.Error}
}

func (f dlFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"queue": f.Queue, "kind": f.Kind, "reason": f.Reason, "error": f.Error} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// Describe says what the filter selects, for people.
func (f dlFilter) Describe() string {
	if of := f.query().Describe(); of != "" {
		return "dead letters of " + of
	}
	return "all dead letters"
}

func (f dlFilter) check() error {
	if f.Queue != "" {
		if err := job.ValidateQueue(f.Queue); err != nil && f.Queue != "_invalid" {
			return err
		}
	}
	if f.Kind != "" {
		if err := job.ValidateKind(f.Kind); err != nil {
			return fmt.Errorf("kind filter: %w", err)
		}
	}
	return nil
}

var reasons = []job.Reason{job.ReasonFailed, job.ReasonMaxDeliveries, job.ReasonDecode, job.ReasonNoHandler, job.ReasonCanceled, job.ReasonExpired}

func (h *handler) deadLetters(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Dead letters", "dead"
	v.Refresh = 0 // a refresh would clear the selection
	q := r.URL.Query()
	d := &deadLettersData{Filter: readFilter(q), Reasons: reasons}
	v.Data = d
	if err := d.Filter.check(); err != nil {
		return "dead_letters", err
	}
	if s, err := h.js.Stream(ctx, h.client.Topology().DeadLetterStream); err == nil {
		d.Total = s.CachedInfo().State.Msgs
	}
	query := d.Filter.query()
	query.After, _ = strconv.ParseUint(q.Get("after"), 10, 64)
	query.Before, _ = strconv.ParseUint(q.Get("before"), 10, 64)
	// Newest first unless asked otherwise; a page the server cannot
	// select by subject (an error-text filter, or dead letters of the v1
	// subject form under a kind or reason filter) reads oldest first.
	query.Newest = q.Get("order") != "oldest"
	query.Limit = 50
	page, err := h.client.QueryDeadLetters(ctx, query)
	if err != nil {
		return "dead_letters", err
	}
	d.Page = page
	d.Oldest = !page.Newest
	d.ForcedOldest = query.Newest && !page.Newest
	if page.Next > 0 {
		next := d.Filter.values()
		if d.Oldest {
			next.Set("order", "oldest")
			next.Set("after", strconv.FormatUint(page.Next, 10))
		} else {
			next.Set("before", strconv.FormatUint(page.Next, 10))
		}
		d.NextURL = h.cfg.Prefix + "/dead-letters?" + next.Encode()
	}
	return "dead_letters", nil
}

type deadLetterData struct {
	DL      job.DeadLetter
	Payload payloadView
	FullURL string
	Trace   string
}

func (h *handler) deadLetterPage(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Nav = "dead"
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not a dead letter's sequence number", errNotFound, r.PathValue("seq"))
	}
	v.Title = fmt.Sprintf("Dead letter %d", seq)
	dl, err := h.client.DeadLetterAt(ctx, seq)
	if err != nil {
		return "", err
	}
	full := r.URL.Query().Get("full") == "1"
	d := &deadLetterData{DL: dl, Payload: viewPayload(dl.Payload, full, detailBytes, h.cfg.MaxPayload), Trace: traceID(dl.Header)}
	if d.Payload.Cut && !full {
		d.FullURL = fmt.Sprintf("%s/dead-letters/%d?full=1", h.cfg.Prefix, seq)
	}
	v.Data = d
	return "dead_letter", nil
}

func (h *handler) seqOf(r *http.Request) (uint64, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%w: %q is not a dead letter's sequence number", errBadRequest, r.PathValue("seq"))
	}
	return seq, nil
}

func (h *handler) replayOne(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	seq, err := h.seqOf(r)
	if err != nil {
		return "", "", err
	}
	res, err := h.client.ReplayDeadLetterAt(ctx, seq)
	if err != nil {
		return "", "", err
	}
	return h.cfg.Prefix + "/job?" + url.Values{"id": {res.ID}, "seq": {strconv.FormatUint(res.Seq, 10)}}.Encode(),
		fmt.Sprintf("Replayed dead letter %d: job %s is queued again.", seq, res.ID), nil
}

func (h *handler) deleteOne(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	seq, err := h.seqOf(r)
	if err != nil {
		return "", "", err
	}
	if err := h.client.DeleteDeadLetterAt(ctx, seq); err != nil {
		return "", "", err
	}
	return h.cfg.Prefix + "/dead-letters", fmt.Sprintf("Deleted dead letter %d.", seq), nil
}

// bulkRequest is a bulk action on dead letters, as the forms post it.
type bulkRequest struct {
	Action string // replay or delete
	Scope  string // selected or matching
	Filter dlFilter
	Seqs   []uint64
	Mark   uint64
	Count  uint64
}

func readBulk(r *http.Request) (bulkRequest, error) {
	f := r.PostForm
	b := bulkRequest{Action: f.Get("action"), Scope: f.Get("scope"), Filter: readFilter(f)}
	if do := f.Get("do"); do != "" { // the list's buttons: "replay-selected", …
		b.Action, b.Scope, _ = strings.Cut(do, "-")
	}
	if b.Action != "replay" && b.Action != "delete" {
		return b, fmt.Errorf("%w: action %q: use replay or delete", errBadRequest, b.Action)
	}
	if b.Scope != "selected" && b.Scope != "matching" {
		return b, fmt.Errorf("%w: scope %q: use selected or matching", errBadRequest, b.Scope)
	}
	if err := b.Filter.check(); err != nil {
		return b, err
	}
	for _, s := range f["seq"] {
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || seq == 0 {
			return b, fmt.Errorf("%w: %q is not a dead letter's sequence number", errBadRequest, s)
		}
		b.Seqs = append(b.Seqs, seq)
	}
	if b.Scope == "selected" && len(b.Seqs) == 0 {
		return b, fmt.Errorf("%w: no dead letter selected: tick the ones to %s, or act on all that match", errBadRequest, b.Action)
	}
	b.Mark, _ = strconv.ParseUint(f.Get("mark"), 10, 64)
	b.Count, _ = strconv.ParseUint(f.Get("count"), 10, 64)
	return b, nil
}

type confirmData struct {
	Bulk     bulkRequest
	Describe string
	BackURL  string
}

// confirmBulk shows what a bulk action would do, with the exact count of
// dead letters as of now (the mark), and a form that performs it on those.
func (h *handler) confirmBulk(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	b, err := readBulk(r)
	if err != nil {
		return "", "", err
	}
	mark, err := h.client.DeadLetterSequence(ctx)
	if err != nil {
		return "", "", err
	}
	b.Mark = mark
	d := &confirmData{Bulk: b, BackURL: h.cfg.Prefix + "/dead-letters?" + b.Filter.values().Encode()}
	if b.Scope == "selected" {
		b.Count = uint64(len(b.Seqs))
		d.Describe = "the selected dead letters"
	} else {
		q := b.Filter.query()
		q.Through = mark
		if b.Count, err = h.client.CountDeadLetters(ctx, q); err != nil {
			return "", "", err
		}
		d.Describe = b.Filter.Describe()
	}
	d.Bulk = b
	v := &view{Prefix: h.cfg.Prefix, Title: "Confirm", Nav: "dead", CSRF: h.csrf.token(w, r), Banner: h.connectionBanner(), Data: d}
	h.render(w, http.StatusOK, "confirm", v)
	return "", "", nil
}

// bulk performs a confirmed bulk action on the dead letters there were at
// its mark.
func (h *handler) bulk(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	b, err := readBulk(r)
	if err != nil {
		return "", "", err
	}
	if b.Mark == 0 {
		return "", "", fmt.Errorf("%w: the confirmation carries no mark; start again from the dead letters page", errBadRequest)
	}
	back := h.cfg.Prefix + "/dead-letters?" + b.Filter.values().Encode()
	var n int
	if b.Scope == "selected" {
		for _, seq := range b.Seqs {
			if seq > b.Mark {
				continue
			}
			if b.Action == "replay" {
				_, err = h.client.ReplayDeadLetterAt(ctx, seq)
			} else {
				err = h.client.DeleteDeadLetterAt(ctx, seq)
			}
			if err != nil {
				return "", "", fmt.Errorf("after %d of %d: %w", n, len(b.Seqs), err)
			}
			n++
		}
	} else {
		q := b.Filter.query()
		q.Through = b.Mark
		if b.Action == "replay" {
			n, err = h.client.ReplayDeadLetters(ctx, q)
		} else {
			n, err = h.client.DeleteDeadLetters(ctx, q)
		}
		if err != nil {
			return "", "", fmt.Errorf("after %d: %w", n, err)
		}
	}
	verb := "Replayed"
	if b.Action == "delete" {
		verb = "Deleted"
	}
	return back, fmt.Sprintf("%s %s dead letters.", verb, count(n)), nil
}
