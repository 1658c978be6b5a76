package tracing_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph keeps the optional dependencies optional: OpenTelemetry
// only in this package, Prometheus only in package metrics, and the NATS
// server in neither (nor in the core packages).
func TestImportGraph(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go command is not available")
	}
	const mod = "github.com/jetjobs/jetjobs/"
	forbidden := map[string][]string{
		"job":        {"go.opentelemetry.io/", "github.com/prometheus/", "github.com/nats-io/nats-server/"},
		"retry":      {"go.opentelemetry.io/", "github.com/prometheus/", "github.com/nats-io/nats-server/"},
		"middleware": {"go.opentelemetry.io/", "github.com/prometheus/", "github.com/nats-io/nats-server/"},
		"worker":     {"go.opentelemetry.io/", "github.com/prometheus/", "github.com/nats-io/nats-server/"},
		"metrics":    {"go.opentelemetry.io/", "github.com/nats-io/nats-server/"},
		"tracing":    {"github.com/prometheus/", "github.com/nats-io/nats-server/", mod + "worker"},
	}
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", mod+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for dep := range strings.FieldsSeq(string(out)) {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s imports %s", pkg, dep)
				}
			}
		}
	}
}
