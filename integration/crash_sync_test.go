package integration

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetjobs/jetjobs/job"
	"github.com/nats-io/nats.go/jetstream"
)

// crashDisk is an ext4 filesystem on a loop device whose backing file is
// the "disk": what the kernel has written back to the file is on the disk,
// what sits in the page cache of the filesystem is not. A copy of the file
// taken at an instant is the disk as a power cut at that instant leaves
// it.
type crashDisk struct {
	tb    testing.TB
	image string
	dir   string
}

// newCrashDisk makes a size-byte ext4 image and mounts it on dir. The
// journal commits every 300 s (ext4's default is 5 s) and data is
// allocated on writeback (delalloc, the default): only an fsync or the
// kernel's writeback puts a write on the disk within the test.
func newCrashDisk(tb testing.TB, dir string, size int64) *crashDisk {
	tb.Helper()
	requireRoot(tb, "a loop-mounted filesystem")
	image := filepath.Join(tb.TempDir(), "disk.img")
	f, err := os.Create(image)
	must(tb, err)
	must(tb, f.Truncate(size))
	must(tb, f.Close())
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", image).CombinedOutput(); err != nil {
		tb.Fatalf("mkfs.ext4 (Debian: apt-get install e2fsprogs): %v: %s", err, out)
	}
	d := &crashDisk{tb: tb, image: image, dir: dir}
	d.mount(image)
	return d
}

func (d *crashDisk) mount(image string) {
	d.tb.Helper()
	must(d.tb, os.MkdirAll(d.dir, 0o755))
	if out, err := exec.Command("mount", "-o", "loop,commit=300", image, d.dir).CombinedOutput(); err != nil {
		d.tb.Fatalf("mount %s on %s: %v: %s", image, d.dir, err, out)
	}
	d.tb.Cleanup(func() { d.unmount() })
}

// unmount unmounts dir if it is mounted (the loop device goes with it).
func (d *crashDisk) unmount() {
	var st, parent unix.Stat_t
	if unix.Stat(d.dir, &st) != nil || unix.Stat(filepath.Dir(d.dir), &parent) != nil || st.Dev == parent.Dev {
		return
	}
	if out, err := exec.Command("umount", d.dir).CombinedOutput(); err != nil {
		if out2, err2 := exec.Command("umount", "-l", d.dir).CombinedOutput(); err2 != nil {
			d.tb.Errorf("unmount %s: %v: %s; %v: %s", d.dir, err, out, err2, out2)
		}
	}
}

// syncfs writes everything of the filesystem to the disk.
func (d *crashDisk) syncfs() {
	d.tb.Helper()
	f, err := os.Open(d.dir)
	must(d.tb, err)
	defer f.Close()
	must(d.tb, unix.Syncfs(int(f.Fd())))
}

// waitWritten waits until the server has handed every byte of the work
// stream's messages to the kernel: the message blocks under the store hold
// at least the bytes the stream reports. A server may keep a block's latest
// records in its own buffer for a moment after it acknowledged them (while
// the block's file is not open); syncfs writes only what the kernel has.
func (d *crashDisk) waitWritten(ctx context.Context, js jetstream.JetStream, stream string) {
	d.tb.Helper()
	s, err := js.Stream(ctx, stream)
	must(d.tb, err)
	info, err := s.Info(ctx)
	must(d.tb, err)
	want := int64(info.State.Bytes)
	var have int64
	waitFor(d.tb, 10*time.Second, 10*time.Millisecond, func() bool {
		have = 0
		_ = filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".blk") || filepath.Base(filepath.Dir(filepath.Dir(path))) != stream {
				return nil
			}
			if fi, err := e.Info(); err == nil {
				have += fi.Size()
			}
			return nil
		})
		return have >= want
	}, fmt.Sprintf("the server wrote the %d bytes of stream %s to its files", want, stream))
}

// powerCut copies the disk as it is now, drops the filesystem with its
// page cache, and mounts the copy in its place: the machine after a power
// cut, with the writes it had not written back gone.
func (d *crashDisk) powerCut() {
	d.tb.Helper()
	crashed := d.image + ".crashed"
	src, err := os.Open(d.image)
	must(d.tb, err)
	dst, err := os.Create(crashed)
	must(d.tb, err)
	_, err = io.Copy(dst, src)
	src.Close()
	must(d.tb, err)
	must(d.tb, dst.Close())
	d.unmount()
	d.mount(crashed)
}

