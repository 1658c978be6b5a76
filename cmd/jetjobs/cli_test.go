package main

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestEveryCommandHasHelp(t *testing.T) {
	root := (&app{}).rootCommand()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			path := strings.Fields(sub.CommandPath())[1:]
			t.Run(strings.Join(path, "_"), func(t *testing.T) {
				if sub.Short == "" {
					t.Errorf("%s has no short description", sub.CommandPath())
				}
				r := jetjobs(t, "", append(path, "--help")...)
				if r.Code != 0 || !strings.Contains(r.Stdout, "Usage:") {
					t.Errorf("%s --help: exit %d, stdout %q, stderr %q", sub.CommandPath(), r.Code, r.Stdout, r.Stderr)
				}
			})
			walk(sub)
		}
	}
	walk(root)
	for _, want := range []string{"demo", "server", "enqueue", "worker", "queues", "dlq"} {
		if c, _, err := root.Find([]string{want}); err != nil || c.Name() != want {
			t.Errorf("command %s is not registered", want)
		}
	}
}

func TestConnectionFlagsAreTheNatsCLIs(t *testing.T) {
	root := (&app{}).rootCommand()
	for _, path := range [][]string{{"enqueue"}, {"worker"}, {"queues"}, {"dlq", "ls"}, {"dlq", "purge"}} {
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"server", "creds", "user", "password", "token", "nkey", "tlscert", "tlskey", "tlsca", "inbox-prefix"} {
			f := c.Flag(name)
			if f == nil {
				t.Errorf("%s lacks --%s", c.CommandPath(), name)
			} else if name == "server" && f.Shorthand != "s" {
				t.Errorf("%s: --server has shorthand %q, want -s", c.CommandPath(), f.Shorthand)
			}
		}
	}
}

func TestTopologyFlagsWhereStreamsAreCreated(t *testing.T) {
	root := (&app{}).rootCommand()
	for _, c := range []struct {
		path []string
		want []string
	}{
		{[]string{"server"}, []string{"replicas"}},
		{[]string{"worker"}, []string{"replicas", "skip-topology"}},
		{[]string{"enqueue"}, []string{"replicas"}},
		{[]string{"cron", "add"}, []string{"replicas"}},
		{[]string{"cancel"}, []string{"replicas"}},
	} {
		cmd, _, err := root.Find(c.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range c.want {
			if cmd.Flag(name) == nil {
				t.Errorf("%s lacks --%s", cmd.CommandPath(), name)
			}
		}
	}
}

func TestParseHandlerSpecs(t *testing.T) {
	specs, err := parseHandlerSpecs([]string{"email.send=./send.sh --to=x", " report = make report "}, []string{"hook=http://127.0.0.1:1/x?a=b"})
	if err != nil {
		t.Fatal(err)
	}
	want := []handlerSpec{{"email.send", "./send.sh --to=x", false}, {"report", "make report", false}, {"hook", "http://127.0.0.1:1/x?a=b", true}}
	if len(specs) != len(want) {
		t.Fatalf("specs = %+v", specs)
	}
	for i := range want {
		if specs[i] != want[i] {
			t.Errorf("spec %d = %+v, want %+v", i, specs[i], want[i])
		}
	}
	for _, bad := range []struct{ execs, https []string }{
		{nil, nil},
		{[]string{"nocommand"}, nil},
		{[]string{"kind="}, nil},
		{[]string{"bad..kind=true"}, nil},
		{[]string{"a=true", "a=false"}, nil},
		{[]string{"a=true"}, []string{"a=http://x"}},
		{nil, []string{"a=127.0.0.1:80"}},
	} {
		if _, err := parseHandlerSpecs(bad.execs, bad.https); err == nil {
			t.Errorf("parseHandlerSpecs(%q, %q) succeeded, want an error", bad.execs, bad.https)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 8}
	if b.suffix() != "" {
		t.Errorf("empty suffix = %q", b.suffix())
	}
	b.Write([]byte("hello "))
	b.Write([]byte("world\n"))
	if got := b.suffix(); got != ": o world" {
		t.Errorf("suffix = %q, want the last 8 bytes trimmed", got)
	}
}

func TestCheckJSON(t *testing.T) {
	for _, good := range []string{"", `{}`, `[1,2]`, `"s"`, `42`, `null`} {
		if err := checkJSON([]byte(good)); err != nil {
			t.Errorf("checkJSON(%q) = %v", good, err)
		}
	}
	err := checkJSON([]byte(`{"a":`))
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("checkJSON of a cut object = %v", err)
	}
	if err := checkJSON([]byte(`{x}`)); err == nil || !strings.Contains(err.Error(), "at byte 2") {
		t.Errorf("checkJSON({x}) = %v, want the offset", err)
	}
}

func TestParseListen(t *testing.T) {
	for _, c := range []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:4222", "127.0.0.1", 4222, true},
		{"0.0.0.0:0", "0.0.0.0", -1, true},
		{"[::1]:4222", "::1", 4222, true},
		{"4222", "", 0, false},
		{"h:x", "", 0, false},
		{"h:70000", "", 0, false},
	} {
		host, port, err := parseListen(c.in)
		if (err == nil) != c.ok || host != c.host || port != c.port {
			t.Errorf("parseListen(%q) = %q, %d, %v", c.in, host, port, err)
		}
	}
}

func TestAgeAndProgressLine(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "-", 850 * time.Millisecond: "850ms", 12 * time.Second: "12s", 250 * time.Second: "4m10s",
		3*time.Hour + 5*time.Minute: "3h5m", 52 * time.Hour: "2d4h",
		time.Hour - 200*time.Millisecond: "1h0m", 59*time.Second + 700*time.Millisecond: "1m0s",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	p := newProgress(nil, false, "enqueue", 200)
	p.done = 50
	line := p.line(p.start.Add(time.Second))
	for _, want := range []string{"enqueue [", " 25%", "50/200", "50/s", "eta 3s"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress line %q lacks %q", line, want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true,
		"": false, "0.0.0.0": false, "::": false, "192.168.1.10": false, "nats.example.com": false,
	} {
		if got := loopback(host); got != want {
			t.Errorf("loopback(%q) = %v, want %v", host, got, want)
		}
	}
}
