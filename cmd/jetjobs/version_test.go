package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	var b strings.Builder
	writeVersion(&b, &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/jetjobs/jetjobs", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-12-06T10:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	})
	for _, want := range []string{"jetjobs v1.2.3\n", "revision: 0123abcd (2026-12-06T10:00:00Z), with uncommitted changes\n", "go: go1.", "embedded nats-server: 2."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeVersion(&b, nil)
	if !strings.HasPrefix(b.String(), "jetjobs (unknown)\n") || strings.Contains(b.String(), "revision") {
		t.Errorf("without build info: %q", b.String())
	}
}

// The binary prints the module version and revision its build info holds,
// as go version -m reads them. (Go stamps the revision in a clone, not in a
// git worktree or with -buildvcs=false; the version is a tag after go
// install ...@VERSION.)
func TestVersionCommandPrintsTheBuildInfo(t *testing.T) {
	out, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var version, revision string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			version = f[2]
		case len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	got := ok(t, "version")
	if version == "" || !strings.HasPrefix(got, "jetjobs "+version+"\n") {
		t.Errorf("jetjobs version printed %q, want the module version %q first", got, version)
	}
	if revision != "" && !strings.Contains(got, "revision: "+revision) {
		t.Errorf("jetjobs version printed %q, want revision %s", got, revision)
	}
}
