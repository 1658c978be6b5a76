package main

import "syscall"

// commandAttr is the SysProcAttr of an --exec command: a process group of
// its own, and SIGKILL when the worker dies (Pdeathsig), which ends the
// shell even before the reaper lists its group.
func commandAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
