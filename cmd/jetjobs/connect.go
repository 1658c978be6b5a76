package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
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
	"github.com/jetjobs/jetjobs/retry"
)

// connFlags are the connection flags, named as the nats CLI names them.
type connFlags struct {
	server          string
	creds           string
	user, password  string
	passwordFile    string
	token           string
	tokenFile       string
	nkey            string
	tlsCert, tlsKey string
	tlsCA           string
	inboxPrefix     string
	connectTimeout  time.Duration
	connectForever  bool

	// fromEnv names the environment variable each credential flag's value
	// came from (credentials).
	fromEnv map[string]string
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
	f.StringVarP(&a.conn.server, "server", "s", envOr(envURL, nats.DefaultURL), "NATS server URLs, comma-separated (env NATS_URL)")
	// --help shows the default: NATS_URL's, without its secrets.
	f.Lookup("server").DefValue = redactServers(a.conn.server)
	// The secrets are read from the environment only once the flags are
	// parsed (credentials), so that --help never shows them; a flag wins
	// over its variable, as in the nats CLI.
	f.StringVar(&a.conn.creds, "creds", "", "user credentials file (env NATS_CREDS, which the flag overrides)")
	f.StringVar(&a.conn.user, "user", "", "user name, or a token (env NATS_USER, which the flag overrides)")
	f.StringVar(&a.conn.password, "password", "", "password; other users see it in the process list: prefer env NATS_PASSWORD or --password-file (either flag overrides NATS_PASSWORD)")
	f.StringVar(&a.conn.passwordFile, "password-file", "", "read the password from this file (it overrides env NATS_PASSWORD)")
	f.StringVar(&a.conn.token, "token", "", "authentication token; other users see it in the process list: prefer env NATS_TOKEN or --token-file (either flag overrides NATS_TOKEN)")
	f.StringVar(&a.conn.tokenFile, "token-file", "", "read the authentication token from this file (it overrides env NATS_TOKEN)")
	f.StringVar(&a.conn.nkey, "nkey", "", "user NKey seed file (env NATS_NKEY, which the flag overrides)")
	f.StringVar(&a.conn.tlsCert, "tlscert", "", "TLS client certificate file")
	f.StringVar(&a.conn.tlsKey, "tlskey", "", "TLS client private key file")
	f.StringVar(&a.conn.tlsCA, "tlsca", "", "TLS certificate authority file, to verify the server")
	f.StringVar(&a.conn.inboxPrefix, "inbox-prefix", "", "prefix of reply subjects instead of _INBOX, for users allowed to subscribe only under their own (see docs/security.md)")
	f.DurationVar(&a.conn.connectTimeout, "connect-timeout", 5*time.Second, "how long to keep trying to connect while no server answers")
	f.BoolVar(&a.conn.connectForever, "connect-forever", false, "keep trying to connect until a server answers, however long it takes (for supervisors that start the worker before NATS)")
}

// connectRetry spaces the attempts to connect while no server answers.
var connectRetry = retry.Exponential{Initial: 100 * time.Millisecond, Max: 2 * time.Second}

// connect connects to NATS with the connection flags. While no server
// answers (refused, unresolvable or silent: a server that is still
// starting) it tries again, logging each wait, for --connect-timeout or,
// with --connect-forever, until ctx ends; a server that answers and
// refuses (credentials, TLS) is one clear error at once. A long-running
// command (worker) passes reconnect=true: it then reconnects forever after
// the first connection, logging each loss and recovery.
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
			level := slog.LevelWarn
			if stop := a.probing.Load(); stop != nil && errors.Is(err, nats.ErrPermissionViolation) {
				// An optional look (probe) the user may not be allowed:
				// end it now rather than at its timeout, and say nothing.
				(*stop)()
				level = slog.LevelDebug
			}
			a.log.LogAttrs(context.Background(), level, "NATS reported an error", attrs...)
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
				a.log.LogAttrs(context.Background(), slog.LevelInfo, "reconnected to NATS", slog.String("url", redactServers(nc.ConnectedUrl())))
			}),
		)
	} else {
		opts = append(opts, nats.NoReconnect())
	}
	given := func(string) bool { return false }
	if a.cmd != nil {
		given = a.cmd.Flags().Changed
	}
	c, err := a.conn.credentials(given, os.Getenv)
	if err != nil {
		return nil, nil, err
	}
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
			return nil, nil, usagef("%s %s: %w", c.label("nkey"), c.nkey, err)
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
	nc, err := a.dialUntilAnswered(ctx, c, opts)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	a.server = redactServers(nc.ConnectedUrl())
	a.serverJS, _ = nc.ConnectedServerJetStream()
	return nc, js, nil
}

