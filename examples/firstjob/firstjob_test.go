package main

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/proctest"
)

var binary string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, ".", "firstjob", &binary))
}

// The README's Go sample is this program's main.go, character for
// character: the file compiles (the test binary is built from it), so the
// README's sample does.
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, found := strings.Cut(string(readme), "\n```go\n")
	block, _, closed := strings.Cut(after, "\n```\n")
	if !found || !closed {
		t.Fatal("README.md has no ```go code block")
	}
	if block+"\n" != string(src) {
		t.Errorf("README.md's first Go block is not examples/firstjob/main.go; copy the file into the README.\nREADME:\n%s", block)
	}
}

// The program runs as the README says: against a running server it runs
// the job it enqueues, then a job published with a plain NATS publish (what
// `nats pub` sends), and Ctrl-C stops it cleanly.
func TestFirstJobRuns(t *testing.T) {
	srv := natstest.Start(t)
	p := proctest.Start(t, binary, []string{"NATS_URL=" + srv.URL()})
	p.WaitOutput(p.Stdout, `sending email to ada@example.com \(job \S+, attempt 1\)`)

	nc, _ := srv.Connect(t)
	if err := nc.Publish("jobs.default.email.send", []byte(`{"to":"grace@example.com"}`)); err != nil {
		t.Fatal(err)
	}
	p.WaitOutput(p.Stdout, `sending email to grace@example.com`)
	if code := p.Stop(syscall.SIGINT); code != 0 {
		t.Errorf("exit code after Ctrl-C = %d, want 0", code)
	}
}

// Without a server it fails with one line that says what to start.
func TestFirstJobWithoutServer(t *testing.T) {
	r := proctest.Run(t, binary, []string{"NATS_URL=nats://127.0.0.1:1"}, "")
	if r.Code != 1 || !strings.Contains(r.Stderr, "is `jetjobs server` running?") {
		t.Errorf("exit %d, stderr %q; want 1 and a hint to start a server", r.Code, r.Stderr)
	}
}

// .ci/run runs the test command the README gives contributors.
func TestCIRunsTheREADMEsTestCommand(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	_, contrib, ok := strings.Cut(string(readme), "## Contributing")
	if !ok {
		t.Fatal("README.md has no Contributing section")
	}
	var cmd string
	for line := range strings.Lines(contrib) {
		if f := strings.TrimSpace(line); strings.HasPrefix(f, "go test ") {
			cmd, _, _ = strings.Cut(f, "#")
			cmd = strings.TrimSpace(cmd)
			break
		}
	}
	if cmd == "" {
		t.Fatal("README.md's Contributing section gives no go test command")
	}
	found := false
	for line := range strings.Lines(string(ci)) {
		if strings.TrimSpace(line) == cmd {
			found = true
		}
	}
	if !found {
		t.Errorf(".ci/run does not run the README's test command %q", cmd)
	}
}
