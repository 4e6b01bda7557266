package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuTime is the CPU time the processes pids and their children have
// used, from the scheduler's per-thread counters (nanoseconds, unlike the
// clock ticks of /proc/PID/stat). It is how much work a participant did,
// whatever else the machine was doing meanwhile: when other processes
// compete for the CPUs, requests per second fall, CPU time per request
// much less.
func cpuTime(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range withChildren(pids) {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			f := strings.Fields(string(b))
			if len(f) > 0 {
				ns, _ := strconv.ParseInt(f[0], 10, 64)
				total += time.Duration(ns)
			}
		}
	}
	return total
}

// withChildren adds the children of pids (nginx's workers) to them.
func withChildren(pids []int) []int {
	out := append([]int(nil), pids...)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, s := range stats {
		b, err := os.ReadFile(s)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so cut at the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		for _, p := range pids {
			if ppid == p {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(s)))
				out = append(out, pid)
			}
		}
	}
	return out
}

// peakRSS is the most memory the processes pids and their children have
// held at once (VmHWM), summed.
func peakRSS(pids []int) int64 {
	var total int64
	for _, pid := range withChildren(pids) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}
