package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// defaultHTTPTimeout is --http-timeout's default: how long a call of a job
// without a time limit may take.
const defaultHTTPTimeout = time.Minute

// httpHandler POSTs each job's payload to a URL (worker --http).
type httpHandler struct {
	client *http.Client
	url    string
	// shown is url with its password or token replaced, for errors and
	// logs: a job's error becomes its dead letter's Jetjobs-Error, which
	// whoever may read dead letters reads.
	shown string
	// timeout bounds a call of a job without a time limit of its own (the
	// worker's --timeout or the job's Jetjobs-Timeout): a server that
	// never answers must not hold a slot for ever.
	timeout time.Duration
}

func newHTTPHandler(client *http.Client, url string, timeout time.Duration) httpHandler {
	return httpHandler{client: client, url: url, shown: redactServers(url), timeout: timeout}
}

func (h httpHandler) handle(ctx context.Context, j *job.Job[json.RawMessage]) error {
	limit := "the job's time limit"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.timeout)
		defer cancel()
		limit = fmt.Sprintf("--http-timeout %s", h.timeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(j.Payload))
	if err != nil {
		return job.Permanent(h.errorf(err, "build request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(job.HeaderID, j.ID)
	req.Header.Set(wire.HTTPKind, j.Kind)
	req.Header.Set(wire.HTTPQueue, j.Queue)
	req.Header.Set(wire.HTTPAttempt, strconv.Itoa(j.Attempt))
	req.Header.Set(wire.MaxAttempts, strconv.Itoa(j.MaxAttempts))
	// The call's time limit: the job's, or --http-timeout for a job
	// without one.
	callLimit := j.Timeout
	if callLimit <= 0 {
		callLimit = h.timeout
	}
	req.Header.Set(wire.Timeout, timeoutValue(callLimit))
	for _, name := range []string{job.HeaderTraceParent, job.HeaderTraceState} {
		if v := j.Header.Get(name); v != "" {
			req.Header.Set(name, v)
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// url.Error names the URL with the password replaced but a token
		// in clear: name it as shown instead.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return h.errorf(err, "no response within %s", limit)
		}
		return h.errorf(err, "")
	}
	defer resp.Body.Close()
	keep := job.KeepsResult(ctx) && resp.StatusCode/100 == 2
	bodyLimit := int64(stderrTail)
	if keep {
		bodyLimit = job.MaxResultSize + 1 // the response body is the result
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, bodyLimit))
	if keep {
		switch {
		case err != nil:
			return h.errorf(err, "%s: read the response body", resp.Status)
		case len(body) > job.MaxResultSize:
			return job.Permanent(fmt.Errorf("%w: POST %s: the response body exceeds %d bytes; return a reference to large output instead", job.ErrResultTooLarge, h.shown, job.MaxResultSize))
		}
		return recordOutput(ctx, body)
	}
	if resp.StatusCode/100 == 2 {
		return nil
	}
	if err != nil && ctx.Err() != nil {
		return h.errorf(err, "%s: no complete response within %s", resp.Status, limit)
	}
	msg := resp.Status
	if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + b
	}
	return statusError(resp, &httpError{msg: "POST " + h.shown + ": " + msg}, time.Now())
}

// statusError is the error of a call answered with a status other than
// 2xx: a 4xx other than 408 (timeout) and 429 (too many requests) says the
// request itself is wrong, which no retry fixes (job.Permanent); 429 and
// 503 with a Retry-After header defer the job for that long without using
// up an attempt (job.Snooze); anything else is a failed attempt.
func statusError(resp *http.Response, err error, now time.Time) error {
	code := resp.StatusCode
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			return job.Snooze(d)
		}
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout:
		return job.Permanent(err)
	}
	return err
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// errorf returns err as the error of a call, saying what happened when
// what is not empty, without the secrets of the URL.
func (h httpHandler) errorf(err error, what string, args ...any) error {
	msg := "POST " + h.shown + ": "
	if what != "" {
		msg += fmt.Sprintf(what, args...)
	} else {
		msg += redact(err.Error())
	}
	return &httpError{msg: msg, err: err}
}

// httpError is a failed call: its message names the URL without secrets,
// and it wraps the cause.
type httpError struct {
	msg string
	err error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// checkHTTPURL checks the URL of --http as net/http reads it: http or
// https, a host, no fragment, and no '@' but the one that ends the user
// name and password. An '@' elsewhere, or a '#', is most likely a password
// that needs percent-encoding, which would otherwise reach another host,
// or show up in the logs where net/url reads it as a path.
func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// The parse error quotes the URL, secrets and all.
		return errors.New("not a URL: percent-encode / ? # @ and spaces in a user name or password")
	}
	_, rest, _ := strings.Cut(raw, "://")
	hostEnd := strings.IndexAny(rest, "/?")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the URL must start with http:// or https://")
	case u.Host == "":
		return errors.New("the URL has no host")
	case strings.ContainsRune(raw, '#') || strings.LastIndexByte(rest, '@') > hostEnd:
		return errors.New("a '#', or an '@' after the host: percent-encode them (%23, %40), in a user name or password too")
	}
	return nil
}
