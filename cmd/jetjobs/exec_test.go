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
	h := execHandler{command: "sleep 30", stdout: io.Discard, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, func())
		want string
	}{
		{"canceled by ID", func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(200*time.Millisecond, func() { cancel(job.ErrCanceled) })
			// The pool puts the job's time limit on top of the cancel.
			ctx, stop := context.WithTimeout(ctx, time.Hour)
			return ctx, func() { stop(); cancel(nil) }
		}, "the job was canceled by ID (jetjobs cancel)"},
		{"time limit", func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, "the job's time limit passed"},
		{"shutdown", func() (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, "the worker is shutting down and --shutdown-timeout passed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := c.ctx()
			defer cancel()
			err := h.handle(ctx, &job.Job[json.RawMessage]{Info: &job.Info{ID: "j-1", Kind: "k", Queue: "q", Attempt: 1, MaxAttempts: 1}})
			if err == nil || !strings.HasPrefix(err.Error(), "command killed after ") || !strings.HasSuffix(err.Error(), ": "+c.want) {
				t.Errorf("error = %v, want it to say the command was killed because %s", err, c.want)
			}
		})
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