// probe runs look, a read the command can do without (a hint, a
// warning), with a context that ends after timeout or as soon as the server
// reports a permission violation: a least-privilege user neither waits for
// the request's timeout nor sees a warning about it.
func (a *app) probe(ctx context.Context, timeout time.Duration, look func(ctx context.Context)) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.CancelFunc(cancel)
	a.probing.Store(&stop)
	defer a.probing.Store(nil)
	look(ctx)
}

// dialUntilAnswered connects with opts, trying again while no server
// answers, for c.connectTimeout or, with c.connectForever, until ctx ends.
func (a *app) dialUntilAnswered(ctx context.Context, c connFlags, opts []nats.Option) (*nats.Conn, error) {
	start := time.Now()
	deadline := start.Add(c.connectTimeout)
	servers := redactServers(c.server)
	for attempt := 1; ; attempt++ {
		// Each try may take --connect-timeout, or what is left of it.
		timeout := c.connectTimeout
		if !c.connectForever {
			timeout = max(min(timeout, time.Until(deadline)), 100*time.Millisecond)
		}
		nc, err := dial(ctx, c.server, append(opts, nats.Timeout(timeout)))
		if err == nil {
			if attempt > 1 {
				a.log.LogAttrs(ctx, slog.LevelInfo, "connected to NATS", slog.String("url", redactServers(nc.ConnectedUrl())),
					slog.Int("attempts", attempt), slog.Duration("waited", time.Since(start).Round(time.Millisecond)))
			}
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		hint := c.connectHint(err)
		left := time.Until(deadline)
		if !unanswered(hint, c) || !c.connectForever && left <= 0 {
			cerr := &connectError{servers: servers, err: err, hint: hint}
			if attempt > 1 {
				cerr.tried = time.Since(start).Round(100 * time.Millisecond)
			}
			return nil, cerr
		}
		wait := connectRetry.Delay(attempt)
		until := "(--connect-forever)"
		if !c.connectForever {
			wait = min(wait, left)
			until = fmt.Sprintf("(--connect-timeout %s: %s left)", c.connectTimeout, left.Round(100*time.Millisecond))
		}
		a.log.LogAttrs(ctx, slog.LevelWarn, fmt.Sprintf("cannot connect to NATS yet; trying again in %s %s", wait.Round(time.Millisecond), until),
			slog.String("url", servers), slog.String("error", redact(err.Error())), slog.Int("attempt", attempt),
			slog.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// unanswered reports whether hint is that of a connection no server
// answered: nothing listening, a name that does not resolve yet, or
// silence. Another try may find the server up; a refusal it will not.
func unanswered(hint string, c connFlags) bool {
	return hint == hintNoServer || hint == hintDNS || hint == c.timeoutHint()
}

// dial is nats.Connect that returns when ctx ends, closing a connection
// that arrives later.
func dial(ctx context.Context, servers string, opts []nats.Option) (*nats.Conn, error) {
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(servers, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		return r.nc, r.err
	case <-ctx.Done():
		go func() { // do not leave a late connection open
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Environment variables of the credentials, as the nats CLI reads them.
// A worker's --exec commands do not inherit them, nor NATS_URL
// (execEnv).
const (
	envURL      = "NATS_URL"
	envUser     = "NATS_USER"
	envPassword = "NATS_PASSWORD"
	envToken    = "NATS_TOKEN"
	envCreds    = "NATS_CREDS"
	envNKey     = "NATS_NKEY"
)

// credentials returns the flags with the credentials the command line did
// not give (given reports whether it gave a flag) taken from the
// environment, and the password and token of --password-file and
// --token-file read.
func (c connFlags) credentials(given func(flag string) bool, getenv func(string) string) (connFlags, error) {
	c.fromEnv = map[string]string{}
	fromEnv := func(flag, name string, value *string) {
		if v := getenv(name); v != "" && !given(flag) {
			*value = v
			c.fromEnv[flag] = name
		}
	}
	fromEnv("user", envUser, &c.user)
	fromEnv("creds", envCreds, &c.creds)
	fromEnv("nkey", envNKey, &c.nkey)
	for _, s := range []struct {
		flag, file, env string
		value           *string
	}{
		{"password", c.passwordFile, envPassword, &c.password},
		{"token", c.tokenFile, envToken, &c.token},
	} {
		fileFlag := s.flag + "-file"
		switch {
		case given(s.flag) && given(fileFlag):
			return c, usagef("--%s and --%s: give one or the other", s.flag, fileFlag)
		case given(fileFlag):
			v, err := readSecret(fileFlag, s.file)
			if err != nil {
				return c, err
			}
			*s.value = v
		default:
			fromEnv(s.flag, s.env, s.value)
		}
	}
	return c, nil
}

// readSecret reads a password or token from the file of flag, without
// the line break that ends it.
func readSecret(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usagef("--%s: %w", flag, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	clear(b)
	if v == "" {
		return "", usagef("--%s %s: the file is empty", flag, path)
	}
	return v, nil
}

// label names where the value of flag came from, for an error about it:
// the flag or its environment variable.
func (c connFlags) label(flag string) string {
	if name := c.fromEnv[flag]; name != "" {
		return name
	}
	return "--" + flag
}

// urlSchemes are the URL schemes nats.go connects with.
var urlSchemes = []string{"nats", "tls", "ws", "wss"}

// checkURL checks one URL of -s/--server as nats.go reads it: with
// nats:// when it has no scheme, parsed by net/url. An '@' past the host
// means a password that net/url reads as a path, query or fragment.
func checkURL(u string) error {
	if !strings.Contains(u, "://") {
		u = "nats://" + u
	}
	if _, err := url.Parse(u); err != nil {
		return err
	}
	_, rest, _ := strings.Cut(u, "://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 && strings.LastIndexByte(rest, '@') > end {
		return errors.New("an '@' after the host")
	}
	return nil
}

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
			return usagef("-s/--server %q: an empty URL between commas", redactServers(c.server))
		}
		if scheme, _, ok := strings.Cut(u, "://"); ok && !slices.Contains(urlSchemes, strings.ToLower(scheme)) {
			return usagef("-s/--server %q: the URL scheme %q is not supported; use nats://, tls://, ws:// or wss://", redactServers(u), scheme)
		}
		if err := checkURL(u); err != nil {
			// The parse error quotes the URL, and a password that broke the
			// parse may be cut anywhere (at a comma, between two URLs): show
			// only the error of the URL without its user information, when
			// that URL is whole and still fails.
			switch {
			case !strings.Contains(c.server, "@"):
				return usagef("-s/--server %q: %w", c.server, err)
			case strings.Contains(u, "@"):
				if err := checkURL(withoutUserinfo(u)); err != nil {
					return usagef("-s/--server %q: %w", redactServers(c.server), err)
				}
			}
			return usagef("-s/--server %q: a URL does not parse: percent-encode / ? # @ , and spaces in a user name or password (%%2F %%3F %%23 %%40 %%2C %%20), or leave the password out of the URL and give it with NATS_PASSWORD or --password-file", redactServers(c.server))
		}
	}
	if c.connectTimeout <= 0 {
		return usagef("--connect-timeout %s: use a positive duration, such as 5s", c.connectTimeout)
	}
	if c.creds != "" {
		// nats.go reads the file only when it connects: check it first, so
		// that a wrong path or file is not reported as a failed connection.
		if err := checkCreds(c.label("creds"), c.creds); err != nil {
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
func checkCreds(label, path string) error {
	contents, err := os.ReadFile(path)
	if err != nil {
		return usagef("%s: %w", label, err)
	}
	defer clear(contents) // it holds a secret
	if !bytes.Contains(contents, []byte("BEGIN NATS USER JWT")) {
		return usagef("%s %s: not a NATS credentials file: it has no user JWT (a credentials file holds a user JWT and its NKey seed, as 'nsc generate creds' writes it)", label, path)
	}
	if _, err := nkeys.ParseDecoratedUserNKey(contents); err != nil {
		return usagef("%s %s: not a NATS credentials file: it has no user NKey seed: %v", label, path, err)
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
