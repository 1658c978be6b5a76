package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// withUserinfo puts info (user:password or a token) into a nats:// URL.
func withUserinfo(url, info string) string {
	return strings.Replace(url, "nats://", "nats://"+info+"@", 1)
}

// A failed connection is one line that names the servers without their
// secrets, the cause, and what to check for that cause: credentials for a
// refused login, the TLS flags for a TLS failure, a server only when
// nothing listens.
func TestConnectErrorSaysWhatToCheck(t *testing.T) {
	const pw, token = "WRONGPW-31", "WRONGTOKEN-77"
	users := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "app", "right-pw" })
	tokens := natstest.Start(t, func(o *server.Options) { o.Authorization = "right-token" })
	ca, other := natstest.NewPKI(t, "jetjobs"), natstest.NewPKI(t, "other")
	tlsOnly := natstest.Start(t, ca.RequireTLS(t, false))
	mutual := natstest.Start(t, ca.RequireTLS(t, true))
	plain := natstest.Start(t)
	unreachable := unusedURL(t)

	cases := []struct {
		name string
		args []string
		want []string // in the line, in this order
	}{
		// Waits for a server are logged (TestConnectGivesUpAfterTheTimeout);
		// --log-level error leaves the error line alone.
		{"nothing listens", []string{"-s", unreachable, "--connect-timeout", "200ms", "--log-level", "error"},
			[]string{"cannot connect to NATS at " + unreachable, "no servers available", hintNoServer}},
		{"wrong password in the URL", []string{"-s", withUserinfo(users.URL(), "app:"+pw)},
			[]string{"nats://app:xxxxx@127.0.0.1:", "uthorization", hintBadAuth}},
		{"wrong password", []string{"-s", users.URL(), "--user", "app", "--password", pw},
			[]string{"uthorization", hintBadAuth}},
		{"no credentials", []string{"-s", users.URL()},
			[]string{"uthorization", hintNoAuth}},
		{"wrong token in the URL", []string{"-s", withUserinfo(tokens.URL(), token)},
			[]string{"nats://xxxxx@127.0.0.1:", "uthorization", hintBadAuth}},
		{"wrong token", []string{"-s", tokens.URL(), "--token", token},
			[]string{"uthorization", hintBadAuth}},
		{"TLS without --tlsca", []string{"-s", tlsOnly.URL()},
			[]string{"unknown authority", hintNoCA}},
		{"TLS with another CA", []string{"-s", tlsOnly.URL(), "--tlsca", other.CAFile},
			[]string{"unknown authority", hintWrongCA}},
		{"tls:// to a server without TLS", []string{"-s", strings.Replace(plain.URL(), "nats://", "tls://", 1)},
			[]string{"secure connection not available", hintNoTLS}},
		// Under TLS 1.3 the refusal of a missing or foreign client
		// certificate often arrives as nothing but a closed connection.
		{"mutual TLS without a certificate", []string{"-s", mutual.URL(), "--tlsca", ca.CAFile},
			[]string{"tls", hintNoCert}},
		{"mutual TLS with another CA's certificate", []string{"-s", mutual.URL(), "--tlsca", ca.CAFile, "--tlscert", other.ClientCert, "--tlskey", other.ClientKey},
			[]string{"tls", hintCertRef}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := jetjobs(t, "", append([]string{"queues", "--connect-timeout", "5s"}, c.args...)...)
			line := strings.TrimRight(r.Stderr, "\n")
			if r.Code != exitError || strings.Contains(line, "\n") || !strings.HasPrefix(line, "jetjobs: cannot connect to NATS at ") {
				t.Fatalf("exit %d, stderr %q; want exit 1 and one line", r.Code, r.Stderr)
			}
			rest := line
			for _, w := range c.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("stderr %q lacks %q (or has it out of order)", line, w)
				}
				rest = rest[i+len(w):]
			}
			if strings.Contains(line, pw) || strings.Contains(line, token) {
				t.Errorf("stderr %q shows a secret", line)
			}
			if c.want[len(c.want)-1] != hintNoServer && strings.Contains(line, "jetjobs server") {
				t.Errorf("stderr %q suggests starting a server for a cause a server does not fix", line)
			}
		})
	}

	// Of several servers, nats.go tries each in random order and reports
	// the last one's failure: the cause varies, the redaction must not.
	servers := unreachable + "," + withUserinfo(users.URL(), "app:"+pw)
	r := jetjobs(t, "", "queues", "-s", servers, "--connect-timeout", "200ms")
	if want := "at " + unreachable + ",nats://app:xxxxx@127.0.0.1:"; r.Code != exitError || !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, pw) {
		t.Errorf("with several servers: exit %d, stderr %q; want exit 1 and %q", r.Code, r.Stderr, want)
	}

	// A URL that does not parse is a usage error naming -s, without the
	// URL's secrets: net/url's own error when the URL is at fault without
	// its credentials, else advice, since a password that broke the parse
	// may be cut anywhere.
	for _, c := range []struct{ server, want string }{
		{"nats://app:" + pw + "@127.0.0.1:port", `-s/--server "nats://app:xxxxx@127.0.0.1:port": parse "nats://127.0.0.1:port": invalid port ":port" after host`},
		{"nats://app:" + pw + ",x@127.0.0.1:4222", `-s/--server "nats://app:xxxxx@127.0.0.1:4222": a URL does not parse: percent-encode`},
		{"nats://app:" + pw + "/x@127.0.0.1:4222", `-s/--server "nats://app:xxxxx@127.0.0.1:4222": a URL does not parse: percent-encode`},
		{"nats://app:12#" + pw + "@127.0.0.1:4222", `-s/--server "nats://app:xxxxx@127.0.0.1:4222": a URL does not parse: percent-encode`},
		{"nats://app:" + pw + " x@127.0.0.1:4222", `-s/--server "nats://app:xxxxx@127.0.0.1:4222": a URL does not parse: percent-encode`},
		{"nats://127.0.0.1:port", `-s/--server "nats://127.0.0.1:port": parse "nats://127.0.0.1:port": invalid port ":port" after host`},
	} {
		r := jetjobs(t, "", "queues", "-s", c.server)
		if r.Code != exitUsage || !strings.HasPrefix(r.Stderr, "jetjobs: "+c.want) || strings.Contains(r.Stderr, pw) {
			t.Errorf("queues -s %q: exit %d, stderr %q; want exit 2 and %q", c.server, r.Code, r.Stderr, c.want)
		}
	}

	// Files and values of the connection flags are checked before
	// connecting: a usage error that names the flag.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tlsca", "/nonexistent/ca.pem"}, "--tlsca"},
		{[]string{"--tlscert", "/nonexistent/c.pem", "--tlskey", "/nonexistent/k.pem"}, "--tlscert"},
		{[]string{"--creds", "/nonexistent/user.creds"}, "--creds"},
		{[]string{"--inbox-prefix", "_INBOX.*"}, "--inbox-prefix"},
	} {
		r := jetjobs(t, "", append([]string{"queues", "-s", plain.URL()}, c.args...)...)
		if r.Code != exitUsage || !strings.HasPrefix(r.Stderr, "jetjobs: "+c.want) {
			t.Errorf("queues %v: exit %d, stderr %q; want exit 2 naming %s", c.args, r.Code, r.Stderr, c.want)
		}
	}
}

