package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Build builds the main package in dir (a path such as "." or
// "../../cmd/jetjobs") into a binary named name under outDir and returns
// its path. race builds it with the race detector. Build is meant for
// TestMain, so it returns an error instead of taking a testing.TB.
func Build(dir, outDir, name string, race bool) (string, error) {
	bin := filepath.Join(outDir, name)
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", dir, err, out)
	}
	return bin, nil
}

// Env is the environment for a process: the test's own, without NATS_URL
// and JETJOBS_* settings that would change what a test means, plus extra
// (NAME=VALUE). A race-built binary exits at once instead of after the race
// runtime's default pause of one second, with status 66 if it found a race.
func Env(extra ...string) []string {
	env := []string{"GORACE=atexit_sleep_ms=0"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NATS_URL=") || strings.HasPrefix(kv, "JETJOBS_") || strings.HasPrefix(kv, "GORACE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Output collects a process's stdout or stderr; it is safe to read while
// the process runs.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Proc is a running process started by a test.
type Proc struct {
	tb             testing.TB
	name           string
	cmd            *exec.Cmd
	Stdout, Stderr *Output
	done           chan struct{}
	code           int
}

// Start starts bin with args and environment Env(env...). At the end of the
// test the process is killed if it still runs, and its output is logged if
// the test failed.
func Start(tb testing.TB, bin string, env []string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{tb: tb, name: filepath.Base(bin) + " " + strings.Join(args, " "), cmd: exec.Command(bin, args...),
		Stdout: &Output{}, Stderr: &Output{}, done: make(chan struct{})}
	p.cmd.Env = Env(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.Stdout, p.Stderr
	// Children the program started in their own process groups (exec jobs)
	// may outlive a killed program and hold its output open; do not wait
	// for them longer than this once the program itself has exited.
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.code = exitCode(p.cmd.Wait())
		close(p.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("%s\nstdout:\n%s\nstderr:\n%s", p.name, p.Stdout, p.Stderr)
		}
	})
	return p
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// Pid is the process's ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// WaitOutput waits up to 30s until o (p.Stdout or p.Stderr) matches the
// regular expression re and returns the first match's submatches. It fails
// the test at once if the process exits first.
func (p *Proc) WaitOutput(o *Output, re string) []string {
	p.tb.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := rx.FindStringSubmatch(o.String()); m != nil {
			return m
		}
		select {
		case <-p.done:
			if m := rx.FindStringSubmatch(o.String()); m != nil {
				return m
			}
			p.tb.Fatalf("%s exited (%d) before printing %q", p.name, p.code, re)
		case <-tick.C:
			if time.Now().After(deadline) {
				p.tb.Fatalf("%s did not print %q within 30s", p.name, re)
			}
		}
	}
}

// Stop sends sig and returns the exit code.
func (p *Proc) Stop(sig syscall.Signal) int {
	p.tb.Helper()
	_ = p.cmd.Process.Signal(sig)
	return p.Wait()
}

// Wait waits up to 60s for the process to exit and returns its exit code.
func (p *Proc) Wait() int {
	p.tb.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(60 * time.Second):
		p.tb.Fatalf("%s did not exit within 60s", p.name)
		return -1
	}
}

// Result is what a finished process printed and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs bin with args to completion (60s at most) with stdin as its
// input and environment Env(env...).
func Run(tb testing.TB, bin string, env []string, stdin string, args ...string) Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = Env(env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: exitCode(err)}
	if r.Code == -1 {
		tb.Fatalf("%s %s: %v", bin, strings.Join(args, " "), err)
	}
	return r
}

// Main is a TestMain body for packages that test a program: it builds the
// main package in dir (as Build, with the race detector when the tests have
// it) into *bin, runs the tests, checks for leaked goroutines, and returns
// the exit code.
//
//	func TestMain(m *testing.M) { os.Exit(proctest.Main(m, ".", "jetjobs", &binary)) }
func Main(m *testing.M, dir, name string, bin *string) int {
	tmp, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if *bin, err = Build(dir, tmp, name, Race); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}
