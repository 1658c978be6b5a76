package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
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
	inboxPrefix     string
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
	f.StringVar(&a.conn.inboxPrefix, "inbox-prefix", "", "prefix of reply subjects instead of _INBOX, for users allowed to subscribe only under their own (see docs/security.md)")
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
		// Errors the server reports later, such as a permission violation,
		// go to the log (nats.go would print them raw to stderr): a missing
		// permission otherwise looks like a request that times out.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []slog.Attr{slog.String("error", redact(err.Error()))}
			if sub != nil {
				attrs = append(attrs, slog.String("subject", sub.Subject))
			}
			a.log.LogAttrs(context.Background(), slog.LevelWarn, "NATS reported an error", attrs...)
		}),
	}
	if reconnect {
		opts = append(opts,
			nats.MaxReconnects(-1),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					a.log.LogAttrs(context.Background(), slog.LevelWarn, "disconnected from NATS; reconnecting", slog.String("error", redact(err.Error())))
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				a.log.LogAttrs(context.Background(), slog.LevelInfo, "reconnected to NATS", slog.String("url", redact(nc.ConnectedUrl())))
			}),
		)
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	c := a.conn
	if err := c.check(); err != nil {
		return nil, nil, err
	}
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
	// Options that read files or check their value fail here as usage
	// errors naming their flag, rather than as a failed connection.
	checked := func(o nats.Option, what string) error {
		if err := o(&nats.Options{}); err != nil {
			return usagef("%s: %w", what, err)
		}
		opts = append(opts, o)
		return nil
	}
	if c.tlsCert != "" {
		if err := checked(nats.ClientCert(c.tlsCert, c.tlsKey), "--tlscert, --tlskey"); err != nil {
			return nil, nil, err
		}
	}
	if c.tlsCA != "" {
		if err := checked(nats.RootCAs(c.tlsCA), "--tlsca"); err != nil {
			return nil, nil, err
		}
	}
	if c.inboxPrefix != "" {
		if err := checked(nats.CustomInboxPrefix(c.inboxPrefix), fmt.Sprintf("--inbox-prefix %q", c.inboxPrefix)); err != nil {
			return nil, nil, err
		}
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
		return nil, nil, &connectError{servers: redact(c.server), err: r.err, hint: c.connectHint(r.err)}
	}
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.nc.Close()
		return nil, nil, err
	}
	a.server = redact(r.nc.ConnectedUrl())
	a.serverJS, _ = r.nc.ConnectedServerJetStream()
	return r.nc, js, nil
}

// urlSchemes are the URL schemes nats.go connects with.
var urlSchemes = []string{"nats", "tls", "ws", "wss"}

// check checks the values of the connection flags that nats.go would
// only refuse when it connects, or would report in its own terms: bad
// input is a usage error that names its flag.
func (c connFlags) check() error {
	if strings.TrimSpace(c.server) == "" {
		return usagef("-s/--server is empty: give a NATS URL such as nats://127.0.0.1:4222 (env NATS_URL)")
	}
	for u := range strings.SplitSeq(c.server, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			return usagef("-s/--server %q: an empty URL between commas", redact(c.server))
		}
		if scheme, _, ok := strings.Cut(u, "://"); ok && !slices.Contains(urlSchemes, strings.ToLower(scheme)) {
			return usagef("-s/--server %q: the URL scheme %q is not supported; use nats://, tls://, ws:// or wss://", redact(u), scheme)
		}
	}
	if c.connectTimeout <= 0 {
		return usagef("--connect-timeout %s: use a positive duration, such as 5s", c.connectTimeout)
	}
	if c.creds != "" {
		// nats.go reads the file only when it connects: check it first, so
		// that a wrong path or file is not reported as a failed connection.
		if err := checkCreds(c.creds); err != nil {
			return err
		}
	}
	if c.inboxPrefix != "" {
		// nats.go refuses wildcards and a trailing dot, not spaces or
		// empty tokens, which the server then refuses as an invalid
		// subject of every request.
		for tok := range strings.SplitSeq(c.inboxPrefix, ".") {
			if tok == "" || strings.ContainsAny(tok, "*>") || strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
				return usagef("--inbox-prefix %q: use a subject of dot-separated tokens without spaces or wildcards, such as _INBOX_mail_worker", c.inboxPrefix)
			}
		}
	}
	return nil
}

// checkCreds checks that path is a credentials file: a user JWT and the
// user's NKey seed, as nsc writes them.
func checkCreds(path string) error {
	contents, err := os.ReadFile(path)
	if err != nil {
		return usagef("--creds: %w", err)
	}
	defer clear(contents) // it holds a secret
	if !bytes.Contains(contents, []byte("BEGIN NATS USER JWT")) {
		return usagef("--creds %s: not a NATS credentials file: it has no user JWT (a credentials file holds a user JWT and its NKey seed, as 'nsc generate creds' writes it)", path)
	}
	if _, err := nkeys.ParseDecoratedUserNKey(contents); err != nil {
		return usagef("--creds %s: not a NATS credentials file: it has no user NKey seed: %v", path, err)
	}
	return nil
}

// client connects and returns an enqueue client of the namespace. The
// caller closes the connection.
func (a *app) client(ctx context.Context, name string, configure ...func(*job.ClientConfig)) (*nats.Conn, *job.Client, error) {
	topo, err := a.topology()
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := a.connect(ctx, name, false)
	if err != nil {
		return nil, nil, err
	}
	cfg := job.ClientConfig{Topology: topo}
	for _, f := range configure {
		f(&cfg)
	}
	c, err := job.NewClient(js, cfg)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, c, nil
}
