package jetjobstest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// Server is an embedded NATS server with JetStream for one test, with a
// connection to it and a job client of its namespace. Create it with
// StartServer.
type Server struct {
	srv    *server.Server
	js     jetstream.JetStream
	client *job.Client
	topo   job.Topology // with defaults
	asked  job.Topology // as given
	auth   []nats.Option
}

// ServerOption configures StartServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	topo      job.Topology
	user      string
	password  string
	configure []func(*server.Options)
}

// WithTopology makes the server's streams, and its client, those of
// namespace t (see job.Topology) instead of the default JOBS.
func WithTopology(t job.Topology) ServerOption {
	return func(c *serverConfig) { c.topo = t }
}

// WithAuth makes the server require user and password; the server's own
// connection and Connect use them.
func WithAuth(user, password string) ServerOption {
	return func(c *serverConfig) { c.user, c.password = user, password }
}

// WithServerOptions lets configure change the nats-server options before
// the server starts (limits, TLS, accounts). Host, port and store are set
// already: 127.0.0.1, a random port, tb.TempDir().
func WithServerOptions(configure func(*server.Options)) ServerOption {
	return func(c *serverConfig) { c.configure = append(c.configure, configure) }
}

// StartServer starts a NATS server with JetStream on a random loopback
// port with its store in tb.TempDir(), connects to it, and creates the
// streams of the namespace (job.Topology.Ensure), so jobs can be enqueued
// at once. The connection closes and the server shuts down when the test
// ends (tb.Cleanup). It fails the test if the server does not start.
func StartServer(tb testing.TB, opts ...ServerOption) *Server {
	tb.Helper()
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	sopts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
		Username:  cfg.user,
		Password:  cfg.password,
	}
	for _, c := range cfg.configure {
		c(sopts)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		tb.Fatalf("jetjobstest: new server: %v", err)
		return nil
	}
	srv.Start()
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatalf("jetjobstest: the server was not ready for connections within 10s")
		return nil
	}
	s := &Server{srv: srv, topo: cfg.topo.WithDefaults(), asked: cfg.topo}
	if cfg.user != "" || cfg.password != "" {
		s.auth = []nats.Option{nats.UserInfo(cfg.user, cfg.password)}
	}
	s.js = s.Connect(tb)
	if s.js == nil {
		return nil
	}
	s.client, err = job.NewClient(s.js, job.ClientConfig{Topology: cfg.topo})
	if err != nil {
		tb.Fatalf("jetjobstest: %v", err)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.EnsureTopology(ctx); err != nil {
		tb.Fatalf("jetjobstest: create the streams of %s: %v", s.topo.Stream, err)
		return nil
	}
	return s
}

// URL is the server's client URL, for processes and connections of the
// test's own.
func (s *Server) URL() string { return s.srv.ClientURL() }

// JetStream returns the server's connection's JetStream context: give it
// to worker.New and job.NewClient.
func (s *Server) JetStream() jetstream.JetStream { return s.js }

// Client returns a job client of the server's namespace, for enqueues and
// for the Require functions.
func (s *Server) Client() *job.Client { return s.client }

// Topology returns the server's namespace with defaults applied.
func (s *Server) Topology() job.Topology { return s.topo }

// Connect opens another connection to the server (with WithAuth's
// credentials, then opts), closed when the test ends, and returns its
// JetStream context. It reconnects forever, as a production worker's
// should, in case the test restarts things.
func (s *Server) Connect(tb testing.TB, opts ...nats.Option) jetstream.JetStream {
	tb.Helper()
	all := append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, s.auth...)
	nc, err := nats.Connect(s.URL(), append(all, opts...)...)
	if err != nil {
		tb.Fatalf("jetjobstest: connect to %s: %v", s.URL(), err)
		return nil
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetjobstest: %v", err)
		return nil
	}
	return js
}
