package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// runCLI runs the jetjobs CLI with args and returns its output and exit code.
func runCLI(tb testing.TB, args ...string) (stdout, stderr string, code int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.jetjobs, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil && cmd.ProcessState == nil {
		tb.Fatalf("jetjobs %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// authCase is a server that requires one kind of authentication, with the
// CLI flags that pass it and flags that must be refused with a clear error.
type authCase struct {
	name      string
	configure func(*server.Options)
	nats      []nats.Option // for the test's own connection
	good      []string      // CLI flags that authenticate
	bad       [][]string    // CLI flags that must be refused
	wantErr   []string      // what the error of each bad one must contain (alternatives split by |)
	wantHint  string        // the flag the error's hint must name
	secrets   []string      // must appear in no log line
}

func authCases(t *testing.T) []authCase {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// NKey: a user known by its public key, proving possession of its seed.
	nkUser, nkSeed, nkPub := newNKeyUser(t)
	_, strangerSeed, _ := newNKeyUser(t)
	nkSeedFile, strangerSeedFile := write("user.nk", string(nkSeed)), write("stranger.nk", string(strangerSeed))

	// Credentials (JWT): an operator, a system account, an account with
	// JetStream, and a user of it; plus a user of an account the server
	// does not trust.
	op := newOperatorSetup(t)
	credsFile := write("user.creds", string(op.userCreds(t, op.account)))
	rogue, _ := nkeys.CreateAccount()
	rogueCreds := write("rogue.creds", string(op.userCreds(t, rogue)))

	ca, other := natstest.NewPKI(t, "jetjobs"), natstest.NewPKI(t, "other")

	return []authCase{{
		name:      "user-password",
		configure: func(o *server.Options) { o.Username, o.Password = "app", "pw-Xq81-secret" },
		nats:      []nats.Option{nats.UserInfo("app", "pw-Xq81-secret")},
		good:      []string{"--user", "app", "--password", "pw-Xq81-secret"},
		bad:       [][]string{{"--user", "app", "--password", "wrong-pw"}, {}},
		wantErr:   []string{"Authorization Violation", "Authorization Violation"},
		wantHint:  "--password",
		secrets:   []string{"pw-Xq81-secret"},
	}, {
		name:      "token",
		configure: func(o *server.Options) { o.Authorization = "tok-7Hh2-secret" },
		nats:      []nats.Option{nats.Token("tok-7Hh2-secret")},
		good:      []string{"--token", "tok-7Hh2-secret"},
		bad:       [][]string{{"--token", "wrong-token"}},
		wantErr:   []string{"Authorization Violation"},
		wantHint:  "--token",
		secrets:   []string{"tok-7Hh2-secret"},
	}, {
		name:      "nkey",
		configure: func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: nkPub}} },
		nats:      []nats.Option{nkeyOption(t, nkUser)},
		good:      []string{"--nkey", nkSeedFile},
		bad:       [][]string{{"--nkey", strangerSeedFile}},
		wantErr:   []string{"Authorization Violation"},
		wantHint:  "--nkey",
		secrets:   []string{string(nkSeed)},
	}, {
		name:      "creds-jwt",
		configure: op.configure,
		nats:      []nats.Option{nats.UserCredentials(credsFile)},
		good:      []string{"--creds", credsFile},
		bad:       [][]string{{"--creds", rogueCreds}},
		wantErr:   []string{"Authorization Violation"},
		wantHint:  "--creds",
		secrets:   []string{seedOf(t, credsFile)},
	}, {
		name:      "tls",
		configure: ca.RequireTLS(t, false),
		nats:      []nats.Option{nats.RootCAs(ca.CAFile)},
		good:      []string{"--tlsca", ca.CAFile},
		bad:       [][]string{{}, {"--tlsca", other.CAFile}},
		wantErr:   []string{"certificate signed by unknown authority", "certificate signed by unknown authority"},
		wantHint:  "--tlsca",
	}, {
		name:      "mutual-tls",
		configure: ca.RequireTLS(t, true),
		nats:      []nats.Option{nats.RootCAs(ca.CAFile), nats.ClientCert(ca.ClientCert, ca.ClientKey)},
		good:      []string{"--tlsca", ca.CAFile, "--tlscert", ca.ClientCert, "--tlskey", ca.ClientKey},
		bad:       [][]string{{"--tlsca", ca.CAFile}, {"--tlsca", ca.CAFile, "--tlscert", other.ClientCert, "--tlskey", other.ClientKey}},
		// Under TLS 1.3 the client learns of a refused certificate only
		// on its first read, so the server's alert can be lost to a
		// closed connection: either way the error names TLS.
		wantErr:  []string{"tls|certificate", "tls|certificate"},
		wantHint: "--tlscert",
	}}
}

