package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/jetjobs/jetjobs/job"
)

type schedulesData struct {
	Schedules []job.ScheduleInfo
	Delayed   []job.DelayedJob
	NextURL   string
}

func (h *handler) schedules(ctx context.Context, r *http.Request, v *view) (string, error) {
	v.Title, v.Nav = "Schedules", "schedules"
	d := &schedulesData{}
	v.Data = d
	var err error
	if d.Schedules, err = h.client.Schedules(ctx); err != nil {
		return "schedules", err
	}
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	delayed, next, err := h.client.DelayedJobs(ctx, after, 50)
	if err != nil {
		return "schedules", err
	}
	d.Delayed = delayed
	if next > 0 {
		d.NextURL = fmt.Sprintf("%s/schedules?after=%d", h.cfg.Prefix, next)
	}
	return "schedules", nil
}

func (h *handler) addSchedule(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	f := r.PostForm
	s := job.Schedule{
		Name:     strings.TrimSpace(f.Get("name")),
		Spec:     strings.TrimSpace(f.Get("spec")),
		TimeZone: strings.TrimSpace(f.Get("tz")),
		Kind:     strings.TrimSpace(f.Get("kind")),
	}
	if q := strings.TrimSpace(f.Get("queue")); q != "" {
		s.Options = append(s.Options, job.Queue(q))
	}
	if args := strings.TrimSpace(f.Get("args")); args != "" {
		if !json.Valid([]byte(args)) {
			return "", "", fmt.Errorf("%w: the arguments are not valid JSON; write an object such as {\"report\": \"daily\"}", errBadRequest)
		}
		s.Args = json.RawMessage(args)
	}
	changed, err := h.client.DeclareSchedule(ctx, s)
	if err != nil {
		return "", "", err
	}
	msg := "Schedule " + s.Name + " saved."
	if !changed {
		msg = "Schedule " + s.Name + " was already declared so."
	}
	return h.cfg.Prefix + "/schedules", msg, nil
}

func (h *handler) removeSchedule(ctx context.Context, w http.ResponseWriter, r *http.Request) (string, string, error) {
	name := r.PostForm.Get("name")
	if err := h.client.RemoveSchedule(ctx, name); err != nil {
		return "", "", err
	}
	return h.cfg.Prefix + "/schedules", "Removed schedule " + name + ".", nil
}
