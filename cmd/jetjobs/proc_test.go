package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// output is a process's stdout or stderr, safe to read while it runs.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// proc is a jetjobs process started by a test.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr *output
	done           chan struct{}
	code           int
}

// testEnv is the environment of processes: the test's, without NATS_URL
// and JETJOBS_* settings that would change what a test means. A race-built
// binary exits at once instead of after the race runtime's default 1s
// pause, and with status 66 if it found a race.
func testEnv(extra ...string) []string {
	env := []string{"GORACE=atexit_sleep_ms=0"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NATS_URL=") || strings.HasPrefix(kv, "JETJOBS_") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// start starts jetjobs with args; the process is killed at the end of the
// test if it is still running.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary, args...), stdout: &output{}, stderr: &output{}, done: make(chan struct{})}
	p.cmd.Env = testEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("jetjobs %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout, p.stderr)
		}
	})
	return p
}

// waitOutput waits until the process's stdout or stderr matches re and
// returns the first match's submatches.
func (p *proc) waitOutput(o *output, re string) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	natstest.Eventually(p.t, 30*time.Second, func() bool {
		m = rx.FindStringSubmatch(o.String())
		if m == nil {
			select {
			case <-p.done:
				p.t.Fatalf("jetjobs exited (%d) before printing %q\nstdout:\n%s\nstderr:\n%s", p.code, re, p.stdout, p.stderr)
			default:
			}
		}
		return m != nil
	}, "output matching %q", re)
	return m
}

// stop sends sig and returns the exit code.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.wait()
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		p.t.Fatalf("jetjobs did not exit within 60s\nstderr:\n%s", p.stderr)
		return -1
	}
}

// result is what a finished jetjobs run printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// jetjobs runs jetjobs to completion with stdin as its input.
func jetjobs(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = testEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("jetjobs %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs jetjobs and fails the test unless it exits 0; it returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	r := jetjobs(t, "", args...)
	if r.code != 0 {
		t.Fatalf("jetjobs %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// startServerProc runs `jetjobs server` on a free port and returns its URL. The
// server is shut down with SIGTERM at the end of the test, which must
// succeed.
func startServerProc(t *testing.T, extra ...string) (string, *proc) {
	t.Helper()
	p := start(t, nil, append([]string{"server", "--listen", "127.0.0.1:0", "--store", t.TempDir()}, extra...)...)
	url := p.waitOutput(p.stdout, `listening on (nats://\S+)`)[1]
	t.Cleanup(func() {
		if code := p.stop(syscall.SIGTERM); code != 0 {
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
func startWorker(t *testing.T, url string, env []string, args ...string) *proc {
	t.Helper()
	p := start(t, env, append([]string{"worker", "-s", url, "--log-format", "json", "--log-level", "debug"}, args...)...)
	p.waitOutput(p.stderr, `"msg":"worker pool started"`)
	return p
}
