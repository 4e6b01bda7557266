package process

import (
	"bytes"
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// procStat returns the fields of /proc/PID/stat after the command name:
// state is f[0], the process group f[2], the start time f[19].
func procStat(pid string) ([][]byte, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return nil, err
	}
	// The command name, in parentheses, may hold spaces: parse after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return nil, errors.New("malformed /proc stat")
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 20 {
		return nil, errors.New("malformed /proc stat")
	}
	return f, nil
}

func running(f [][]byte) bool { return string(f[0]) != "Z" && string(f[0]) != "X" }

// groupAlive reports whether any process of group pgid is still running.
// Zombies do not count: where PID 1 does not reap orphans (as in many
// containers), an exited child of a wrapper ("go run", "sh -c") would
// otherwise look alive for ever.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return killZero(pgid)
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		f, err := procStat(e.Name())
		if err == nil && running(f) && string(f[2]) == want {
			return true
		}
	}
	return false
}

// startTime returns when a process started, in clock ticks since boot: with
// the PID, it names one process, even after the PID is reused.
func startTime(pid int) string {
	f, err := procStat(strconv.Itoa(pid))
	if err != nil {
		return ""
	}
	return string(f[19])
}

// isRunning reports whether pid is the process that started at start and
// has not exited.
func isRunning(pid int, start string) bool {
	f, err := procStat(strconv.Itoa(pid))
	return err == nil && running(f) && string(f[19]) == start
}

// waitExit blocks until the process pid, which need not be a child, exits.
// It waits on a pidfd, which becomes readable when the process ends.
func waitExit(pid int, start string) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		pollExit(pid, start)
		return
	}
	defer unix.Close(fd)
	if !isRunning(pid, start) {
		return // the PID was reused before the pidfd was opened
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// findByInstance returns the process group leader whose environment says
// it is instance id, and the port it was given; 0 when none runs.
func findByInstance(id string) (pid int, port string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, ""
	}
	want := []byte("TEAL_INSTANCE=" + id)
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(e.Name())
		if err != nil || !running(f) || string(f[2]) != e.Name() { // running, and leads its group
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		found := false
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				found = true
			} else if v, ok := bytes.CutPrefix(kv, []byte("PORT=")); ok {
				port = string(v)
			}
		}
		if found {
			return p, port
		}
	}
	return 0, ""
}
