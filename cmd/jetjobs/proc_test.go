package main

import (
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/jetjobs/jetjobs/internal/proctest"
)

// result is what a finished jetjobs run printed and its exit code.
type result = proctest.Result

// jetjobs runs jetjobs to completion with stdin as its input.
func jetjobs(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return proctest.Run(t, binary, nil, stdin, args...)
}

// ok runs jetjobs and fails the test unless it exits 0; it returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := jetjobs(t, "", args...)
	if r.Code != 0 {
		t.Fatalf("jetjobs %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// startServerProc runs `jetjobs server` on a free port and returns its URL.
// The server is shut down with SIGTERM at the end of the test, which must
// succeed.
func startServerProc(t *testing.T, extra ...string) (string, *proctest.Proc) {
	t.Helper()
	p := proctest.Start(t, binary, nil, append([]string{"server", "--listen", "127.0.0.1:0", "--store", t.TempDir()}, extra...)...)
	url := p.WaitOutput(p.Stdout, `listening on (nats://\S+)`)[1]
	t.Cleanup(func() {
		if code := p.Stop(syscall.SIGTERM); code != 0 {
			t.Errorf("server exit code after SIGTERM = %d, want 0", code)
		}
	})
	return url, p
}

// unusedURL is a NATS URL nothing listens on.
func unusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "nats://" + addr
}

// startWorker runs `jetjobs worker` against url and waits until its pool
// started. env adds environment variables.
func startWorker(t *testing.T, url string, env []string, args ...string) *proctest.Proc {
	t.Helper()
	p := proctest.Start(t, binary, env, append([]string{"worker", "-s", url, "--log-format", "json", "--log-level", "debug"}, args...)...)
	p.WaitOutput(p.Stderr, `"msg":"worker pool started"`)
	return p
}
