package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// A command ends its job for good with exit status 65, and defers it with
// 75 for the delay it wrote to $JETJOBS_SNOOZE_FILE without using up an
// attempt; it sees the job's time limit in JETJOBS_TIMEOUT.
func TestExecExitStatusesEndOrDeferTheJob(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	startWorker(t, srv.URL(), []string{"OUT=" + out}, "--retry-initial", "100ms", "--timeout", "7s",
		"--exec", `bad=echo "no such user" >&2; exit 65`,
		"--exec", `later=echo "$JETJOBS_ATTEMPT $JETJOBS_TIMEOUT" >> "$OUT/later.log"; [ -e "$OUT/ready" ] && exit 0; touch "$OUT/ready"; echo 1s > "$JETJOBS_SNOOZE_FILE"; exit 75`,
		"--exec", `odd=echo "$JETJOBS_ATTEMPT" >> "$OUT/odd.log"; echo soon > "$JETJOBS_SNOOZE_FILE"; exit 75`,
	)
	ok(t, "enqueue", "-s", srv.URL(), "--id", "bad-1", "bad")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "later-1", "later")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "odd-1", "--max-attempts", "2", "odd")

	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 2 }, "bad-1 and odd-1 to be dead-lettered")
	for _, dl := range dls {
		switch dl.ID {
		case "bad-1":
			if dl.Reason != "failed" || dl.Attempts != 1 || dl.Error != "exit status 65: no such user" {
				t.Errorf("bad-1: reason %s after %d attempts, error %q; want failed at once with the stderr", dl.Reason, dl.Attempts, dl.Error)
			}
		case "odd-1":
			// A delay it cannot read is a failed attempt, which says why.
			if dl.Attempts != 2 || !strings.Contains(dl.Error, `exit status 75 asks to snooze, but: $JETJOBS_SNOOZE_FILE holds "soon"`) {
				t.Errorf("odd-1: %d attempts, error %q; want 2 failed attempts naming the unreadable delay", dl.Attempts, dl.Error)
			}
		default:
			t.Errorf("unexpected dead letter %+v", dl)
		}
	}
	eventually(t, func() bool { return strings.Count(readFile(filepath.Join(out, "later.log")), "\n") == 2 }, "later-1 to run again after its snooze")
	if got := readFile(filepath.Join(out, "later.log")); got != "1 7s\n1 7s\n" {
		t.Errorf("later-1 ran with attempt and timeout %q, want attempt 1 and 7s twice (a snooze is not an attempt)", got)
	}
	eventually(t, func() bool { q := queueFigures(t, srv.URL())["default"]; return q.Pending == 0 && q.Running == 0 }, "later-1 to be acknowledged")
}

