package integration

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// On a three-node cluster, `jetjobs enqueue --replicas 3` creates the
// streams with 3 replicas, and a `jetjobs worker` started with defaults
// leaves them at 3 instead of scaling them down to its default of 1.
func TestCLIKeepsClusterReplicas(t *testing.T) {
	cl := startCluster(t)
	urls := cl.urls()
	var out, errOut string
	// The cluster may still be electing its JetStream leader: retry.
	waitFor(t, 60*time.Second, 200*time.Millisecond, func() bool {
		var code int
		out, errOut, code = runCLI(t, "enqueue", "-s", urls, "--replicas", "3", "work", "{}")
		return code == 0
	}, "enqueue --replicas 3 created the streams (last error %q)", errOut)
	id := strings.TrimSpace(out)

	_, js := connect(t, urls)
	ctx := t.Context()
	names := []string{"JOBS", "JOBS_DLQ", "JOBS_SCHEDULES", "KV_JOBS_CANCELED", "KV_JOBS_STATE"}
	replicas := func() map[string]int {
		got := map[string]int{}
		for _, name := range names {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s, err := js.Stream(ctx, name)
			cancel()
			if err != nil {
				t.Fatalf("stream %s: %v", name, err)
			}
			got[name] = s.CachedInfo().Config.Replicas
		}
		return got
	}
	for name, n := range replicas() {
		if n != 3 {
			t.Errorf("enqueue --replicas 3 made stream %s with %d replicas", name, n)
		}
	}

	recDir := t.TempDir()
	w := startCLIWorker(t, recDir, "defaults", "-s", urls)
	waitFor(t, 30*time.Second, 20*time.Millisecond, func() bool { return doneCounts(readRecords(t, recDir))[id] == 1 },
		"the worker ran job %s", id)
	for name, n := range replicas() {
		if n != 3 {
			t.Errorf("a worker with default flags changed stream %s to %d replicas", name, n)
		}
	}
	w.signal(syscall.SIGTERM)
	if code, ok := w.wait(20 * time.Second); !ok || code != 0 {
		t.Fatalf("worker exit %d (exited %v):\n%s", code, ok, tail(w.logPath, 10))
	}
}
