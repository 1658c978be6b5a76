//go:build !linux

package main

import "syscall"

// commandAttr is the SysProcAttr of an --exec command: a process group of
// its own. (Outside Linux there is no Pdeathsig; the reaper alone ends the
// commands of a worker that died.)
func commandAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
