//go:build !linux

package process

import "syscall"

// groupAlive reports whether any process of group pgid still exists.
func groupAlive(pgid int) bool { return killZero(pgid) }

// startTime is not known here; adoption trusts the PID alone.
func startTime(pid int) string { return "" }

func isRunning(pid int, start string) bool { return syscall.Kill(pid, 0) == nil }

func waitExit(pid int, start string) { pollExit(pid, start) }

// findByInstance cannot read other processes' environments here.
func findByInstance(id string) (int, string) { return 0, "" }
