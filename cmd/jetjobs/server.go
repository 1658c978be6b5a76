package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
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
	allowOpen  bool
	ui         string
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
streams with 3 replicas. Without --replicas, existing streams keep theirs.

A server that other machines can reach (--listen 0.0.0.0:4222, or a --config
without a host) must require authentication, set up with --config (see
docs/security.md): without it the server refuses to start, unless
--allow-open says that anyone who reaches the port may read, change and delete
every job.`,
		Example: `  jetjobs server
  jetjobs server --config auth.conf --listen 0.0.0.0:4222 --store /var/lib/jetjobs --sync-always
  jetjobs server --config nats.conf
  jetjobs server --config cluster.conf --replicas 3
  jetjobs server --ui 127.0.0.1:8090`,
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
	fl.BoolVar(&f.allowOpen, "allow-open", false, "start without authentication on an address other machines can reach")
	fl.StringVar(&f.ui, "ui", "", "also serve the web dashboard on this host:port, such as "+defaultUIListen+" (see jetjobs ui)")
	a.topo.add(cmd)
	a.topo.addReplicas(cmd, true)
	a.topo.addDeadLetterMaxAge(cmd)
	return cmd
}

func (a *app) serve(cmd *cobra.Command, f serverFlags) error {
	ctx := cmd.Context()
	topo, err := a.topology()
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
	if f.ui != "" {
		if err := checkDashboardListen("--ui", f.ui, false, f.allowOpen); err != nil {
			return err
		}
	}
	open := !authConfigured(opts) && !opts.TLSVerify && !loopback(opts.Host)
	if open && !f.allowOpen {
		where := "--listen " + f.listen
		if !changed("listen") {
			where = fmt.Sprintf("--config %s: host %s", f.config, hostOr(opts.Host))
		}
		return usagef("%s: other machines can reach this address and no authentication is configured, so anyone who reaches the port could read, change and delete every job: set up authentication with --config (docs/security.md), listen on 127.0.0.1, or pass --allow-open to run an open server anyway", where)
	}
	opts.JetStream = true
	opts.NoSigs = true // signals are handled here
	if opts.ServerName == "" {
		opts.ServerName = "jetjobs"
	}

	srv, err := startServer(ctx, opts, a.log)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// A signal during startup: the server is shut down; that is what
		// the signal asked for.
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "interrupted while starting; server stopped")
		return nil
	}
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
		if ctx.Err() != nil {
			a.log.LogAttrs(context.Background(), slog.LevelInfo, "interrupted while starting; shutting down")
			return nil
		}
		return err
	}
	if open {
		a.log.LogAttrs(ctx, slog.LevelWarn, "open server: no authentication, and other machines can reach it (--allow-open); anyone who reaches the port can read, change and delete every job",
			slog.String("url", srv.ClientURL()))
	}
	sync := "fsync every " + durationOr(opts.SyncInterval, 2*time.Minute).String() + "; --sync-always to fsync every write"
	if opts.SyncAlways {
		sync = "fsync every write"
	}
	fmt.Fprintf(a.stdout, "jetjobs server listening on %s\nstore: %s (%s)\n", srv.ClientURL(), store, sync)
	a.log.LogAttrs(ctx, slog.LevelInfo, "server ready", slog.String("url", srv.ClientURL()), slog.String("store", store),
		slog.Bool("sync_always", opts.SyncAlways))

	uiDone, err := a.serverUI(ctx, a.log, srv, opts, topo, f.ui)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "shutting down")
		return <-uiDone
	case err := <-uiDone:
		return err
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

// startTimeout bounds how long a started server may take to accept
// clients once Start returned (JetStream recovers its store before that).
const startTimeout = 10 * time.Second

// startServer starts a NATS server with opts, logging through log, and
// waits until it accepts clients. It fails at once when the client port is
// taken or the server reports that it cannot start (another of its ports
// taken, a store it cannot use), and returns ctx's error, having shut the
// server down, when ctx ends first.
func startServer(ctx context.Context, opts *server.Options, log *slog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(opts.StoreDir, 0o755); err != nil && opts.StoreDir != "" {
		return nil, fmt.Errorf("store directory: %w", err)
	}
	if err := checkPortFree(opts); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start the NATS server: %w", err)
	}
	fatal := &startupFatal{ch: make(chan string, 1)}
	srv.SetLoggerV2(serverLog{log: log.With(slog.String("component", "nats-server")), fatal: fatal},
		log.Enabled(context.Background(), slog.LevelDebug), false, false)
	startDone := make(chan struct{})
	go func() {
		srv.Start()
		close(startDone)
	}()
	stop := func() {
		// Shut down once Start returned; but Start may take long
		// (JetStream recovering a large store), and the process is about
		// to exit: do not wait for it longer than a moment.
		done := make(chan struct{})
		go func() {
			<-startDone
			srv.Shutdown()
			srv.WaitForShutdown()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	}
	started := startDone // nil once Start returned
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var deadline <-chan time.Time
	for {
		select {
		case msg := <-fatal.ch:
			stop()
			return nil, fmt.Errorf("the NATS server could not start: %s", msg)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-started:
			started, deadline = nil, time.After(startTimeout)
		case <-deadline:
			stop()
			if !opts.DontListen {
				return nil, fmt.Errorf("the NATS server did not start listening on %s:%d within %s", opts.Host, opts.Port, startTimeout)
			}
			return nil, fmt.Errorf("the NATS server did not start within %s", startTimeout)
		case <-tick.C:
		}
		if ctx.Err() == nil && started == nil && srv.ReadyForConnections(30*time.Millisecond) {
			fatal.started.Store(true)
			select {
			case msg := <-fatal.ch: // just before
				stop()
				return nil, fmt.Errorf("the NATS server could not start: %s", msg)
			default:
			}
			return srv, nil
		}
	}
}

// checkPortFree fails if the server's client port is taken: the server
// itself would only log that and never become ready.
func checkPortFree(opts *server.Options) error {
	if opts.DontListen || opts.Port == server.RANDOM_PORT {
		return nil
	}
	host, port := opts.Host, opts.Port
	if host == "" {
		host = server.DEFAULT_HOST
	}
	if port == 0 {
		port = server.DEFAULT_PORT
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is in use; is a server running there already? Stop it, or choose another address with --listen (127.0.0.1:0 picks a free port)", addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln.Close()
}

func waitShutdown(srv *server.Server) <-chan struct{} {
	done := make(chan struct{})
	go func() { srv.WaitForShutdown(); close(done) }()
	return done
}

// loopback reports whether host, a listen address, accepts clients of
// this machine alone. The empty host is every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hostOr is host, or the address of every interface for the empty host.
func hostOr(host string) string {
	if host == "" {
		return server.DEFAULT_HOST
	}
	return host
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

// serverLog routes nats-server's logs to slog. The server reports that it
// cannot start (a port taken, a store it cannot use) with Fatalf, and then
// carries on without that part: the first such report goes to fatal, for
// startServer to fail with, and later ones to the log.
type serverLog struct {
	log   *slog.Logger
	fatal *startupFatal
}

// startupFatal takes the first Fatalf of a starting server.
type startupFatal struct {
	ch      chan string
	started atomic.Bool // no one reads ch any more
}

func (l serverLog) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l serverLog) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if l.fatal != nil && !l.fatal.started.Load() {
		select {
		case l.fatal.ch <- msg:
			return
		default:
		}
	}
	l.log.Error(msg)
}
func (l serverLog) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLog) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLog) Tracef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
