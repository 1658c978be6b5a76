package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// httpHandler POSTs each job's payload to a URL (worker --http).
type httpHandler struct {
	client *http.Client
	url    string
}

func (h httpHandler) handle(ctx context.Context, j *job.Job[json.RawMessage]) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(j.Payload))
	if err != nil {
		return job.Permanent(fmt.Errorf("build request to %s: %w", h.url, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(job.HeaderID, j.ID)
	req.Header.Set(wire.HTTPKind, j.Kind)
	req.Header.Set(wire.HTTPQueue, j.Queue)
	req.Header.Set(wire.HTTPAttempt, strconv.Itoa(j.Attempt))
	for _, name := range []string{job.HeaderTraceParent, job.HeaderTraceState} {
		if v := j.Header.Get(name); v != "" {
			req.Header.Set(name, v)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", h.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, stderrTail))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := fmt.Sprintf("POST %s: %s", h.url, resp.Status)
	if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + b
	}
	return fmt.Errorf("%s", msg)
}
