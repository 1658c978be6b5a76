package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// mountTmpfs mounts a tmpfs of size (mount's size option, such as "8m") on
// dir and unmounts it when the test ends, also when it fails. Without the
// right to mount it skips the test, except under CI=true, where it fails.
func mountTmpfs(tb testing.TB, dir, size string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)) && os.Getenv("CI") != "true" {
			tb.Skipf("mounting a tmpfs for the server's store needs root (CAP_SYS_ADMIN): %v", err)
		}
		tb.Fatalf("mount a %s tmpfs on %s: %v", size, dir, err)
	}
	// After the server's cleanup (cleanups run last first): nothing holds
	// files in it by then.
	tb.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
				tb.Errorf("unmount %s: %v", dir, err)
			}
		}
	})
}

// A server whose store sits on an 32 MiB filesystem, sized as nats-server
// sizes it by default (max_file_store unset: 75% of the free disk), is
// filled with jobs while no worker runs. Then:
//   - enqueue fails with ErrStorageFull, the CLI with one line and exit 1,
//     and the refused jobs are not stored;
//   - a job that fails and must be dead-lettered while the disk is full is
//     handed back (its dead letter cannot be stored), not lost;
//   - workers run and acknowledge the stored jobs, which frees the space;
//   - enqueue succeeds again without a restart, and the failing job is
//     dead-lettered.
//
// The books count every accepted job: lost must be 0.
func TestFaultDiskFull(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{maxFileStore: "disk"})
	mountTmpfs(t, filepath.Join(srv.dir, "store"), "32m")
	srv.start()
	e := newFaultEnv(t, "full disk", srv.url(), job.Topology{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The failing job, first in a queue of its own: its worker runs while
	// the disk is full and nothing else frees space.
	failing := job.Queue("failing")
	if _, err := e.client.Enqueue(ctx, "poison.panic", nil, failing, job.ID("poison-full"), job.MaxAttempts(1)); err != nil {
		t.Fatal(err)
	}
	e.ledger.add("poison-full")

	// Fill the disk: jobs of 16 KiB until the server refuses them.
	pad := strings.Repeat("x", 16<<10)
	fillReq := func(prefix string, i int) job.Request {
		return job.Request{Kind: "work", Args: map[string]any{"ms": 20, "pad": pad}, Options: []job.Option{job.ID(fmt.Sprintf("%s-%d", prefix, i))}}
	}
	var (
		refused []string
		fullErr error
	)
	start := time.Now()
	for i := 0; fullErr == nil; {
		if i > 5000 {
			t.Fatal("5000 jobs of 16 KiB stored on a 32 MiB disk")
		}
		batch := make([]job.Request, 20)
		for j := range batch {
			batch[j] = fillReq("fill", i)
			i++
		}
		r, err := e.enqueueBooked(ctx, batch, job.ErrStorageFull)
		refused = append(refused, r...)
		if err != nil {
			fullErr = err
		}
	}
	fullAt := time.Now()
	stored := e.ledger.len()
	t.Logf("disk full after %d jobs (%s): %v", stored, ms(fullAt.Sub(start)), fullErr)
	if !strings.Contains(fullErr.Error(), "max_file_store") || !strings.Contains(fullErr.Error(), "disk") {
		t.Errorf("the storage-full error does not say what to do: %v", fullErr)
	}

	// The CLI: one line that names the cause and what to do, exit 1.
	out, errOut, code := runCLI(t, "enqueue", "-s", srv.url(), "--id", "cli-full", "work", `{"ms":0}`)
	cliLine := strings.TrimSpace(errOut)
	if code != 1 || out != "" || strings.Count(cliLine, "\n") != 0 ||
		!strings.Contains(cliLine, "out of storage") || !strings.Contains(cliLine, "free disk space") {
		t.Errorf("jetjobs enqueue on a full disk: exit %d, stdout %q, stderr %q; want exit 1 and one line naming the cause and what to do", code, out, errOut)
	}

	// The failing job's worker: the job panics, its dead letter is refused,
	// and the job goes back to the work stream.
	fw := e.worker("failing", "-skip-topology", "-queues", "failing", "-concurrency", "1", "-ack-wait", "5s")
	waitFor(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return fw.logContains("dead-lettering failed; the job will be delivered again")
	}, "the dead letter of the failing job refused while the disk is full")
	handedBack := time.Now()
	if _, err := e.client.Enqueue(ctx, "work", nil, job.ID("still-full")); !errors.Is(err, job.ErrStorageFull) {
		t.Fatalf("enqueue while the disk is still full: %v, want ErrStorageFull", err)
	}

	// Workers drain the stored jobs; meanwhile a producer retries one job
	// until the server takes it.
	e.worker("w1", "-skip-topology", "-concurrency", "8", "-ack-wait", "5s")
	workersAt := time.Now()
	var acceptedAt time.Time
	var retriesUntilAccepted int
	for acceptedAt.IsZero() {
		_, err := e.client.Enqueue(ctx, "work", map[string]int{"ms": 0}, job.ID("first-after-full"))
		switch {
		case err == nil:
			acceptedAt = time.Now()
			e.ledger.add("first-after-full")
		case errors.Is(err, job.ErrStorageFull):
			retriesUntilAccepted++
			if err := wait(ctx, 10*time.Millisecond); err != nil {
				t.Fatalf("enqueue not accepted again: %v", err)
			}
		default:
			t.Fatalf("enqueue after workers started: %v", err)
		}
	}
	// Once the stored jobs are drained, the refused ones go in too.
	waitFor(t, 60*time.Second, 50*time.Millisecond, func() bool { return e.books.streamEmpty(ctx) }, "the stored jobs drained")
	drainedAt := time.Now()
	again := make([]job.Request, len(refused))
	for i, id := range refused {
		again[i] = job.Request{Kind: "work", Args: map[string]any{"ms": 20, "pad": pad}, Options: []job.Option{job.ID(id)}}
	}
	e.enqueueAll(ctx, again)

	e.books.accepted = e.ledger.list()
	s := e.books.settle(t, 60*time.Second)
	dl, dead := s.deadOf["poison-full"]
	if !dead {
		t.Fatal("the failing job was not dead-lettered once space was free")
	}
	// Its first failure is in the worker's log; the dead letter, written on
	// the delivery after, must not blame a dead worker alone.
	if !strings.Contains(dl.Error, "dead letter") {
		t.Errorf("the failing job's dead letter does not say its dead letter could not be stored: %s: %s", dl.Reason, dl.Error)
	}
	delete(s.deadOf, "poison-full")
	noneDead(t, s)
	if done := doneCounts(readRecords(t, e.recDir)); done["still-full"] > 0 || done["cli-full"] > 0 {
		t.Error("a job refused with ErrStorageFull ran")
	}
	// The server refused jobs before the filesystem ran out: a write that
	// fails there stops the stream (see TestFaultDiskFullENOSPC).
	if srv.proc.logContains("no space left on device") {
		t.Errorf("the server met ENOSPC: its 25%% headroom did not cover its own writes")
	}
	report(t, "full-disk", s,
		fmt.Sprintf("32 MiB tmpfs store, max_file_store unset (75%% of the free disk); disk full after %d jobs of 16 KiB in %s; %d refused with ErrStorageFull; CLI exit %d: %q; dead letter of the failing job refused, job handed back",
			stored, ms(fullAt.Sub(start)), len(refused)+1, code, cliLine),
		fmt.Sprintf("enqueue accepted again %s after workers started (%d refused tries, %s after the disk filled); %d stored jobs drained in %s; failing job dead-lettered (reason %s) %s after its dead letter was refused",
			ms(acceptedAt.Sub(workersAt)), retriesUntilAccepted, ms(acceptedAt.Sub(fullAt)), stored, ms(drainedAt.Sub(workersAt)), dl.Reason, ms(dl.FailedAt.Sub(handedBack))))
}

