package main

import (
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

// startServerAt starts an embedded server on the port of u.
func startServerAt(t *testing.T, u string) *natstest.Server {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(parsed.Port())
	if err != nil {
		t.Fatal(err)
	}
	return natstest.Start(t, func(o *server.Options) { o.Port = port })
}

// A worker started before its server (docker-compose, systemd) waits for
// it for --connect-timeout, logging each wait, and starts once it is up.
func TestWorkerWaitsForItsServer(t *testing.T) {
	u := unusedURL(t)
	w := proctest.Start(t, binary, nil, "worker", "-s", u, "--log-format", "json", "--connect-timeout", "2m", "--exec", "k=true")
	w.WaitOutput(w.Stderr, `"level":"WARN","msg":"cannot connect to NATS yet; trying again in \S+ \(--connect-timeout 2m0s: \S+ left\)","url":"`+u+`","error":"nats: no servers available for connection","attempt":1`)
	startServerAt(t, u)
	w.WaitOutput(w.Stderr, `"msg":"connected to NATS","url":"`+u+`","attempts":\d+`)
	w.WaitOutput(w.Stderr, `"msg":"worker pool started"`)
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
}

// With --connect-forever a command waits past --connect-timeout.
func TestConnectForever(t *testing.T) {
	u := unusedURL(t)
	p := proctest.Start(t, binary, nil, "enqueue", "-s", u, "--log-format", "json", "--connect-timeout", "200ms", "--connect-forever", "--id", "late-1", "k")
	// The fifth wait comes after about 0.7s of waits, past 200ms.
	p.WaitOutput(p.Stderr, `trying again in \S+ \(--connect-forever\)","url":"`+u+`".*"attempt":5`)
	startServerAt(t, u)
	if code := p.Wait(); code != 0 {
		t.Errorf("enqueue exit code = %d, want 0\n%s", code, p.Stderr)
	}
	if got := strings.TrimSpace(p.Stdout.String()); got != "late-1" {
		t.Errorf("enqueue printed %q, want the job's ID", got)
	}
}

// Without a server a command gives up after --connect-timeout with one
// error line after its waits; a server that answers and refuses is not
// waited for.
func TestConnectGivesUpAfterTheTimeout(t *testing.T) {
	u := unusedURL(t)
	r := jetjobs(t, "", "queues", "-s", u, "--log-format", "json", "--connect-timeout", "1s")
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if r.Code != exitError || len(lines) < 3 || !strings.HasPrefix(last, "jetjobs: cannot connect to NATS at "+u+" after trying for 1s: nats: no servers available for connection (") {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 1, a few waits and the error after trying for 1s", r.Code, r.Stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if !strings.Contains(l, "cannot connect to NATS yet; trying again") {
			t.Errorf("line %q is not a wait", l)
		}
	}

	token := natstest.Start(t, func(o *server.Options) { o.Authorization = "right" })
	r = jetjobs(t, "", "queues", "-s", token.URL(), "--token", "wrong", "--connect-timeout", "1m")
	if r.Code != exitError || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, hintBadAuth) || strings.Contains(r.Stderr, "after trying") {
		t.Errorf("refused credentials: exit %d, stderr %q; want one line at once", r.Code, r.Stderr)
	}
}
