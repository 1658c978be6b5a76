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
	// reaper kills the command's process group if the worker dies; nil:
	// none.
	reaper *groupReaper
}

// stderrTail is how much of a failed command's stderr becomes its error.
const stderrTail = 2000

// Exit statuses with a meaning of their own, from sysexits.h, as mail
// transfer agents read them from their delivery programs: EX_DATAERR
// bounces, EX_TEMPFAIL defers.
const (
	// exitPermanent ends the job: no retry can fix it (job.Permanent). It
	// goes to the dead letters at once with reason failed.
	exitPermanent = 65 // EX_DATAERR
	// exitSnooze defers the job without using up an attempt (job.Snooze),
	// for the delay the command wrote to $JETJOBS_SNOOZE_FILE, or
	// defaultSnooze.
	exitSnooze = 75 // EX_TEMPFAIL
)

// defaultSnooze is the delay of a command that exits exitSnooze without
// writing one.
const defaultSnooze = time.Minute

// pipeGrace is how long Wait waits for the output pipes after the command
// exited or was killed: a background process it left may hold them open.
const pipeGrace = 2 * time.Second

func (h execHandler) handle(ctx context.Context, j *job.Job[json.RawMessage]) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", h.command)
	cmd.Stdin = bytes.NewReader(j.Payload)
	cmd.Stdout = h.stdout
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = tail
	snoozeFile, err := newSnoozeFile()
	if err != nil {
		return err
	}
	defer os.Remove(snoozeFile)
	cmd.Env = append(execEnv(os.Environ()),
		"JETJOBS_ID="+j.ID,
		"JETJOBS_KIND="+j.Kind,
		"JETJOBS_QUEUE="+j.Queue,
		"JETJOBS_ATTEMPT="+strconv.Itoa(j.Attempt),
		"JETJOBS_MAX_ATTEMPTS="+strconv.Itoa(j.MaxAttempts),
		"JETJOBS_TIMEOUT="+timeoutValue(j.Timeout),
		"JETJOBS_SNOOZE_FILE="+snoozeFile,
	)
	// Its own process group: a terminal's Ctrl-C reaches the worker alone
	// (which then lets the command finish), and a timeout kills everything
	// the command started, not only the shell.
	// Should the worker die, Pdeathsig and the reaper end them too.
	cmd.SysProcAttr = commandAttr()
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = pipeGrace
	capture, ended, err := keepOutput(ctx, cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	if err = cmd.Start(); err == nil {
		h.reaper.add(cmd.Process.Pid)
		err = cmd.Wait()
		h.reaper.remove(cmd.Process.Pid)
	}
	ended()
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
		if capture != nil {
			return capture.record(ctx)
		}
		return nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("command killed by signal %s%s", ws.Signal(), tail.suffix())
		}
		return commandExitError(exitErr.ExitCode(), tail.suffix(), snoozeFile)
	default:
		return fmt.Errorf("run command: %w", err)
	}
}

// commandExitError is the error of a command that exited with status code:
// permanent for exitPermanent, a snooze for exitSnooze, otherwise a failed
// attempt.
func commandExitError(code int, stderr, snoozeFile string) error {
	err := fmt.Errorf("exit status %d%s", code, stderr)
	switch code {
	case exitPermanent:
		return job.Permanent(err)
	case exitSnooze:
		d, serr := readSnooze(snoozeFile)
		if serr != nil {
			return fmt.Errorf("%w (exit status %d asks to snooze, but: %v)", err, exitSnooze, serr)
		}
		return job.Snooze(d)
	}
	return err
}

// newSnoozeFile creates the empty file a command may write its snooze
// delay to.
func newSnoozeFile() (string, error) {
	f, err := os.CreateTemp("", "jetjobs-snooze-")
	if err != nil {
		return "", fmt.Errorf("create the snooze file: %w", err)
	}
	return f.Name(), f.Close()
}

// readSnooze reads the delay a command wrote to its snooze file: a Go
// duration (90s, 1m30s) or whole seconds (90); defaultSnooze if it wrote
// nothing.
func readSnooze(path string) (time.Duration, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return defaultSnooze, nil
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("$JETJOBS_SNOOZE_FILE holds %q, not a delay such as 30s or 30", truncate(v, 40))
	}
	return d, nil
}

// timeoutValue is a job's time limit as JETJOBS_TIMEOUT and the
// Jetjobs-Timeout header give it: a Go duration, or "" for none.
func timeoutValue(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.String()
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
