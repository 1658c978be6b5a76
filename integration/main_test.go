package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// bin holds the paths of the binaries TestMain builds.
var bin struct {
	natsServer string // nats-server at the version pinned in go.mod
	jetjobs    string // the CLI
	testworker string // integration/internal/testworker
}

// buildMain builds the binaries before the tests run and removes them after.
type buildMain struct{ m *testing.M }

func (b buildMain) Run() int {
	dir, err := os.MkdirTemp("", "jetjobs-integration-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// One go build for all three: the packages share most of their
	// dependencies. nats-server is a module dependency, so this builds the
	// pinned version; the CLI and worker are built without -race to keep
	// the suite fast on small machines.
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/nats-io/nats-server/v2",
		"github.com/jetjobs/jetjobs/cmd/jetjobs",
		"github.com/jetjobs/jetjobs/integration/internal/testworker")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: building the test binaries failed:", err)
		return 1
	}
	bin.natsServer = filepath.Join(dir, "nats-server")
	bin.jetjobs = filepath.Join(dir, "jetjobs")
	bin.testworker = filepath.Join(dir, "testworker")
	return b.m.Run()
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(buildMain{m})
}
