package jetjobstest_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing the
// test, so a test can run a helper on a wrong expectation and check what
// it says. Everything else (Cleanup, TempDir, Context) is the real test's.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func record(t *testing.T) *recorder { return &recorder{TB: t} }

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatal(args ...any)                 { r.add(fmt.Sprint(args...)) }
func (r *recorder) Error(args ...any)                 { r.add(fmt.Sprint(args...)) }
func (r *recorder) FailNow()                          { r.add("FailNow") }
func (r *recorder) Fail()                             { r.add("Fail") }

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, msg)
}

// failure returns the one failure recorded, failing t if there is not
// exactly one.
func (r *recorder) failure(t *testing.T) string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) != 1 {
		t.Fatalf("recorded %d failures, want 1: %q", len(r.msgs), r.msgs)
	}
	return r.msgs[0]
}

// passed fails t if anything was recorded.
func (r *recorder) passed(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) > 0 {
		t.Fatalf("the helper failed:\n%s", strings.Join(r.msgs, "\n"))
	}
}

// requireContains fails t unless msg contains every one of wants.
func requireContains(t *testing.T, msg string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("failure message lacks %q:\n%s", w, msg)
		}
	}
}
