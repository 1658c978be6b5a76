package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jetjobs/jetjobs/internal/natstest"
)

// A worker killed with SIGKILL takes its running commands with it: the
// shells, what they run in the foreground, and what they started in the
// background (issue 12). Each command records its three process IDs.
func TestExecCommandsDieWithTheirKilledWorker(t *testing.T) {
	srv := natstest.Start(t)
	out := t.TempDir()
	w := startWorker(t, srv.URL(), []string{"OUT=" + out}, "--concurrency", "3",
		"--exec", `long=echo $$ > "$OUT/$JETJOBS_ID.sh"; sleep 300 & echo $! > "$OUT/$JETJOBS_ID.bg"; sh -c 'echo $$ > "$1"; exec sleep 300' - "$OUT/$JETJOBS_ID.fg"`)
	const jobs = 3
	for i := range jobs {
		ok(t, "enqueue", "-s", srv.URL(), "--id", fmt.Sprintf("long-%d", i), "long")
	}
	var pids []int
	eventually(t, func() bool {
		pids = pids[:0]
		for i := range jobs {
			for _, ext := range []string{"sh", "bg", "fg"} {
				pid, err := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(out, fmt.Sprintf("long-%d.%s", i, ext)))))
				if err != nil {
					return false
				}
				pids = append(pids, pid)
			}
		}
		return true
	}, "the three commands to start their processes")
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("process %d is not running before the kill", pid)
		}
	}

	reaped := reapers(t, w.Pid())
	if len(reaped) != 1 {
		t.Fatalf("reapers of the worker: %v, want one", reaped)
	}
	w.Stop(syscall.SIGKILL)
	eventually(t, func() bool {
		for _, pid := range append(pids, reaped...) {
			if alive(pid) {
				return false
			}
		}
		return true
	}, "every process of the killed worker's commands, and its reaper, to die (%v, %v)", pids, reaped)
}

// A worker that stops cleanly stops its reaper too.
func TestWorkerStopsItsReaper(t *testing.T) {
	srv := natstest.Start(t)
	w := startWorker(t, srv.URL(), nil, "--exec", "k=true")
	reaped := reapers(t, w.Pid())
	if len(reaped) != 1 {
		t.Fatalf("reapers of the worker: %v, want one", reaped)
	}
	if code := w.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	eventually(t, func() bool { return !alive(reaped[0]) }, "the reaper to exit with its worker")
}

// reapers returns the reaper processes whose parent is the process parent.
func reapers(t *testing.T, parent int) []int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	var found []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err == nil && bytes.Equal(cmdline, []byte(binary+"\x00"+reaperCommand+"\x00")) && ppid(pid) == parent {
			found = append(found, pid)
		}
	}
	return found
}

// ppid is the parent of process pid, from /proc.
func ppid(pid int) int {
	stat := readFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func TestReap(t *testing.T) {
	var killed []int
	reap(strings.NewReader("+10\n+11\n-10\n+12\nx\n+1\n+abc\n-99\n+12\n"), func(pgid int) { killed = append(killed, pgid) })
	slices.Sort(killed)
	if !slices.Equal(killed, []int{11, 12}) {
		t.Errorf("killed %v, want the groups added and not removed: [11 12]", killed)
	}
}
