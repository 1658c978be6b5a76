package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// A command killed with its job's context says why the context ended:
// canceled by ID, its time limit, or the worker's shutdown.
func TestExecSaysWhyItKilledTheCommand(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "started")
	t.Setenv("MARK", mark)
	h := execHandler{command: `touch "$MARK"; sleep 30`, stdout: io.Discard, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		name string
		// ctx returns the job's context and what ends it once the
		// command runs (nil: its deadline does).
		ctx  func() (ctx context.Context, end, cleanup func())
		want string
	}{
		{"canceled by ID", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			// The pool puts the job's time limit on top of the cancel.
			limited, stop := context.WithTimeout(ctx, time.Hour)
			return limited, func() { cancel(job.ErrCanceled) }, func() { stop(); cancel(nil) }
		}, "the job was canceled by ID (jetjobs cancel)"},
		{"time limit", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			return ctx, nil, cancel
		}, "the job's time limit passed"},
		{"shutdown", func() (context.Context, func(), func()) {
			ctx, cancel := context.WithCancel(context.Background())
			return ctx, cancel, cancel
		}, "the worker is shutting down and --shutdown-timeout passed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(mark)
			ctx, end, cleanup := c.ctx()
			defer cleanup()
			done := make(chan error, 1)
			go func() {
				done <- h.handle(ctx, &job.Job[json.RawMessage]{Info: &job.Info{ID: "j-1", Kind: "k", Queue: "q", Attempt: 1, MaxAttempts: 1}})
			}()
			if end != nil {
				eventually(t, func() bool { _, err := os.Stat(mark); return err == nil }, "the command to start")
				end()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the command was not killed within 30s")
			}
			if err == nil || !strings.HasPrefix(err.Error(), "command killed after ") || !strings.HasSuffix(err.Error(), ": "+c.want) {
				t.Errorf("error = %v, want it to say the command was killed because %s", err, c.want)
			}
		})
	}
}

// A job canceled before its command started says so too.
func TestExecCanceledBeforeTheCommandStarted(t *testing.T) {
	h := execHandler{command: "true", stdout: io.Discard, log: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(job.ErrCanceled)
	err := h.handle(ctx, &job.Job[json.RawMessage]{Info: &job.Info{ID: "j-1", Kind: "k", Queue: "q", Attempt: 1, MaxAttempts: 1}})
	if want := "command not started: the job was canceled by ID (jetjobs cancel)"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

// Canceling a running --exec job kills its command and says it was
// canceled, not that the worker is shutting down.
func TestExecJobCanceledByID(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	startWorker(t, srv.URL(), []string{"OUT=" + out}, "--exec", `slow=touch "$OUT/started"; sleep 60`)
	ok(t, "enqueue", "-s", srv.URL(), "--id", "slow-1", "slow")
	eventually(t, func() bool { _, err := os.Stat(filepath.Join(out, "started")); return err == nil }, "the command to start")
	ok(t, "cancel", "-s", srv.URL(), "slow-1")
	var dls []deadLetterJSON
	eventually(t, func() bool { dls = deadLetters(t, srv.URL()); return len(dls) == 1 }, "the canceled job to be dead-lettered")
	if dls[0].Reason != "canceled" || !strings.Contains(dls[0].Error, "command killed after") || !strings.Contains(dls[0].Error, "canceled by ID") ||
		strings.Contains(dls[0].Error, "shutting down") {
		t.Errorf("dead letter: reason %s, error %q; want it canceled by ID", dls[0].Reason, dls[0].Error)
	}
}
