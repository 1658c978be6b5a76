package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An example README that starts a CLI worker serves every queue its
// commands enqueue to: a job enqueued to a queue no worker serves waits for
// ever (examples/enqueue-node once enqueued to mail with a worker of
// default only).
func TestExampleREADMEWorkersServeTheQueuesTheyEnqueueTo(t *testing.T) {
	readmes, err := filepath.Glob("../../examples/*/README.md")
	if err != nil || len(readmes) == 0 {
		t.Fatalf("no example READMEs: %v", err)
	}
	for _, path := range readmes {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var served, enqueued []string
		workers := 0
		for line := range strings.Lines(string(b)) {
			if !strings.HasPrefix(line, "    ") { // commands are indented code
				continue
			}
			fields := strings.Fields(line)
			switch {
			case strings.Contains(line, "jetjobs worker"):
				workers++
				served = append(served, queueFlag(fields)...)
			case strings.Contains(line, "jetjobs enqueue"), strings.Contains(line, "enqueue.mjs"):
				enqueued = append(enqueued, queueFlag(fields)...)
			}
		}
		if workers == 0 {
			continue
		}
		for _, q := range enqueued {
			if !slices.Contains(served, q) {
				t.Errorf("%s enqueues to queue %s, which its worker commands (queues %v) do not serve", path, q, served)
			}
		}
	}
}

// queueFlag returns the queues of a command line's --queue or -q flag, or
// default.
func queueFlag(fields []string) []string {
	for i, f := range fields {
		v, ok := strings.CutPrefix(f, "--queue=")
		if !ok && (f == "--queue" || f == "-q") && i+1 < len(fields) {
			v, ok = fields[i+1], true
		}
		if ok {
			return strings.Split(strings.Trim(v, `'"`), ",")
		}
	}
	return []string{"default"}
}

// The folder the embedded example stores its jobs in (its default
// DATA_DIR, relative to where it runs) is ignored by git.
func TestGitIgnoresTheEmbeddedExamplesStore(t *testing.T) {
	for _, path := range []string{"../../examples/embedded/embedded-data/jetstream/x", "../../embedded-data/x"} {
		out, err := exec.Command("git", "check-ignore", "-v", path).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee) && ee.ExitCode() == 1:
			t.Errorf("git does not ignore %s", path)
		case err != nil:
			t.Skipf("git check-ignore: %v %s", err, out)
		}
	}
}
