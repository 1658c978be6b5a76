package wire_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pendingDirs are directories (relative to the module root) whose
// literals TestNoProtocolLiterals does not check yet: worker/ is being
// rewritten and switches to this package when that work merges. The lead
// empties this list when merging; do not add to it.
var pendingDirs = []string{}

// TestNoProtocolLiterals fails when a non-test Go file outside
// internal/wire spells a header name of the protocol as a string literal
// ("Jetjobs-..." or "Nats-..."): every such name has one home, here.
func TestNoProtocolLiterals(t *testing.T) {
	root := moduleRoot(t)
	var offenders []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			if rel == "internal/wire" || slices.Contains(pendingDirs, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			if strings.HasPrefix(s, "Jetjobs-") || strings.HasPrefix(s, "Nats-") {
				pos := fset.Position(lit.Pos())
				file, _ := filepath.Rel(root, pos.Filename)
				offenders = append(offenders, filepath.ToSlash(file)+":"+strconv.Itoa(pos.Line)+": "+lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(offenders) > 0 {
		t.Errorf("protocol header names spelled as string literals outside internal/wire; use the wire constants (or job's Header* re-exports):\n\t%s",
			strings.Join(offenders, "\n\t"))
	}
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}
