package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

// connFlags are the connection flags, named as the nats CLI names them.
type connFlags struct {
	server          string
	creds           string
	user, password  string
	token           string
	nkey            string
	tlsCert, tlsKey string
	tlsCA           string
	connectTimeout  time.Duration
}

// addConnFlags adds the connection and namespace flags to cmd and its
// subcommands.
func (a *app) addConnFlags(cmd *cobra.Command) {
	a.addServerFlags(cmd)
	a.topo.add(cmd)
}

// addServerFlags adds the connection flags alone, for a command that works
// in a namespace of its own (bench).
func (a *app) addServerFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&a.conn.server, "server", "s", envOr("NATS_URL", nats.DefaultURL), "NATS server URLs, comma-separated (env NATS_URL)")
	f.StringVar(&a.conn.creds, "creds", "", "user credentials file")
	f.StringVar(&a.conn.user, "user", "", "user name or token")
	f.StringVar(&a.conn.password, "password", "", "password")
	f.StringVar(&a.conn.token, "token", "", "authentication token")
	f.StringVar(&a.conn.nkey, "nkey", "", "user NKey seed file")
	f.StringVar(&a.conn.tlsCert, "tlscert", "", "TLS client certificate file")
	f.StringVar(&a.conn.tlsKey, "tlskey", "", "TLS client private key file")
	f.StringVar(&a.conn.tlsCA, "tlsca", "", "TLS certificate authority file, to verify the server")
	f.DurationVar(&a.conn.connectTimeout, "connect-timeout", 5*time.Second, "how long to try to connect")
}

// connect connects to NATS with the connection flags. A long-running
// command (worker) passes reconnect=true: it then reconnects forever after
// the first connection, logging each loss and recovery. The first
// connection is never retried, so an unreachable server is one clear error.
func (a *app) connect(ctx context.Context, name string, reconnect bool) (*nats.Conn, jetstream.JetStream, error) {
	opts := []nats.Option{
		nats.Name("jetjobs " + name),
		nats.Timeout(a.conn.connectTimeout),
	}
	if reconnect {
		opts = append(opts,
			nats.MaxReconnects(-1),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					a.log.LogAttrs(context.Background(), slog.LevelWarn, "disconnected from NATS; reconnecting", slog.String("error", err.Error()))
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				a.log.LogAttrs(context.Background(), slog.LevelInfo, "reconnected to NATS", slog.String("url", nc.ConnectedUrlRedacted()))
			}),
		)
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	c := a.conn
	if c.creds != "" {
		opts = append(opts, nats.UserCredentials(c.creds))
	}
	if c.user != "" {
		opts = append(opts, nats.UserInfo(c.user, c.password))
	}
	if c.token != "" {
		opts = append(opts, nats.Token(c.token))
	}
	if c.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(c.nkey)
		if err != nil {
			return nil, nil, usagef("--nkey %s: %w", c.nkey, err)
		}
		opts = append(opts, o)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, nil, usagef("--tlscert and --tlskey go together; give both or neither")
	}
	if c.tlsCert != "" {
		opts = append(opts, nats.ClientCert(c.tlsCert, c.tlsKey))
	}
	if c.tlsCA != "" {
		opts = append(opts, nats.RootCAs(c.tlsCA))
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(c.server, opts...)
		done <- result{nc, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() { // do not leave a late connection open
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, nil, ctx.Err()
	}
	if r.err != nil {
		return nil, nil, fmt.Errorf("cannot connect to NATS at %s: %w (start a server with `jetjobs server`, or point -s/--server or NATS_URL at yours)", c.server, r.err)
	}
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.nc.Close()
		return nil, nil, err
	}
	return r.nc, js, nil
}

// client connects and returns an enqueue client of the namespace. The
// caller closes the connection.
func (a *app) client(ctx context.Context, name string) (*nats.Conn, *job.Client, error) {
	topo := a.topo.topology()
	if err := topo.Validate(); err != nil {
		return nil, nil, usageError{err}
	}
	nc, js, err := a.connect(ctx, name, false)
	if err != nil {
		return nil, nil, err
	}
	c, err := job.NewClient(js, job.ClientConfig{Topology: topo})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, c, nil
}
