package natstest

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is an embedded NATS server with JetStream.
type Server struct {
	*server.Server
	Opts *server.Options
}

// Start starts a server on a random loopback port with a store in
// t.TempDir(); configure may change its options. The server shuts down at
// the end of the test.
func Start(tb testing.TB, configure ...func(*server.Options)) *Server {
	tb.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	for _, c := range configure {
		c(opts)
	}
	s := &Server{Opts: opts}
	s.start(tb)
	tb.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	srv, err := server.NewServer(s.Opts)
	if err != nil {
		tb.Fatalf("natstest: new server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatalf("natstest: server not ready within 10s")
	}
	// Pin the port so a restart comes back where clients reconnect.
	s.Opts.Port = srv.Addr().(*net.TCPAddr).Port
	s.Server = srv
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.ClientURL() }

// Restart shuts the server down and starts it again on the same port and
// store, as after a crash-free restart.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Shutdown()
	s.start(tb)
}

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	if s.Server == nil {
		return
	}
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Connect returns a connection that reconnects forever (as production
// workers should) and a JetStream context on it; both close at cleanup.
func (s *Server) Connect(tb testing.TB, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	opts = append([]nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ReconnectJitter(0, 0),
	}, opts...)
	nc, err := nats.Connect(s.URL(), opts...)
	if err != nil {
		tb.Fatalf("natstest: connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("natstest: jetstream: %v", err)
	}
	return nc, js
}

// Eventually calls cond every 10ms until it returns true, failing the test
// with msg if that takes longer than timeout.
func Eventually(tb testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("natstest: condition not met within %s: "+msg, append([]any{timeout}, args...)...)
		}
		<-t.C
	}
}

// ForExample starts a server in a temporary directory for runnable Example
// functions, which have no testing.TB, and returns a JetStream context on
// it and a function that stops everything and removes the directory.
func ForExample() (jetstream.JetStream, func()) {
	dir, err := os.MkdirTemp("", "jetjobs-example-")
	if err != nil {
		panic(err)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true})
	if err != nil {
		panic(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		panic("natstest: example server not ready within 10s")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		panic(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		panic(err)
	}
	return js, func() {
		nc.Close()
		srv.Shutdown()
		srv.WaitForShutdown()
		os.RemoveAll(dir)
	}
}
