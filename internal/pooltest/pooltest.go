package pooltest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/worker"
)

// Logger discards logs, or writes them at debug level to stderr when
// JETJOBS_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("JETJOBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start creates a pool on js with cfg (Logger() unless cfg has one), lets
// register add its handlers, starts it, and stops it at the end of the test.
func Start(tb testing.TB, js jetstream.JetStream, cfg worker.Config, register func(p *worker.Pool)) *worker.Pool {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = Logger()
	}
	p, err := worker.New(js, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	register(p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Stop(ctx)
	})
	return p
}
