package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

// writeSecret writes a secret file of mode 0600 and returns its path.
func writeSecret(t *testing.T, name, contents string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Credentials come from the nats CLI's environment variables and from
// --password-file and --token-file, so that no secret needs to be on the
// command line; a flag wins over its variable.
func TestCredentialsFromEnvironmentAndFiles(t *testing.T) {
	const pw, token = "right pw/#?,@", "right-token-91"
	users := natstest.Start(t, func(o *server.Options) { o.Username, o.Password = "app", pw })
	tokens := natstest.Start(t, func(o *server.Options) { o.Authorization = token })
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	nkeyServer := natstest.Start(t, func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} })
	seedFile := writeSecret(t, "user.nk", string(seed))
	pwFile := writeSecret(t, "password", pw+"\n")
	tokenFile := writeSecret(t, "token", token+"\r\n")
	wrongFile := writeSecret(t, "wrong", "wrong\n")
	emptyFile := writeSecret(t, "empty", "\n")
	notCreds := writeSecret(t, "user.creds", "user = ada\n")

	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want string // in stderr, for a failure
	}{
		{"NATS_USER and NATS_PASSWORD", []string{"NATS_USER=app", "NATS_PASSWORD=" + pw}, []string{"-s", users.URL()}, 0, ""},
		{"--password-file", nil, []string{"-s", users.URL(), "--user", "app", "--password-file", pwFile}, 0, ""},
		{"--password-file wins over NATS_PASSWORD", []string{"NATS_USER=app", "NATS_PASSWORD=wrong"}, []string{"-s", users.URL(), "--password-file", pwFile}, 0, ""},
		{"--password wins over NATS_PASSWORD", []string{"NATS_USER=app", "NATS_PASSWORD=" + pw}, []string{"-s", users.URL(), "--password", "wrong"}, exitError, hintBadAuth},
		{"--user wins over NATS_USER", []string{"NATS_USER=nobody", "NATS_PASSWORD=" + pw}, []string{"-s", users.URL(), "--user", "app"}, 0, ""},
		{"NATS_TOKEN", []string{"NATS_TOKEN=" + token}, []string{"-s", tokens.URL()}, 0, ""},
		{"--token-file", nil, []string{"-s", tokens.URL(), "--token-file", tokenFile}, 0, ""},
		{"--token-file wins over NATS_TOKEN", []string{"NATS_TOKEN=" + token}, []string{"-s", tokens.URL(), "--token-file", wrongFile}, exitError, hintBadAuth},
		{"NATS_NKEY", []string{"NATS_NKEY=" + seedFile}, []string{"-s", nkeyServer.URL()}, 0, ""},
		{"NATS_URL", []string{"NATS_URL=" + withUserinfo(tokens.URL(), token)}, nil, 0, ""},
		{"NATS_CREDS is checked and named", []string{"NATS_CREDS=" + notCreds}, []string{"-s", users.URL()}, exitUsage, "NATS_CREDS " + notCreds + ": not a NATS credentials file"},
		{"--password and --password-file", nil, []string{"-s", users.URL(), "--user", "app", "--password", "x", "--password-file", pwFile}, exitUsage, "--password and --password-file: give one or the other"},
		{"--token and --token-file", nil, []string{"-s", tokens.URL(), "--token", "x", "--token-file", tokenFile}, exitUsage, "--token and --token-file: give one or the other"},
		{"empty --password-file", nil, []string{"-s", users.URL(), "--user", "app", "--password-file", emptyFile}, exitUsage, "--password-file " + emptyFile + ": the file is empty"},
		{"missing --token-file", nil, []string{"-s", tokens.URL(), "--token-file", "/nonexistent/token"}, exitUsage, "--token-file: open /nonexistent/token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := proctest.Run(t, binary, c.env, "", append([]string{"enqueue", "x"}, c.args...)...)
			if r.Code != c.code || !strings.Contains(r.Stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.Code, r.Stderr, c.code, c.want)
			}
			for _, secret := range []string{pw, token} {
				if strings.Contains(r.Stderr, secret) {
					t.Errorf("stderr %q shows a secret", r.Stderr)
				}
			}
		})
	}
}

// --help shows NATS_URL as the default of -s without its password, and
// says where else credentials come from.
func TestHelpHidesTheSecretOfNATSURL(t *testing.T) {
	const secret = "S3CRET/pw,#1"
	r := proctest.Run(t, binary, []string{"NATS_URL=nats://app:" + secret + "@127.0.0.1:4222"}, "", "queues", "--help")
	if r.Code != 0 || strings.Contains(r.Stdout, secret) || strings.Contains(r.Stdout, "S3CRET") {
		t.Fatalf("queues --help: exit %d, shows the password of NATS_URL:\n%s", r.Code, r.Stdout)
	}
	for _, want := range []string{`(default "nats://app:xxxxx@127.0.0.1:4222")`, "--password-file", "--token-file",
		"(either flag overrides NATS_PASSWORD)", "(either flag overrides NATS_TOKEN)",
		"(env NATS_USER, which the flag overrides)", "(env NATS_CREDS, which the flag overrides)", "(env NATS_NKEY, which the flag overrides)"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("queues --help lacks %q:\n%s", want, r.Stdout)
		}
	}
}

// An --exec command's environment is the worker's without the worker's
// connection and credentials.
func TestExecCommandsDoNotInheritTheWorkersCredentials(t *testing.T) {
	const token = "worker-token-63"
	srv := natstest.Start(t, func(o *server.Options) { o.Authorization = token })
	out := t.TempDir()
	env := []string{"OUT=" + out, "KEEP_ME=1",
		"NATS_URL=" + withUserinfo(srv.URL(), token), "NATS_TOKEN=" + token,
		"NATS_USER=worker", "NATS_PASSWORD=worker-password-63"}
	w := proctest.Start(t, binary, env, "worker", "--log-format", "json", "--exec", `dump=env > "$OUT/env"`)
	w.WaitOutput(w.Stderr, `"msg":"worker pool started"`)
	ok(t, "enqueue", "-s", withUserinfo(srv.URL(), token), "--id", "dump-1", "dump")
	eventually(t, func() bool { return strings.Contains(readFile(filepath.Join(out, "env")), "JETJOBS_ID=dump-1") }, "the command to run")
	got := strings.Split(readFile(filepath.Join(out, "env")), "\n")
	for _, name := range []string{"NATS_URL", "NATS_TOKEN", "NATS_USER", "NATS_PASSWORD"} {
		if slices.ContainsFunc(got, func(kv string) bool { return strings.HasPrefix(kv, name+"=") }) {
			t.Errorf("the command's environment has %s", name)
		}
	}
	if !slices.Contains(got, "KEEP_ME=1") {
		t.Errorf("the command's environment lost the worker's other variables:\n%s", strings.Join(got, "\n"))
	}
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("worker exit code = %d, want 0", code)
	}
}

func TestExecEnvDropsEveryConnectionVariable(t *testing.T) {
	in := []string{"PATH=/bin", "NATS_URL=nats://t@h", "NATS_USER=u", "NATS_PASSWORD=p", "NATS_TOKEN=t", "NATS_CREDS=/c", "NATS_NKEY=/k",
		"NATS_URL_EXTRA=kept", "nats_url=kept", "HOME=/home/ada"}
	want := []string{"PATH=/bin", "NATS_URL_EXTRA=kept", "nats_url=kept", "HOME=/home/ada"}
	if got := execEnv(in); !slices.Equal(got, want) {
		t.Errorf("execEnv = %q, want %q", got, want)
	}
}
