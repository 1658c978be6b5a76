package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newServerCommand) }

// defaultStore is the server's store directory, under the current directory.
const defaultStore = "jetjobs-data"

type serverFlags struct {
	listen     string
	store      string
	syncAlways bool
	config     string
}

func newServerCommand(a *app) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run an embedded NATS server with JetStream",
		Long: `Run a NATS server with JetStream for development and small installs, and create
the jetjobs streams in it. Jobs are stored in --store (default ./` + defaultStore + `)
and survive restarts. SIGINT or SIGTERM shuts it down cleanly.

By default the server fsyncs its store every 2 minutes, so an OS crash or power
loss can lose jobs acknowledged since the last sync; --sync-always fsyncs every
write, for installations that cannot lose a job. --listen 127.0.0.1:0 picks a
free port; the first line printed names the URL.

For production beyond one machine, run a NATS cluster and streams with 3
replicas; --config takes a nats-server configuration file for auth, TLS and
clustering (flags given explicitly override it), and --replicas 3 creates the
streams with 3 replicas. Without --replicas, existing streams keep theirs.`,
		Example: `  jetjobs server
  jetjobs server --listen 0.0.0.0:4222 --store /var/lib/jetjobs --sync-always
  jetjobs server --config nats.conf
  jetjobs server --config cluster.conf --replicas 3`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.listen, "listen", "l", "127.0.0.1:4222", "host:port to accept clients on (port 0: a free port)")
	fl.StringVar(&f.store, "store", defaultStore, "directory of the JetStream store")
	fl.BoolVar(&f.syncAlways, "sync-always", false, "fsync every write (slower; no acknowledged job is lost on an OS crash)")
	fl.StringVar(&f.config, "config", "", "nats-server configuration file")
	a.topo.add(cmd)
	a.topo.addReplicas(cmd, true)
	return cmd
}

func (a *app) serve(cmd *cobra.Command, f serverFlags) error {
	ctx := cmd.Context()
	topo, err := a.topo.topology()
	if err != nil {
		return err
	}
	opts := &server.Options{}
	if f.config != "" {
		if opts, err = server.ProcessConfigFile(f.config); err != nil {
			return usagef("--config %s: %w", f.config, err)
		}
	}
	changed := cmd.Flags().Changed
	if f.config == "" || changed("listen") {
		host, port, err := parseListen(f.listen)
		if err != nil {
			return err
		}
		opts.Host, opts.Port = host, port
	}
	if f.config == "" || changed("store") || opts.StoreDir == "" {
		opts.StoreDir = f.store
	}
	store, err := filepath.Abs(opts.StoreDir)
	if err != nil {
		return fmt.Errorf("--store %s: %w", opts.StoreDir, err)
	}
	opts.StoreDir = store
	if changed("sync-always") {
		opts.SyncAlways = f.syncAlways
	}
	opts.JetStream = true
	opts.NoSigs = true // signals are handled here
	if opts.ServerName == "" {
		opts.ServerName = "jetjobs"
	}

	srv, err := startServer(opts, a.log)
	if err != nil {
		return err
	}
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "server stopped")
	}()

	if authConfigured(opts) {
		// An in-process client would need credentials too; the first worker
		// or enqueue creates the streams instead.
		msg := "authentication is configured: the jetjobs streams are created by the first worker or enqueue"
		if topo.Replicas != 0 {
			msg += "; give them --replicas too"
		}
		a.log.LogAttrs(ctx, slog.LevelInfo, msg)
	} else if err := ensureTopologyInProcess(ctx, srv, topo); err != nil {
		return err
	}
	sync := "fsync every " + durationOr(opts.SyncInterval, 2*time.Minute).String() + "; --sync-always to fsync every write"
	if opts.SyncAlways {
		sync = "fsync every write"
	}
	fmt.Fprintf(a.stdout, "jetjobs server listening on %s\nstore: %s (%s)\n", srv.ClientURL(), store, sync)
	a.log.LogAttrs(ctx, slog.LevelInfo, "server ready", slog.String("url", srv.ClientURL()), slog.String("store", store),
		slog.Bool("sync_always", opts.SyncAlways))

	select {
	case <-ctx.Done():
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "shutting down")
		return nil
	case <-waitShutdown(srv):
		return fmt.Errorf("the server stopped by itself")
	}
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// parseListen splits host:port; port 0 means a free port.
func parseListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, usagef("--listen %q: use host:port, such as 127.0.0.1:4222", listen)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, usagef("--listen %q: the port must be a number from 0 to 65535", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// startServer starts a NATS server with opts, logging through log.
func startServer(opts *server.Options, log *slog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(opts.StoreDir, 0o755); err != nil && opts.StoreDir != "" {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start the NATS server: %w", err)
	}
	srv.SetLoggerV2(serverLog{log.With(slog.String("component", "nats-server"))}, log.Enabled(context.Background(), slog.LevelDebug), false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if !opts.DontListen {
			return nil, fmt.Errorf("the NATS server did not start listening on %s:%d within 10s (is the port in use? try --listen 127.0.0.1:0)", opts.Host, opts.Port)
		}
		return nil, fmt.Errorf("the NATS server did not start within 10s")
	}
	return srv, nil
}

func waitShutdown(srv *server.Server) <-chan struct{} {
	done := make(chan struct{})
	go func() { srv.WaitForShutdown(); close(done) }()
	return done
}

// authConfigured reports whether clients must authenticate.
func authConfigured(o *server.Options) bool {
	return o.Authorization != "" || o.Username != "" || len(o.Users) > 0 || len(o.Nkeys) > 0 ||
		len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 || o.AuthCallout != nil || o.CustomClientAuthentication != nil
}

// ensureTopologyInProcess creates the jetjobs streams through an in-process
// connection, so jobs can be enqueued before any worker starts.
func ensureTopologyInProcess(ctx context.Context, srv *server.Server, topo job.Topology) error {
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		return fmt.Errorf("connect to the embedded server: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := topo.Ensure(ctx, js); err != nil {
		return fmt.Errorf("create the jetjobs streams: %w", err)
	}
	return nil
}

// serverLog routes nats-server's logs to slog.
type serverLog struct{ log *slog.Logger }

func (l serverLog) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
