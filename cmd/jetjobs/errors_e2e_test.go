package main

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// A server without JetStream: every command says so in one line, naming
// the server and how to enable it, and exits 1.
func TestServerWithoutJetStream(t *testing.T) {
	srv := natstest.Start(t, func(o *server.Options) { o.JetStream = false })
	url := srv.URL()
	want := "jetjobs: JetStream is not enabled on " + url + ": start nats-server with -js (or use 'jetjobs server')\n"
	for _, args := range [][]string{
		{"queues"},
		{"enqueue", "k", "{}"},
		{"enqueue", "--count", "3", "k", "{}"},
		{"dlq", "ls"},
		{"dlq", "replay", "x"},
		{"cron", "ls"},
		{"cancel", "x"},
		{"queues", "pause", "q"},
		{"worker", "--exec", "k=true", "--log-level", "error"},
	} {
		r := jetjobs(t, "", append(args, "-s", url)...)
		if r.Code != exitError || r.Stderr != want {
			t.Errorf("jetjobs %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), r.Code, r.Stderr, want)
		}
	}
}

// A stream of the namespace that does not exist is named, with the flags
// that chose it and what creates it, rather than as the server's
// "stream not found".
func TestMissingStreamNamesItAndTheFlags(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "k") // the default namespace exists; NOPE does not
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "ls", "--stream", "NOPE"}, "jetjobs: dead-letter stream NOPE_DLQ not found on " + url + ": check --stream NOPE and --prefix jobs"},
		{[]string{"dlq", "show", "--stream", "NOPE", "x"}, "jetjobs: dead-letter stream NOPE_DLQ not found on " + url},
		{[]string{"queues", "--stream", "NOPE"}, "jetjobs: work stream NOPE not found on " + url + ": check --stream NOPE and --prefix jobs"},
		{[]string{"queues", "pause", "--stream", "NOPE", "q"}, "jetjobs: work stream NOPE not found on " + url},
		{[]string{"worker", "--skip-topology", "--stream", "NOPE", "--exec", "k=true", "--log-level", "error"},
			"jetjobs: work stream NOPE not found on " + url + ": --skip-topology assumes the streams exist"},
	} {
		r := jetjobs(t, "", append(c.args, "-s", url)...)
		if r.Code != exitError || !strings.HasPrefix(r.Stderr, c.want) || strings.Count(r.Stderr, "\n") != 1 ||
			strings.Contains(r.Stderr, "API error") || strings.Contains(r.Stderr, "EnsureTopology") {
			t.Errorf("jetjobs %s: exit %d, stderr %q; want exit 1 and one line starting %q", strings.Join(c.args, " "), r.Code, r.Stderr, c.want)
		}
	}
}

// --stream without a --prefix of its own names a namespace whose subjects
// the default stream already stores: enqueue stores nothing and fails as a
// worker does, saying to set --prefix too.
func TestEnqueueRefusesSubjectsOfAnotherStream(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "k", "{}")
	_, js := srv.Connect(t)
	ctx := t.Context()
	jobs := func() uint64 {
		s, err := js.Stream(ctx, "JOBS")
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().State.Msgs
	}
	for _, args := range [][]string{
		{"enqueue", "--stream", "MYAPP", "-q", "oq", "k", "{}"},
		{"enqueue", "--stream", "MYAPP", "-q", "oq", "--count", "3", "k", "{}"},
		{"worker", "--stream", "MYAPP", "--exec", "k=true", "--log-level", "error"},
	} {
		r := jetjobs(t, "", append(args, "-s", url)...)
		if r.Code != exitError || strings.Count(r.Stderr, "\n") != 1 || !strings.Contains(r.Stderr, "subjects overlap with an existing stream") ||
			!strings.Contains(r.Stderr, "--prefix (or JETJOBS_PREFIX) together with --stream") {
			t.Errorf("jetjobs %s: exit %d, stderr %q; want exit 1 and one line on the overlap and --prefix", strings.Join(args, " "), r.Code, r.Stderr)
		}
		if r.Stdout != "" {
			t.Errorf("jetjobs %s printed %q, want no job ID", strings.Join(args, " "), r.Stdout)
		}
	}
	if n := jobs(); n != 1 {
		t.Errorf("stream JOBS holds %d jobs, want only the first (the others belong to no stream of theirs)", n)
	}
	if _, err := js.Stream(ctx, "MYAPP"); err == nil {
		t.Error("stream MYAPP was created")
	}
	// With a prefix of its own the namespace works.
	ok(t, "enqueue", "-s", url, "--stream", "MYAPP", "--prefix", "myapp", "-q", "oq", "k", "{}")
	if s, err := js.Stream(ctx, "MYAPP"); err != nil || s.CachedInfo().State.Msgs != 1 {
		t.Errorf("stream MYAPP: %v, want it to hold the job", err)
	}
}

