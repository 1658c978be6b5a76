package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/middleware"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func info() *job.Info {
	return &job.Info{ID: "j1", Queue: "default", Kind: "email.send", Attempt: 1, MaxAttempts: 3, Payload: []byte(`{"secret":"s3cr3t"}`)}
}

func TestRecoverTurnsPanicIntoError(t *testing.T) {
	var buf bytes.Buffer
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { panic("boom") }),
		middleware.Recover(slog.New(slog.NewJSONHandler(&buf, nil))))
	err := h.Handle(context.Background(), info())
	var pe *job.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(buf.String(), `"job_id":"j1"`) || !strings.Contains(buf.String(), "stack") {
		t.Fatalf("log = %s", buf.String())
	}
}

func TestLoggingLevelsAndNoPayload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		attempt int
		err     error
		level   string
		msg     string
	}{
		{"success", 1, nil, "DEBUG", "job succeeded"},
		{"retry", 1, errors.New("x"), "WARN", "job failed, will retry"},
		{"last attempt", 3, errors.New("x"), "ERROR", "job failed on its last attempt"},
		{"permanent", 1, job.Permanent(errors.New("x")), "ERROR", "job failed permanently"},
		{"snooze", 1, job.Snooze(time.Second), "INFO", "job snoozed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			in := info()
			in.Attempt = tc.attempt
			h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return tc.err }), middleware.Logging(logger))
			if err := h.Handle(context.Background(), in); err != tc.err {
				t.Fatalf("error changed: %v", err)
			}
			out := buf.String()
			for _, want := range []string{`"level":"` + tc.level + `"`, `"msg":"` + tc.msg + `"`, `"job_id":"j1"`, `"queue":"default"`, `"kind":"email.send"`, `"attempt":`, `"duration":`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s: %s", want, out)
				}
			}
			if strings.Contains(out, "s3cr3t") {
				t.Errorf("payload logged: %s", out)
			}
		})
	}
}

func TestLoggingSkipsDisabledLevels(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { return nil }), middleware.Logging(logger))
	_ = h.Handle(context.Background(), info())
	if buf.Len() != 0 {
		t.Fatalf("success logged at info level: %s", buf.String())
	}
}

func TestTimeout(t *testing.T) {
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, _ *job.Info) error {
		<-ctx.Done()
		return ctx.Err()
	}), middleware.Timeout(20*time.Millisecond))
	if err := h.Handle(context.Background(), info()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// A job's own timeout wins: the middleware leaves the context alone.
	in := info()
	in.Timeout = time.Hour
	h = job.Chain(job.HandlerFunc(func(ctx context.Context, _ *job.Info) error {
		if _, ok := ctx.Deadline(); ok {
			return errors.New("middleware set a deadline over the job's own timeout")
		}
		return nil
	}), middleware.Timeout(20*time.Millisecond))
	if err := h.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) job.Middleware {
		return func(next job.Handler) job.Handler {
			return job.HandlerFunc(func(ctx context.Context, i *job.Info) error {
				order = append(order, name)
				return next.Handle(ctx, i)
			})
		}
	}
	h := job.Chain(job.HandlerFunc(func(context.Context, *job.Info) error { order = append(order, "handler"); return nil }), mw("a"), nil, mw("b"))
	_ = h.Handle(context.Background(), info())
	if strings.Join(order, ",") != "a,b,handler" {
		t.Fatalf("order = %v", order)
	}
}

func TestLoggingInterruptedIsNotAFailure(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	in := info()
	in.Attempt = in.MaxAttempts
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, _ *job.Info) error {
		cancel()
		return ctx.Err()
	}), middleware.Logging(logger))
	_ = h.Handle(ctx, in)
	if !strings.Contains(buf.String(), `"level":"WARN"`) || !strings.Contains(buf.String(), "job interrupted") {
		t.Fatalf("log = %s", buf.String())
	}
}

func TestLoggingCanceledByID(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	ctx, cancel := context.WithCancelCause(context.Background())
	h := job.Chain(job.HandlerFunc(func(ctx context.Context, _ *job.Info) error {
		cancel(job.ErrCanceled)
		return ctx.Err()
	}), middleware.Logging(logger))
	_ = h.Handle(ctx, info())
	if !strings.Contains(buf.String(), `"msg":"job canceled"`) {
		t.Fatalf("log = %s", buf.String())
	}
}
