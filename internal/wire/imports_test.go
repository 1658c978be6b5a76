package wire_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/jetjobs/jetjobs"

// allowedImports bounds the jetjobs packages a package may import
// (non-test files): dependencies point one way, job <- retry, middleware,
// tracing <- worker <- cmd, and internal/wire sits below them all.
var allowedImports = map[string][]string{
	"internal/wire": {},
	"job":           {"internal/wire", "internal/faultpoint", "internal/replies"},
	"retry":         {"job", "internal/wire"},
	"middleware":    {"job", "internal/wire"},
	"tracing":       {"job", "internal/wire"},
	"dashboard":     {"job", "internal/wire"},
	// The hooks between worker and jetjobstest sit below worker.
	"internal/inline": {"job"},
	// The fault suite's points in the flow step sit below job.
	"internal/faultpoint": {},
	// Reply-subject tokens, for job's enqueue and worker's acker.
	"internal/replies": {},
}

// serverAllowed are the packages (and the trees under them) that may use
// nats-server: programs, tests that run servers, and test helpers. Every
// other package is a library package.
var serverAllowed = []string{
	"cmd", "examples", "integration", "jetjobstest",
	"internal/natstest", "internal/pooltest", "internal/proctest", "internal/bench",
}

const (
	natsServer = "github.com/nats-io/nats-server"
	natsGo     = "github.com/nats-io/nats.go"
)

func TestImportGraph(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command:", err)
	}
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type pkgInfo struct {
		path, rel     string
		imports, deps []string
	}
	var pkgs []pkgInfo
	deps := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			t.Fatalf("go list line %q", sc.Text())
		}
		p := pkgInfo{path: fields[0], rel: relPkg(fields[0]), imports: strings.Fields(fields[1]), deps: strings.Fields(fields[2])}
		pkgs = append(pkgs, p)
		deps[p.path] = p.deps
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// through names the direct import by which a package reaches nats-server.
	through := func(imports []string) string {
		for _, imp := range imports {
			if strings.HasPrefix(imp, natsServer) {
				return imp
			}
		}
		for _, imp := range imports {
			if slices.ContainsFunc(deps[imp], func(d string) bool { return strings.HasPrefix(d, natsServer) }) {
				return imp
			}
		}
		return "?"
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.rel] = true
		if allowed, ok := allowedImports[p.rel]; ok {
			for _, imp := range p.imports {
				if rel, ours := ownPkg(imp); ours && !slices.Contains(allowed, rel) {
					t.Errorf("%s imports %s; of jetjobs it may import only %v", p.rel, imp, allowed)
				}
			}
		}
		if p.rel == "internal/wire" {
			for _, imp := range p.imports {
				std := !strings.Contains(strings.Split(imp, "/")[0], ".")
				if !std && imp != natsGo && !strings.HasPrefix(imp, natsGo+"/") {
					t.Errorf("internal/wire imports %s; it may import only the standard library and %s", imp, natsGo)
				}
			}
		}
		if underAny(p.rel, serverAllowed) {
			continue
		}
		if slices.ContainsFunc(p.deps, func(d string) bool { return strings.HasPrefix(d, natsServer) }) {
			t.Errorf("library package %s depends on %s through its import of %s; only cmd/, examples/, tests and test helpers may", p.rel, natsServer, through(p.imports))
		}
	}
	for pkg := range allowedImports {
		if !seen[pkg] {
			t.Errorf("package %s not found by go list; update allowedImports", pkg)
		}
	}
}

// relPkg returns a jetjobs import path relative to the module.
func relPkg(path string) string {
	if rel, ok := ownPkg(path); ok {
		return rel
	}
	return path
}

// ownPkg reports whether path is a jetjobs package, and its path relative
// to the module.
func ownPkg(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func underAny(pkg string, dirs []string) bool {
	for _, d := range dirs {
		if pkg == d || strings.HasPrefix(pkg, d+"/") {
			return true
		}
	}
	return false
}