// The server's store is on a disk that keeps only what was written back
// (crashDisk). The streams and a first 100 jobs are created and written to
// the disk; then 300 more jobs are enqueued, each acknowledged by the
// server, and the power is cut at once: the server's process and the page cache are gone, the disk is as
// it was. The server restarts on that disk and a worker drains it.
//
//   - sync_interval: always — the server fsyncs each job before it
//     acknowledges it: every acknowledged job survives (lost 0).
//   - the default (sync_interval 2m) — the jobs acknowledged since the last
//     write-back were in the page cache only: they are lost; those written
//     back before are kept. The test requires that some are lost, which is
//     what shows that it can see a loss.
//
// A SIGKILL of the server alone loses nothing in either mode (the page
// cache survives it; TestFaultServerKilled).
func TestFaultPowerCut(t *testing.T) {
	for _, mode := range []struct {
		name      string
		jetstream string
	}{
		{"sync_always", "  sync_interval: always\n"},
		{"default_sync_interval", ""},
	} {
		t.Run(mode.name, func(t *testing.T) {
			srv := newNATSServer(t, natsServerConfig{jetstream: mode.jetstream})
			disk := newCrashDisk(t, filepath.Join(srv.dir, "store"), 256<<20)
			srv.start()
			e := newFaultEnv(t, "power cut, "+mode.name, srv.url(), job.Topology{})
			disk.syncfs()

			const before, jobs = 100, 300
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The jobs before the last write-back to the disk: what the
			// server's periodic fsync or the kernel's writeback (dirty
			// pages older than vm.dirty_expire_centisecs, 30 s by
			// default) would have written.
			e.enqueueAll(ctx, workRequests("synced", before, 0))
			disk.waitWritten(ctx, e.js, job.Topology{}.WithDefaults().Stream)
			disk.syncfs()
			start := time.Now()
			e.enqueueAll(ctx, workRequests("pc", jobs, 0))
			acked := time.Since(start)
			srv.kill()
			disk.powerCut()
			srv.start()
			e.worker("w1", "-skip-topology", "-concurrency", "8")

			e.books.accepted = e.ledger.list()
			var s summary
			waitFor(t, 60*time.Second, 100*time.Millisecond, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s = e.books.tally(ctx, t)
				return s.readErr == nil && e.books.streamEmpty(ctx)
			}, "the restarted server's jobs drained")
			if s.readErr != nil {
				t.Fatal(s.readErr)
			}
			noneDead(t, s)
			var lostSynced []string
			for _, id := range s.lost {
				if strings.HasPrefix(id, "synced-") {
					lostSynced = append(lostSynced, id)
				}
			}
			faults := fmt.Sprintf("%d jobs written to the disk, then %d acknowledged in %s, then the power cut (server SIGKILLed, page cache dropped)", before, jobs, ms(acked))
			recovery := fmt.Sprintf("%d of the %d acknowledged after the last write-back on the disk after the cut", jobs-(s.Lost-len(lostSynced)), jobs)
			if mode.jetstream != "" {
				report(t, "power-cut-"+mode.name, s, faults, recovery)
				return
			}
			// Without sync_always, jobs written back before the cut are
			// not safe either: in about one run in four some of the
			// last ones written back (up to 10 of 100 seen) were lost
			// with the later ones. Reported, not failed: the mode promises
			// nothing for them (docs/reliability.md).
			t.Logf("RESULT power-cut-%s: jobs=%d completed=%d lost=%d (expected: acknowledged since the last fsync) of which written back before the cut=%d duplicates=%d | faults: %s | recovery: %s",
				mode.name, s.Jobs, s.Completed, s.Lost, len(lostSynced), s.Duplicates, faults, recovery)
			if s.Lost == 0 {
				t.Errorf("no acknowledged job lost without sync_always: the power cut did not drop the page cache (did something sync the disk? %s)",
					strings.TrimSpace(srv.proc.log()[max(0, len(srv.proc.log())-300):]))
			}
		})
	}
}