// A 4xx response (but 408 and 429) ends the job for good; 429 or 503 with
// Retry-After defers it without using up an attempt; 429 without it is a
// failed attempt. Each request names the attempts allowed and its time
// limit.
func TestHTTPStatusesEndOrDeferTheJob(t *testing.T) {
	srv := natstest.Start(t)
	type call struct{ id, attempt, maxAttempts, timeout string }
	calls := make(chan call, 20)
	var mu sync.Mutex
	count := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{r.Header.Get("Jetjobs-Id"), r.Header.Get("Jetjobs-Attempt"), r.Header.Get("Jetjobs-Max-Attempts"), r.Header.Get("Jetjobs-Timeout")}
		mu.Lock()
		count[c.id]++
		n := count[c.id]
		mu.Unlock()
		calls <- c
		switch {
		case c.id == "invalid-1":
			http.Error(w, "unknown customer", http.StatusUnprocessableEntity)
		case c.id == "busy-1" && n == 1:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case c.id == "limited-1" && c.attempt == "1":
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(hook.Close)
	startWorker(t, srv.URL(), nil, "--retry-initial", "100ms", "--max-attempts", "4", "--http-timeout", "9s", "--http", "call="+hook.URL)
	ok(t, "enqueue", "-s", srv.URL(), "--id", "invalid-1", "call")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "busy-1", "--timeout", "3s", "call")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "limited-1", "call")

	got := map[string][]call{}
	deadline := time.After(30 * time.Second)
	for len(got["invalid-1"]) < 1 || len(got["busy-1"]) < 2 || len(got["limited-1"]) < 2 {
		select {
		case c := <-calls:
			got[c.id] = append(got[c.id], c)
		case <-deadline:
			t.Fatalf("calls so far: %+v", got)
		}
	}
	want := map[string][]call{
		"invalid-1": {{"invalid-1", "1", "4", "9s"}},
		"busy-1":    {{"busy-1", "1", "4", "3s"}, {"busy-1", "1", "4", "3s"}},       // the snooze is not an attempt
		"limited-1": {{"limited-1", "1", "4", "9s"}, {"limited-1", "2", "4", "9s"}}, // without Retry-After: a failed attempt
	}
	for id, w := range want {
		if len(got[id]) != len(w) || got[id][0] != w[0] || got[id][len(w)-1] != w[len(w)-1] {
			t.Errorf("calls of %s = %+v, want %+v", id, got[id], w)
		}
	}
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 1 }, "invalid-1 to be dead-lettered")
	if dl := dls[0]; dl.ID != "invalid-1" || dl.Attempts != 1 || dl.Error != "POST "+hook.URL+": 422 Unprocessable Entity: unknown customer" {
		t.Errorf("dead letter %+v, want invalid-1 after 1 attempt with the response", dl)
	}
	eventually(t, func() bool { q := queueFigures(t, srv.URL())["default"]; return q.Pending == 0 && q.Running == 0 }, "the other jobs to be acknowledged")
}

func TestStatusError(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	base := errors.New("POST x: status")
	for _, c := range []struct {
		code       int
		retryAfter string
		permanent  bool
		snooze     time.Duration // 0: none
	}{
		{400, "", true, 0},
		{404, "", true, 0},
		{422, "5", true, 0},
		{408, "", false, 0},
		{429, "", false, 0},
		{429, "7", false, 7 * time.Second},
		{503, "120", false, 2 * time.Minute},
		{503, now.Add(90 * time.Second).Format(http.TimeFormat), false, 90 * time.Second},
		{503, "soon", false, 0},
		{503, "", false, 0},
		{500, "5", false, 0},
		{502, "", false, 0},
	} {
		resp := &http.Response{StatusCode: c.code, Header: http.Header{}}
		if c.retryAfter != "" {
			resp.Header.Set("Retry-After", c.retryAfter)
		}
		err := statusError(resp, base, now)
		var perm *job.PermanentError
		var snooze *job.SnoozeError
		isSnooze := errors.As(err, &snooze)
		if errors.As(err, &perm) != c.permanent || isSnooze != (c.snooze != 0) || isSnooze && snooze.Delay != c.snooze {
			t.Errorf("%d with Retry-After %q: %#v, want permanent %v, snooze %s", c.code, c.retryAfter, err, c.permanent, c.snooze)
		}
	}
}

func TestReadSnooze(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snooze")
	for _, c := range []struct {
		content string
		want    time.Duration
		ok      bool
	}{
		{"", defaultSnooze, true},
		{"\n", defaultSnooze, true},
		{"30\n", 30 * time.Second, true},
		{"1m30s", 90 * time.Second, true},
		{"250ms", 250 * time.Millisecond, true},
		{"-5s", 0, false},
		{"tomorrow", 0, false},
	} {
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := readSnooze(path)
		if (err == nil) != c.ok || d != c.want {
			t.Errorf("readSnooze(%q) = %s, %v; want %s, ok %v", c.content, d, err, c.want, c.ok)
		}
	}
	if d, err := readSnooze(filepath.Join(t.TempDir(), "removed")); err != nil || d != defaultSnooze {
		t.Errorf("readSnooze of a file the command removed = %s, %v; want the default", d, err)
	}
}
