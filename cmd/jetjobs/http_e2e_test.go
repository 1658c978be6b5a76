package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// A --http URL's password or token is sent to the URL, and shown nowhere:
// not in the worker's logs, not in the dead letter's error.
func TestHTTPWorkerHidesTheURLsSecrets(t *testing.T) {
	const pw, token = "PW-pa/ss#1", "TOKEN-http-77"
	srv := natstest.Start(t)
	auth := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		auth <- user + ":" + pass
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	t.Cleanup(hook.Close)
	host := strings.TrimPrefix(hook.URL, "http://")
	down := strings.TrimPrefix(unusedURL(t), "nats://")
	w := startWorker(t, srv.URL(), nil, "--max-attempts", "1",
		"--http", "pw.call=http://user:PW-pa%2Fss%231@"+host+"/x",
		"--http", "token.call=http://"+token+"@"+host+"/x",
		"--http", "down.call=http://user:PW-pa%2Fss%231@"+down+"/x")
	for _, kind := range []string{"pw.call", "token.call", "down.call"} {
		ok(t, "enqueue", "-s", srv.URL(), "--id", kind, kind)
	}
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 3 }, "the three jobs to be dead-lettered")
	want := map[string]string{
		"pw.call":    "POST http://user:xxxxx@" + host + "/x: 500 Internal Server Error: nope",
		"token.call": "POST http://xxxxx@" + host + "/x: 500 Internal Server Error: nope",
		"down.call":  "POST http://user:xxxxx@" + down + "/x: dial tcp " + down + ": connect: connection refused",
	}
	for _, dl := range dls {
		if dl.Error != want[dl.ID] {
			t.Errorf("dead letter %s: error %q, want %q", dl.ID, dl.Error, want[dl.ID])
		}
	}
	got := map[string]bool{<-auth: true, <-auth: true}
	if !got["user:"+pw] || !got[token+":"] {
		t.Errorf("the hook got the credentials %v, want user:%s and %s", got, pw, token)
	}
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	for _, secret := range []string{pw, "PW-pa%2Fss", token} {
		if logs := w.Stderr.String(); strings.Contains(logs, secret) {
			t.Errorf("the worker's logs show %q:\n%s", secret, logs)
		}
	}
}

// A --http call ends at the job's time limit, or at --http-timeout for a
// job without one: a server that never answers does not hold a slot for
// ever.
func TestHTTPWorkerCallsHaveATimeLimit(t *testing.T) {
	srv := natstest.Start(t)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // never answers while the worker waits
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hook.Close() })
	startWorker(t, srv.URL(), nil, "--max-attempts", "1", "--http-timeout", "300ms", "--http", "hang="+hook.URL+"/hang")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "no-limit", "hang")
	ok(t, "enqueue", "-s", srv.URL(), "--id", "own-limit", "--timeout", "200ms", "hang")
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 2 }, "both jobs to be dead-lettered")
	want := map[string]string{
		"no-limit":  "POST " + hook.URL + "/hang: no response within --http-timeout 300ms",
		"own-limit": "POST " + hook.URL + "/hang: no response within the job's time limit",
	}
	for _, dl := range dls {
		if dl.Error != want[dl.ID] {
			t.Errorf("dead letter %s: error %q, want %q", dl.ID, dl.Error, want[dl.ID])
		}
	}
}

func TestCheckHTTPURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/jobs/invoice", true},
		{"https://user:pa%2Fss%23@hooks.example.com/x?a=b%40c", true},
		{"https://tok@hooks.example.com", true},
		{"http://user:pa#ss@host/x", false},
		{"http://user:12/ss@host/x", false},
		{"http://user:12?ss@host/x", false},
		{"http://host/x?mail=a@b", false},
		{"http://user:pa ss@host/x", false},
		{"http:///x", false},
	} {
		if err := checkHTTPURL(c.url); (err == nil) != c.ok {
			t.Errorf("checkHTTPURL(%q) = %v, want ok %v", c.url, err, c.ok)
		}
	}
	// The usage error shows the URL without its password.
	_, err := parseHandlerSpecs(nil, []string{"k=http://user:SECRET#1@host/x"})
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "user:xxxxx@host/x") {
		t.Errorf("parseHandlerSpecs of a URL with a '#' in its password: %v", err)
	}
}