// A port in use fails `jetjobs server` at once, with the reason; so does
// any other port of a --config the server cannot listen on.
func TestServerPortInUseFailsAtOnce(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("host: 127.0.0.1\nport: -1\nhttp: "+addr+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", addr}, "jetjobs: cannot listen on " + addr + ": the address is in use; is a server running there already?"},
		{[]string{"--config", conf}, "jetjobs: the NATS server could not start: "},
	} {
		start := time.Now()
		r := jetjobs(t, "", append([]string{"server", "--store", t.TempDir(), "--log-level", "error"}, c.args...)...)
		// The server used to wait 10s for a listener that never came.
		if took := time.Since(start); r.Code != exitError || !strings.HasPrefix(r.Stderr, c.want) || strings.Count(r.Stderr, "\n") != 1 || took > 8*time.Second {
			t.Errorf("server %v: exit %d after %s, stderr %q; want exit 1 at once and one line starting %q", c.args, r.Code, took, r.Stderr, c.want)
		}
	}
}

// bench against a server deletes every stream it created, the cancel
// bucket's included, and leaves the others alone.
func TestBenchDeletesEverythingItCreated(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	ok(t, "enqueue", "-s", url, "k")
	_, js := srv.Connect(t)
	names := func() []string {
		var out []string
		l := js.StreamNames(t.Context())
		for n := range l.Name() {
			out = append(out, n)
		}
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	before := names()
	ok(t, "bench", "drain", "-s", url, "-n", "100", "--concurrency", "4")
	if after := names(); !slices.Equal(before, after) {
		t.Errorf("streams before bench %v, after %v", before, after)
	}
	if _, err := js.Stream(t.Context(), "KV_JETJOBS_BENCH_CANCELED"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("KV_JETJOBS_BENCH_CANCELED after bench: %v, want not found", err)
	}
}

// A server other machines can reach starts only with authentication, or
// with --allow-open, and then warns.
func TestServerRefusesToStartOpen(t *testing.T) {
	noHost := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(noHost, []byte("port: -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "0.0.0.0:0"}, "jetjobs: --listen 0.0.0.0:0: other machines can reach this address and no authentication is configured"},
		{[]string{"--listen", ":0"}, "jetjobs: --listen :0: other machines can reach"},
		{[]string{"--listen", "[::]:0"}, "jetjobs: --listen [::]:0: other machines can reach"},
		{[]string{"--config", noHost}, "jetjobs: --config " + noHost + ": host 0.0.0.0: other machines can reach"},
	} {
		r := jetjobs(t, "", append([]string{"server", "--store", t.TempDir()}, c.args...)...)
		if r.Code != exitUsage || !strings.HasPrefix(r.Stderr, c.want) || !strings.Contains(r.Stderr, "--allow-open") || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("server %v: exit %d, stderr %q; want exit 2 and one line starting %q that names --allow-open", c.args, r.Code, r.Stderr, c.want)
		}
	}

	// The help's examples do not show an open server either.
	help := ok(t, "server", "--help")
	for line := range strings.Lines(help) {
		if strings.Contains(line, "jetjobs server") && strings.Contains(line, "--listen 0.0.0.0") && !strings.Contains(line, "--config") {
			t.Errorf("server --help shows an open server: %s", line)
		}
	}
	if !strings.Contains(help, "--allow-open") {
		t.Errorf("server --help does not name --allow-open:\n%s", help)
	}

	_, p := startServerProc(t, "--listen", "0.0.0.0:0", "--allow-open", "--log-format", "json")
	p.WaitOutput(p.Stderr, `"level":"WARN","msg":"open server: no authentication`)

	auth := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(auth, []byte("authorization { token: s3cret }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, p = startServerProc(t, "--config", auth, "--listen", "0.0.0.0:0", "--log-format", "json")
	if strings.Contains(p.Stderr.String(), "open server") {
		t.Errorf("a server with authentication warns that it is open:\n%s", p.Stderr)
	}
}
