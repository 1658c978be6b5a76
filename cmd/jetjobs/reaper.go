package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
)

// A worker's commands run in process groups of their own (so that a
// terminal's Ctrl-C reaches the worker alone), which outlive a worker that
// is killed: nothing would end a command, or what it started, when its
// worker dies of SIGKILL or the OOM killer. So a worker with --exec starts
// a reaper, a copy of this binary running `jetjobs reap-process-groups`,
// and tells it over a pipe the group of each command it starts and ends.
// When the worker dies the kernel closes the pipe; the reaper reads its end
// and kills every group still listed, grandchildren included, then exits.
// A command's shell also dies with its worker by itself (Pdeathsig on
// Linux), which covers the moment between its start and its listing.
// A process that leaves its group (setsid, a daemon) escapes both.

// reaperCommand is the hidden command the reaper runs.
const reaperCommand = "reap-process-groups"

func init() { register("", newReaperCommand) }

func newReaperCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    reaperCommand,
		Short:  "Kill the process groups a worker lists on stdin when stdin closes (the worker starts it)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(*cobra.Command, []string) error {
			// It lives exactly as long as its worker: signals that stop
			// the worker gracefully (its commands may finish) do not stop
			// it; the end of its input does.
			signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			reap(a.stdin, func(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
			return nil
		},
	}
}

// reap reads "+PGID" and "-PGID" lines from r until it ends, then calls
// kill for each group added and not removed.
func reap(r io.Reader, kill func(pgid int)) {
	groups := map[int]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		kill(pgid)
	}
}

// groupReaper is the worker's side of the reaper. A nil *groupReaper
// lists nothing.
type groupReaper struct {
	mu   sync.Mutex
	w    *os.File
	cmd  *exec.Cmd
	err  error // the first failed write; the reaper is then of no use
	done bool
}

// startReaper starts the reaper process.
func startReaper() (*groupReaper, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this program to start its process-group reaper: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, reaperCommand)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	cmd.Env = execEnv(os.Environ())
	// Its own group: a terminal's Ctrl-C must not end it before the
	// commands it guards.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("start the process-group reaper: %w", err)
	}
	return &groupReaper{w: w, cmd: cmd}, nil
}

func (g *groupReaper) send(op byte, pgid int) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done || g.err != nil {
		return
	}
	_, g.err = fmt.Fprintf(g.w, "%c%d\n", op, pgid)
}

// add lists the group of a command that started.
func (g *groupReaper) add(pgid int) { g.send('+', pgid) }

// remove takes the group of a command that ended off the list.
func (g *groupReaper) remove(pgid int) { g.send('-', pgid) }

// close ends the reaper, which kills the groups still listed (none once
// every command has ended), and waits for it.
func (g *groupReaper) close() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		return nil
	}
	g.done = true
	g.w.Close()
	g.mu.Unlock()
	return g.cmd.Wait()
}
