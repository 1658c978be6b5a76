package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/jetjobs/jetjobs/job"
)

// For a job that keeps its result (docs/results.md), the command of worker
// --exec reports through its output: its standard output (at most
// job.MaxResultSize bytes) is the job's result, stored as it is when it is
// JSON and as a JSON string (without its last line break) otherwise, and it may report progress with
// lines "FRACTION MESSAGE" (FRACTION from 0 to 1) written to the file
// descriptor named in $JETJOBS_PROGRESS_FD. The response body of worker
// --http is the result likewise.

// progressFD is the command's file descriptor for progress lines: the
// first of exec.Cmd.ExtraFiles.
const progressFD = 3

// resultCapture keeps a command's standard output for its job's result.
type resultCapture struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	over bool // more than job.MaxResultSize bytes
}

func (c *resultCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := job.MaxResultSize - c.buf.Len(); len(p) > room {
		c.over = true
		c.buf.Write(p[:max(room, 0)])
	} else {
		c.buf.Write(p)
	}
	return len(p), nil
}

// record stores the output as the job's result.
func (c *resultCapture) record(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.over {
		return job.Permanent(fmt.Errorf("%w: the command wrote more than %d bytes to stdout; write large output elsewhere and print a reference to it", job.ErrResultTooLarge, job.MaxResultSize))
	}
	return recordOutput(ctx, c.buf.Bytes())
}

// recordOutput stores out (a command's stdout, a response body) as the
// job's result: as it is when it is JSON, as a JSON string otherwise.
func recordOutput(ctx context.Context, out []byte) error {
	trimmed := bytes.TrimSpace(out)
	var result any = json.RawMessage(trimmed)
	if len(trimmed) == 0 {
		result = nil
	} else if !json.Valid(trimmed) {
		result = strings.TrimSuffix(strings.ToValidUTF8(string(out), "\uFFFD"), "\n")
	}
	if err := job.RecordResult(ctx, result); err != nil {
		return job.Permanent(err)
	}
	return nil
}

// keepOutput sets cmd up to report the result and progress of a job that
// keeps its result, and returns the capture of its output and a function
// to call once it ended. For other jobs it changes nothing.
func keepOutput(ctx context.Context, cmd *exec.Cmd) (*resultCapture, func(), error) {
	if !job.KeepsResult(ctx) {
		return nil, func() {}, nil
	}
	capture := &resultCapture{}
	if cmd.Stdout != nil {
		cmd.Stdout = io.MultiWriter(cmd.Stdout, capture)
	} else {
		cmd.Stdout = capture
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("progress pipe: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, w)
	cmd.Env = append(cmd.Env, "JETJOBS_PROGRESS_FD="+strconv.Itoa(progressFD+len(cmd.ExtraFiles)-1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			frac, msg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
			if f, err := strconv.ParseFloat(frac, 64); err == nil {
				_ = job.Progress(ctx, f, msg)
			}
		}
	}()
	return capture, func() {
		// Lines still unread are dropped: the job's outcome follows.
		w.Close()
		r.Close()
		<-done
	}, nil
}
