package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// serverUI serves the dashboard next to an embedded server (server --ui,
// demo --ui) through an in-process connection, until ctx ends. The
// returned channel yields the dashboard's end: nil after ctx ended, or why
// it stopped. Without an address it yields nil when ctx ends.
func (a *app) serverUI(ctx context.Context, log *slog.Logger, srv *server.Server, opts *server.Options, topo job.Topology, listen string) (<-chan error, error) {
	done := make(chan error, 1)
	if listen == "" {
		go func() { <-ctx.Done(); done <- nil }()
		return done, nil
	}
	if opts != nil && authConfigured(opts) {
		return nil, usagef("--ui: the server requires authentication, which an in-process dashboard cannot give; run 'jetjobs ui' with credentials instead")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("jetjobs ui"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("dashboard: connect in process: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	go func() {
		defer nc.Close()
		done <- serveDashboard(ctx, a.stdout, log, js, uiOptions{listen: listen, topo: topo})
	}()
	return done, nil
}
