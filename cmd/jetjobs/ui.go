package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newUICommand) }

// defaultUIListen is where `jetjobs ui` serves the dashboard.
const defaultUIListen = "127.0.0.1:8090"

// uiPasswordEnv is the environment variable `jetjobs ui --auth-user` reads
// the password from, unless --auth-password-file names a file.
const uiPasswordEnv = "JETJOBS_UI_PASSWORD"

type uiFlags struct {
	listen       string
	readOnly     bool
	authUser     string
	passwordFile string
	allowOpen    bool
}

func newUICommand(a *app) *cobra.Command {
	var f uiFlags
	cmd := &cobra.Command{
		Use:   "ui",
		Short: "Serve the web dashboard",
		Long: `Serve the web dashboard of the namespace on --listen (default ` + defaultUIListen + `): the
queues and their jobs, dead letters, schedules and live workers, with the
actions an operator takes (pause a queue, cancel a job, replay or delete dead
letters, add and remove schedules). --read-only hides and refuses every action.

--auth-user protects it with HTTP basic auth; the password is read from the
environment variable ` + uiPasswordEnv + ` or from --auth-password-file, never
from a flag (flags show in the process list). Without TLS in front of it,
basic auth sends the password in the clear: keep the default loopback address
or put a TLS-terminating proxy before it. On an address other machines can
reach, the dashboard refuses to start without --auth-user, unless
--allow-open says that anyone who reaches it may see every job (and, unless
--read-only, change and delete them).

The dashboard stays up when the connection to NATS drops and says so on every
page until it reconnects.`,
		Example: `  jetjobs ui
  jetjobs ui --read-only
  JETJOBS_UI_PASSWORD=… jetjobs ui --listen 0.0.0.0:8090 --auth-user ops`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.ui(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.listen, "listen", "l", defaultUIListen, "host:port to serve the dashboard on (port 0: a free port)")
	fl.BoolVar(&f.readOnly, "read-only", false, "show everything, change nothing: hide actions and refuse them with 403")
	fl.StringVar(&f.authUser, "auth-user", "", "require HTTP basic auth with this user (password from $"+uiPasswordEnv+" or --auth-password-file)")
	fl.StringVar(&f.passwordFile, "auth-password-file", "", "file holding the basic-auth password (its first line)")
	fl.BoolVar(&f.allowOpen, "allow-open", false, "serve without authentication on an address other machines can reach")
	a.addConnFlags(cmd)
	return cmd
}

func (a *app) ui(ctx context.Context, f uiFlags) error {
	auth, err := f.basicAuth()
	if err != nil {
		return err
	}
	if err := checkDashboardListen("--listen", f.listen, auth != nil, f.allowOpen); err != nil {
		return err
	}
	topo, err := a.topology()
	if err != nil {
		return err
	}
	nc, js, err := a.connect(ctx, "ui", true)
	if err != nil {
		return err
	}
	defer nc.Close()
	return serveDashboard(ctx, a.stdout, a.log, js, uiOptions{listen: f.listen, topo: topo, readOnly: f.readOnly, auth: auth})
}

// basicAuth returns the user and password the flags ask for, or nil.
func (f uiFlags) basicAuth() (*credentials, error) {
	if f.authUser == "" {
		if f.passwordFile != "" {
			return nil, usagef("--auth-password-file needs --auth-user")
		}
		return nil, nil
	}
	var password string
	if f.passwordFile != "" {
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, usagef("--auth-password-file: %w", err)
		}
		password, _, _ = strings.Cut(string(b), "\n")
		password = strings.TrimRight(password, "\r")
	} else {
		password = os.Getenv(uiPasswordEnv)
	}
	if password == "" {
		return nil, usagef("--auth-user %s needs a password: set $%s or give --auth-password-file (never a flag: flags show in the process list)", f.authUser, uiPasswordEnv)
	}
	return &credentials{user: f.authUser, password: password}, nil
}

type credentials struct{ user, password string }

// checkDashboardListen refuses to serve the dashboard without
// authentication where other machines reach it, unless allowOpen.
func checkDashboardListen(flag, listen string, auth, allowOpen bool) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return usagef("%s %q: use host:port, such as %s", flag, listen, defaultUIListen)
	}
	if auth || allowOpen || loopback(host) {
		return nil
	}
	return usagef("%s %s: other machines can reach this address and the dashboard has no authentication, so anyone who reaches it could see every job and change or delete them: listen on 127.0.0.1, use 'jetjobs ui --auth-user' (password from $%s), or pass --allow-open to serve it open anyway", flag, listen, uiPasswordEnv)
}

// uiOptions configure serveDashboard.
type uiOptions struct {
	listen   string
	topo     job.Topology
	readOnly bool
	auth     *credentials
	// ready, if set, receives the URL once the dashboard listens.
	ready func(url string)
}

// serveDashboard serves the dashboard on o.listen until ctx ends, then
// shuts the HTTP server down, letting requests in flight finish.
func serveDashboard(ctx context.Context, out io.Writer, log *slog.Logger, js jetstream.JetStream, o uiOptions) error {
	h, err := dashboard.New(js, dashboard.Config{Topology: o.topo, ReadOnly: o.readOnly, Logger: log})
	if err != nil {
		return err
	}
	if o.auth != nil {
		h = requireBasicAuth(h, *o.auth)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return usagef("--listen %q (dashboard): use host:port, such as %s", o.listen, defaultUIListen)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("dashboard: cannot listen on %s: %w; choose another address (port 0 picks a free one)", o.listen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	mode := ""
	if o.readOnly {
		mode = " (read-only)"
	}
	fmt.Fprintf(out, "dashboard: %s%s (Ctrl-C stops it)\n", url, mode)
	log.LogAttrs(ctx, slog.LevelInfo, "dashboard listening", slog.String("url", url), slog.Bool("read_only", o.readOnly), slog.Bool("basic_auth", o.auth != nil))
	if o.ready != nil {
		o.ready(url)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}

// requireBasicAuth lets through the requests that carry the credentials.
func requireBasicAuth(next http.Handler, c credentials) http.Handler {
	wantUser, wantPass := sha256.Sum256([]byte(c.user)), sha256.Sum256([]byte(c.password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		if !ok || subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPass[:], wantPass[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="jetjobs", charset="UTF-8"`)
			http.Error(w, "jetjobs dashboard: authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
