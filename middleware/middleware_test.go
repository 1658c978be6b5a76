package middleware_test

import (
	"context"
	"errors"
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