// Each kind of authentication: the CLI enqueues and `jetjobs worker` works
// the job with the right credentials; wrong ones are refused with an error
// that names the cause; no credential and no payload shows in the logs.
func TestAuthentication(t *testing.T) {
	for _, tc := range authCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv := natstest.Start(t, tc.configure)
			// The library connects and creates the streams.
			_, js := srv.Connect(t, tc.nats...)
			c, err := job.NewClient(js, job.ClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.EnsureTopology(ctx); err != nil {
				t.Fatal(err)
			}

			url := srv.URL()
			const payload = `{"card":"PAYLOAD-4242-secret"}`
			out, errOut, code := runCLI(t, append([]string{"enqueue", "-s", url, "--log-format", "json", "work", payload}, tc.good...)...)
			if code != 0 {
				t.Fatalf("enqueue with good credentials: exit %d: %s", code, errOut)
			}
			id := strings.TrimSpace(out)

			recDir := t.TempDir()
			w := startCLIWorker(t, recDir, "auth", append([]string{"-s", url, "--log-level", "info"}, tc.good...)...)
			waitFor(t, 20*time.Second, 20*time.Millisecond, func() bool { return doneCounts(readRecords(t, recDir))[id] == 1 },
				"the worker ran job %s", id)
			w.signal(syscall.SIGTERM)
			if code, ok := w.wait(20 * time.Second); !ok || code != 0 {
				t.Fatalf("worker exit %d (exited %v):\n%s", code, ok, tail(w.logPath, 10))
			}
			for _, s := range append(tc.secrets, "PAYLOAD-4242") {
				if strings.Contains(w.log(), s) || strings.Contains(errOut, s) {
					t.Errorf("%q appears in the logs", s)
				}
			}

			for i, bad := range tc.bad {
				_, errOut, code := runCLI(t, append([]string{"enqueue", "-s", url, "--connect-timeout", "3s", "work", "{}"}, bad...)...)
				if code != 1 || !containsAny(errOut, strings.Split(tc.wantErr[i], "|")) {
					t.Errorf("enqueue with %v: exit %d, stderr %q; want exit 1 and %q", bad, code, errOut, tc.wantErr[i])
				}
				if _, hint, _ := strings.Cut(errOut, " ("); !strings.Contains(hint, tc.wantHint) || strings.Contains(hint, "jetjobs server") {
					t.Errorf("enqueue with %v: stderr %q; want a hint that names %s, not starting a server", bad, errOut, tc.wantHint)
				}
				if strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
					t.Errorf("enqueue with %v: the error is not one line: %q", bad, errOut)
				}
			}
		})
	}
}

// containsAny reports whether the cause in a CLI error line (after the
// server URL, which may itself start with tls://) contains one of subs.
func containsAny(errLine string, subs []string) bool {
	_, cause, ok := strings.Cut(errLine, "://")
	if ok {
		_, cause, _ = strings.Cut(cause, " ")
	} else {
		cause = errLine
	}
	for _, s := range subs {
		if strings.Contains(cause, s) {
			return true
		}
	}
	return false
}

func newNKeyUser(tb testing.TB) (kp nkeys.KeyPair, seed []byte, pub string) {
	tb.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	seed, _ = kp.Seed()
	pub, _ = kp.PublicKey()
	return kp, seed, pub
}

func nkeyOption(tb testing.TB, kp nkeys.KeyPair) nats.Option {
	tb.Helper()
	pub, _ := kp.PublicKey()
	return nats.Nkey(pub, kp.Sign)
}

// seedOf returns the seed line of a credentials file.
func seedOf(tb testing.TB, credsFile string) string {
	tb.Helper()
	b, err := os.ReadFile(credsFile)
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if strings.HasPrefix(line, "SU") {
			return strings.TrimSpace(line)
		}
	}
	tb.Fatal("no seed in the credentials file")
	return ""
}

// operatorSetup is a decentralised (JWT) authentication setup: an operator
// that signs a system account and an application account with JetStream.
type operatorSetup struct {
	operator nkeys.KeyPair
	claims   *jwt.OperatorClaims
	sysPub   string
	sysJWT   string
	account  nkeys.KeyPair
	accPub   string
	accJWT   string
}

func newOperatorSetup(tb testing.TB) *operatorSetup {
	tb.Helper()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	s := &operatorSetup{}
	var err error
	s.operator, err = nkeys.CreateOperator()
	must(err)
	opPub, _ := s.operator.PublicKey()
	sys, err := nkeys.CreateAccount()
	must(err)
	s.sysPub, _ = sys.PublicKey()
	s.account, err = nkeys.CreateAccount()
	must(err)
	s.accPub, _ = s.account.PublicKey()

	s.claims = jwt.NewOperatorClaims(opPub)
	s.claims.Name = "jetjobs-test"
	s.claims.SystemAccount = s.sysPub
	_, err = s.claims.Encode(s.operator)
	must(err)

	sc := jwt.NewAccountClaims(s.sysPub)
	sc.Name = "SYS"
	s.sysJWT, err = sc.Encode(s.operator)
	must(err)
	ac := jwt.NewAccountClaims(s.accPub)
	ac.Name = "APP"
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	s.accJWT, err = ac.Encode(s.operator)
	must(err)
	return s
}

func (s *operatorSetup) configure(o *server.Options) {
	o.TrustedOperators = []*jwt.OperatorClaims{s.claims}
	o.SystemAccount = s.sysPub
	r := &server.MemAccResolver{}
	_ = r.Store(s.sysPub, s.sysJWT)
	_ = r.Store(s.accPub, s.accJWT)
	o.AccountResolver = r
}

// userCreds returns a credentials file's content for a new user signed by
// account.
func (s *operatorSetup) userCreds(tb testing.TB, account nkeys.KeyPair) []byte {
	tb.Helper()
	u, seed, pub := newNKeyUser(tb)
	_ = u
	uc := jwt.NewUserClaims(pub)
	uc.Name = "app-user"
	ujwt, err := uc.Encode(account)
	if err != nil {
		tb.Fatal(err)
	}
	creds, err := jwt.FormatUserConfig(ujwt, seed)
	if err != nil {
		tb.Fatal(err)
	}
	return creds
}
