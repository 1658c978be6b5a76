package integration

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

const (
	logPassword = "log-pw-Secret-77"
	logMarker   = "PAYLOAD-MARKER-9731"
)

// At the default level (info) neither the CLI nor a pool logs a credential
// or anything of a job's payload: not for successes, failures, dead
// letters, undecodable payloads or panics, and not when the password is in
// the server URL.
func TestNoCredentialOrPayloadInInfoLogs(t *testing.T) {
	srv := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "app", logPassword })
	url := srv.URL()
	urlWithPassword := strings.Replace(url, "nats://", "nats://app:"+logPassword+"@", 1)
	auth := []string{"--user", "app", "--password", logPassword}

	_, js := srv.Connect(t, nats.UserInfo("app", logPassword))
	c, err := job.NewClient(js, job.ClientConfig{})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	must(t, c.EnsureTopology(ctx))

	// The CLI: a worker that succeeds, fails until dead letters, and meets
	// an undecodable payload; one more worker with the password in its URL.
	recDir := t.TempDir()
	w1 := startCLIWorker(t, recDir, "log1", append([]string{"-s", url, "--log-level", "info", "--max-attempts", "2",
		"--retry-initial", "100ms", "--retry-max", "200ms",
		"--exec", `fail=cat >/dev/null; echo "smtp: connection refused" >&2; exit 3`}, auth...)...)
	w2 := startCLIWorker(t, recDir, "log2", "-s", urlWithPassword, "--log-level", "info")
	payload := `{"card":"` + logMarker + `"}`
	var cliErr strings.Builder
	for _, kind := range []string{"work", "fail"} {
		_, stderr, code := runCLI(t, append([]string{"enqueue", "-s", url, "--log-format", "json", kind, payload}, auth...)...)
		if code != 0 {
			t.Fatalf("enqueue: %s", stderr)
		}
		cliErr.WriteString(stderr)
	}
	if _, err := js.Publish(ctx, "jobs.default.work", []byte(`{"card":"`+logMarker)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool {
		dls, err := c.DeadLetters(ctx, job.DeadLetterFilter{})
		st, serr := js.Stream(ctx, "JOBS")
		return err == nil && len(dls) == 2 && serr == nil && st.CachedInfo().State.Msgs == 0
	}, "the failing and the undecodable job dead-lettered")
	for _, w := range []*proc{w1, w2} {
		w.signal(syscall.SIGTERM)
		if _, ok := w.wait(20 * time.Second); !ok {
			t.Fatalf("%s did not stop", w.name)
		}
	}
	_, stderr, _ := runCLI(t, append([]string{"dlq", "ls", "-s", url, "--log-level", "info"}, auth...)...)
	cliErr.WriteString(stderr)
	logs := w1.log() + w2.log() + cliErr.String()
	if !strings.Contains(w1.log(), `"level":"ERROR"`) || !strings.Contains(w2.log(), "xxxxx") {
		t.Fatalf("the CLI logs do not show the failures and the redacted URL this test expects:\n%s", logs)
	}
	for _, secret := range []string{logPassword, logMarker} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q appears in the CLI's info logs:\n%s", secret, logs)
		}
	}

	// A pool in a program, logging JSON at info.
	var buf lockedBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := worker.New(js, worker.Config{Logger: log, Queues: map[string]worker.QueueConfig{"lib": {}}, MaxAttempts: 1})
	must(t, err)
	must(t, worker.Handle(p, "ok", func(context.Context, *job.Job[map[string]string]) error { return nil }))
	must(t, worker.Handle(p, "fail", func(context.Context, *job.Job[map[string]string]) error { return errors.New("upstream said no") }))
	must(t, worker.Handle(p, "panic", func(context.Context, *job.Job[map[string]string]) error { panic("handler bug") }))
	must(t, worker.Handle(p, "decode", func(context.Context, *job.Job[map[string]int]) error { return nil }))
	must(t, p.Start(ctx))
	var ids []string
	for _, kind := range []string{"ok", "fail", "panic", "decode"} {
		r, err := c.Enqueue(ctx, kind, map[string]string{"card": logMarker}, job.Queue("lib"))
		must(t, err)
		ids = append(ids, r.ID)
	}
	waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool {
		dls, err := c.DeadLetters(ctx, job.DeadLetterFilter{Queue: "lib"})
		return err == nil && len(dls) == 3
	}, "three dead letters of the pool")
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	must(t, p.Stop(sctx))
	if out := buf.String(); strings.Contains(out, logMarker) || strings.Contains(out, logPassword) {
		t.Errorf("a secret appears in the pool's info logs:\n%s", out)
	} else if !strings.Contains(out, ids[1]) {
		t.Errorf("the pool's logs do not show the failed job %s:\n%s", ids[1], out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