// remountTmpfs resizes the tmpfs on dir: the operator who adds disk space.
func remountTmpfs(tb testing.TB, dir, size string) {
	tb.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size="+size); err != nil {
		tb.Fatalf("resize the tmpfs on %s to %s: %v", dir, size, err)
	}
}

// The disk runs out under the server: its max_file_store (1GB) is more than
// the 8 MiB filesystem holds, as when the store shares its disk with
// something else that fills it. nats-server 2.15 then marks the stream with a
// critical write error: it answers no publish (an enqueue times out; no code
// to map to ErrStorageFull), and acknowledged jobs are not removed, even
// after space is added. Only a restart clears it. The books show what that
// costs: no job lost, the jobs acknowledged while the stream was stopped run
// again.
func TestFaultDiskFullENOSPC(t *testing.T) {
	srv := newNATSServer(t, natsServerConfig{}) // max_file_store 1GB
	store := filepath.Join(srv.dir, "store")
	mountTmpfs(t, store, "8m")
	srv.start()
	e := newFaultEnv(t, "ENOSPC", srv.url(), job.Topology{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.worker("w1", "-skip-topology", "-concurrency", "4", "-ack-wait", "5s")

	// Enqueue until one fails.
	pad := strings.Repeat("x", 16<<10)
	enqueue := func(id string, timeout time.Duration) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := e.client.Enqueue(cctx, "work", map[string]any{"ms": 50, "pad": pad}, job.ID(id))
		if err == nil {
			e.ledger.add(id)
		}
		return err
	}
	var fullErr error
	start := time.Now()
	for i := 0; fullErr == nil; i++ {
		if i > 5000 {
			t.Fatal("5000 jobs of 16 KiB stored on an 8 MiB disk")
		}
		fullErr = enqueue(fmt.Sprintf("fill-%d", i), 2*time.Second)
	}
	fullAt := time.Now()
	stored := e.ledger.len()
	if !errors.Is(fullErr, context.DeadlineExceeded) {
		t.Logf("the enqueue on ENOSPC failed otherwise than by a timeout: %v", fullErr)
	}
	if !poll(10*time.Second, 50*time.Millisecond, func() bool { return srv.proc.logContains("no space left on device") }) {
		t.Fatal("the server never met ENOSPC")
	}

	// Space is added; the stream stays stopped.
	remountTmpfs(t, store, "64m")
	stalled := enqueue("after-space", 2*time.Second)
	doneBeforeRestart := len(doneCounts(readRecords(t, e.recDir)))
	st, err := e.client.JetStream().Stream(ctx, e.client.Topology().Stream)
	if err != nil {
		t.Fatal(err)
	}
	msgsBeforeRestart := st.CachedInfo().State.Msgs

	// The restart: enqueue works again, and the books balance.
	srv.kill()
	restartAt := time.Now()
	srv.start()
	var acceptedAt time.Time
	waitFor(t, 60*time.Second, 20*time.Millisecond, func() bool {
		if enqueue("after-restart", time.Second) != nil {
			return false
		}
		acceptedAt = time.Now()
		return true
	}, "an enqueue accepted after the restart")
	// Not settle: the jobs acknowledged while the stream was stopped stay in
	// it after the restart (the consumer counts them done), so it never
	// empties. Every accepted job must have run.
	e.books.accepted = e.ledger.list()
	var s summary
	if !poll(60*time.Second, 100*time.Millisecond, func() bool {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s = e.books.tally(tctx, t)
		return s.Lost == 0
	}) {
		t.Errorf("ENOSPC: %d of %d jobs lost (e.g. %v)", s.Lost, s.Jobs, s.lost[:min(len(s.lost), 10)])
	}
	noneDead(t, s)
	left := uint64(0)
	if st, err := e.client.JetStream().Stream(ctx, e.client.Topology().Stream); err == nil {
		left = st.CachedInfo().State.Msgs
	}
	report(t, "full-disk-enospc", s,
		fmt.Sprintf("8 MiB tmpfs store under max_file_store 1GB; ENOSPC after %d jobs of 16 KiB in %s; that enqueue got %q; after space was added the stream stayed stopped (enqueue: %v; %d jobs run, %d still in the stream)",
			stored, ms(fullAt.Sub(start)), firstLine(strings.TrimPrefix(fullErr.Error(), "jetjobs: ")), stalled, doneBeforeRestart, msgsBeforeRestart),
		fmt.Sprintf("server restarted (SIGKILL): enqueue accepted %s after the restart; %d jobs acknowledged while the stream was stopped stay in it", ms(acceptedAt.Sub(restartAt)), left))
}
