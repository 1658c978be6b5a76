package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// execHandler runs a shell command for each job (worker --exec).
type execHandler struct {
	command string
	stdout  io.Writer
	log     *slog.Logger
}

// stderrTail is how much of a failed command's stderr becomes its error.
const stderrTail = 2000

// pipeGrace is how long Wait waits for the output pipes after the command
// exited or was killed: a background process it left may hold them open.
const pipeGrace = 2 * time.Second

func (h execHandler) handle(ctx context.Context, j *job.Job[json.RawMessage]) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", h.command)
	cmd.Stdin = bytes.NewReader(j.Payload)
	cmd.Stdout = h.stdout
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	cmd.Env = append(execEnv(os.Environ()),
		"JETJOBS_ID="+j.ID,
		"JETJOBS_KIND="+j.Kind,
		"JETJOBS_QUEUE="+j.Queue,
		"JETJOBS_ATTEMPT="+strconv.Itoa(j.Attempt),
		"JETJOBS_MAX_ATTEMPTS="+strconv.Itoa(j.MaxAttempts),
	)
	// Its own process group: a terminal's Ctrl-C reaches the worker alone
	// (which then lets the command finish), and a timeout kills everything
	// the command started, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = pipeGrace
	start := time.Now()
	err := cmd.Run()
	h.log.LogAttrs(ctx, slog.LevelDebug, "command finished",
		slog.String("job_id", j.ID), slog.String("kind", j.Kind), slog.Int("attempt", j.Attempt),
		slog.Duration("duration", time.Since(start)), slog.Int("exit_code", cmd.ProcessState.ExitCode()))
	if ctx.Err() != nil && cmd.ProcessState == nil {
		return fmt.Errorf("command not started: %s", killReason(ctx))
	}
	if ctx.Err() != nil && !cmd.ProcessState.Success() {
		return fmt.Errorf("command killed after %s: %s%s", time.Since(start).Round(time.Millisecond), killReason(ctx), tail.suffix())
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success():
		return nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("command killed by signal %s%s", ws.Signal(), tail.suffix())
		}
		return fmt.Errorf("exit status %d%s", exitErr.ExitCode(), tail.suffix())
	default:
		return fmt.Errorf("run command: %w", err)
	}
}

// workerOnlyEnv are the variables of the worker's environment that its
// commands do not inherit: the worker's own connection and credentials
// (NATS_URL may hold a password or token too). A job's command is run for
// whoever enqueued the job; a command that needs NATS gets settings of
// its own.
var workerOnlyEnv = []string{envURL, envUser, envPassword, envToken, envCreds, envNKey}

// execEnv returns environ without workerOnlyEnv.
func execEnv(environ []string) []string {
	return slices.DeleteFunc(slices.Clone(environ), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains(workerOnlyEnv, name)
	})
}

// killReason says why the job's context ended, which killed its command:
// the pool cancels it with cause job.ErrCanceled for `jetjobs cancel`, it
// passes the job's deadline at its time limit, and the pool cancels it
// without a cause when the shutdown timeout ends the running jobs.
func killReason(ctx context.Context) string {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, job.ErrCanceled):
		return "the job was canceled by ID (jetjobs cancel)"
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "the job's time limit passed"
	case cause != nil && !errors.Is(cause, context.Canceled):
		return cause.Error()
	}
	return "the worker is shutting down and --shutdown-timeout passed"
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// suffix is ": <stderr tail>", or "" when the command wrote nothing.
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ToValidUTF8(string(t.buf), ""))
	if s == "" {
		return ""
	}
	return ": " + s
}