// A worker logs its server's URL, and each reconnection, without the token
// or password in it.
func TestWorkerLogsURLWithoutSecrets(t *testing.T) {
	const token = "s3cret-TOKEN-55"
	srv := natstest.Start(t, func(o *server.Options) { o.Authorization = token })
	w := startWorker(t, withUserinfo(srv.URL(), token), nil, "--exec", "x=true")
	srv.Restart(t)
	w.WaitOutput(w.Stderr, `"msg":"reconnected to NATS"`)
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	logs := w.Stderr.String()
	if strings.Contains(logs, token) {
		t.Errorf("the worker's logs show the token:\n%s", logs)
	}
	if n := strings.Count(logs, `"url":"nats://xxxxx@127.0.0.1:`); n != 2 {
		t.Errorf("the worker's logs name the redacted URL %d times, want 2 (start and reconnection):\n%s", n, logs)
	}
}

// --replicas reaches the streams a command creates; --skip-topology makes a
// worker leave the streams alone, creating none.
func TestReplicasAndSkipTopology(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	// A single server cannot hold 3 replicas: the refusal shows the flag
	// reached the stream's creation.
	if r := jetjobs(t, "", "enqueue", "-s", url, "--replicas", "3", "x"); r.Code != exitError || !strings.Contains(r.Stderr, "replicas") {
		t.Errorf("enqueue --replicas 3 on a single server: exit %d, stderr %q; want the server's refusal", r.Code, r.Stderr)
	}
	ok(t, "enqueue", "-s", url, "--replicas", "1", "x")
	_, js := srv.Connect(t)
	ctx := t.Context()
	for _, name := range []string{"JOBS", "JOBS_DLQ"} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if n := s.CachedInfo().Config.Replicas; n != 1 {
			t.Errorf("stream %s has %d replicas, want 1", name, n)
		}
	}

	if err := js.DeleteStream(ctx, "JOBS_DLQ"); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, url, nil, "--skip-topology", "--exec", "x=true")
	if _, err := js.Stream(ctx, "JOBS_DLQ"); err == nil {
		t.Error("a worker with --skip-topology created the dead-letter stream")
	}
	eventually(t, func() bool { q := queueFigures(t, url)["default"]; return q.Pending == 0 && q.Running == 0 }, "the job to run")
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
	// Without it, the worker puts the missing stream back.
	w = startWorker(t, url, nil, "--exec", "x=true")
	if _, err := js.Stream(ctx, "JOBS_DLQ"); err != nil {
		t.Errorf("a worker without --skip-topology did not create the dead-letter stream: %v", err)
	}
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
}
