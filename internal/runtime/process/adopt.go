package process

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
)

// handle is what the process driver keeps about an instance so that it can
// adopt it after the server restarts.
type handle struct {
	Pid     int       `json:"pid"`
	Start   string    `json:"start"` // start time in ticks; with Pid, names one process
	Addr    string    `json:"addr"`
	Log     string    `json:"log"`
	Started time.Time `json:"started"`
	// Foreign marks a process teal imported rather than started: it is
	// signalled alone, not with its process group, which is not teal's.
	Foreign bool `json:"foreign,omitempty"`
}

func (i *instance) Handle() string {
	b, _ := json.Marshal(handle{Pid: i.pid, Start: i.startTicks, Addr: i.addr, Log: i.logPath, Started: i.started, Foreign: i.foreign})
	return string(b)
}

// Adopt takes over an instance started by an earlier server. Its exit is
// noticed at once, but its exit status cannot be known: it is not a child
// of this process.
func (d *Driver) Adopt(ctx context.Context, s runtime.InstanceSpec, h string) (runtime.Instance, error) {
	if h == "" {
		return d.adoptByID(ctx, s)
	}
	var hd handle
	if err := json.Unmarshal([]byte(h), &hd); err != nil || hd.Pid <= 0 {
		return nil, fmt.Errorf("instance %s: unreadable handle %q", s.ID, h)
	}
	if !isRunning(hd.Pid, hd.Start) {
		return nil, fmt.Errorf("instance %s (pid %d): %w", s.ID, hd.Pid, runtime.ErrGone)
	}
	in := &instance{
		id:         s.ID,
		addr:       hd.Addr,
		pid:        hd.Pid,
		startTicks: hd.Start,
		logPath:    hd.Log,
		started:    hd.Started,
		foreign:    hd.Foreign,
		done:       make(chan struct{}),
	}
	go func() {
		waitExit(hd.Pid, hd.Start)
		in.exited(runtime.ExitStatus{Code: -1, Unknown: true, Stopped: in.stopping.Load(), At: time.Now()})
	}()
	return in, nil
}

// pollExit waits, by looking every so often, until pid is no longer the
// process that started at start.
func pollExit(pid int, start string) {
	for isRunning(pid, start) {
		time.Sleep(100 * time.Millisecond)
	}
}

var _ runtime.Importer = (*Driver)(nil)

// Import takes over a process that teal did not start, which serves on
// addr: the one with pid, or, when pid is 0, the one listening on addr.
// It is signalled alone (not its process group, which is not teal's),
// and its output is not teal's to read.
func (d *Driver) Import(ctx context.Context, s runtime.InstanceSpec, addr string, pid int) (runtime.Instance, error) {
	if pid == 0 {
		var err error
		if pid, err = listenerPID(addr); err != nil {
			return nil, fmt.Errorf("instance %s: %w", s.ID, err)
		}
	}
	start := startTime(pid)
	if !isRunning(pid, start) {
		return nil, fmt.Errorf("instance %s: no running process %d", s.ID, pid)
	}
	h, _ := json.Marshal(handle{Pid: pid, Start: start, Addr: addr, Started: time.Now(), Foreign: true})
	return d.Adopt(ctx, s, string(h))
}

// adoptByID finds an instance whose handle was never recorded by the
// TEAL_INSTANCE its environment holds: the group leader with it is the
// instance.
func (d *Driver) adoptByID(ctx context.Context, s runtime.InstanceSpec) (runtime.Instance, error) {
	pid, port := findByInstance(s.ID)
	if pid == 0 {
		return nil, fmt.Errorf("instance %s: %w", s.ID, runtime.ErrGone)
	}
	h, _ := json.Marshal(handle{
		Pid: pid, Start: startTime(pid), Addr: net.JoinHostPort("127.0.0.1", port),
		Log: filepath.Join(d.LogDir, s.Service, s.ID+".log"), Started: time.Now(),
	})
	return d.Adopt(ctx, s, string(h))
}
