// Package process is teal's default driver: each instance is a local
// process in its own process group, given a free loopback port in $PORT,
// with its output in a log file of its own.
package process

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
)

// Driver starts instances as local processes.
type Driver struct {
	// LogDir holds one log file per instance, LogDir/SERVICE/ID.log.
	LogDir string
	// Env is the environment every instance starts from, usually the
	// server's own; the service's env and teal's variables are added.
	Env []string
	// LogMaxSize, LogFiles and LogRetention bound the logs Maintain keeps:
	// a log is rotated past LogMaxSize bytes, LogFiles rotated copies are
	// kept, and the logs of instances that no longer run are removed once
	// untouched for LogRetention. Zero means the Default values.
	// Ports is the range instances' ports are taken from; zero means
	// DefaultPorts.
	Ports        PortRange
	LogMaxSize   int64
	LogFiles     int
	LogRetention time.Duration
}

var _ runtime.Driver = (*Driver)(nil)

// Start starts one instance and returns as soon as the process runs.
func (d *Driver) Start(ctx context.Context, s runtime.InstanceSpec) (runtime.Instance, error) {
	if s.Process == nil || len(s.Process.Command) == 0 {
		return nil, fmt.Errorf("instance %s: no process command", s.ID)
	}
	port, err := d.ports().take()
	if err != nil {
		return nil, fmt.Errorf("instance %s: find a free port: %w", s.ID, err)
	}
	logPath := filepath.Join(d.LogDir, s.Service, s.ID+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o750); err != nil {
		return nil, fmt.Errorf("instance %s: %w", s.ID, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("instance %s: open log: %w", s.ID, err)
	}
	defer logFile.Close() // the child has its own descriptor once started

	cmd := exec.Command(s.Process.Command[0], s.Process.Command[1:]...)
	cmd.Dir = s.Process.Dir
	cmd.Env = d.environ(s, port)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so that a stop reaches every process the
	// command starts, and so that Ctrl-C in the server's terminal does not.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("instance %s: start %s: %w", s.ID, s.Process.Command[0], unwrapExec(err))
	}
	in := &instance{
		id:      s.ID,
		addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		pid:     cmd.Process.Pid,
		logPath: logPath,
		started: time.Now(),
		done:    make(chan struct{}),
	}
	in.startTicks = startTime(in.pid)
	go in.wait(cmd)
	return in, nil
}

// environ builds an instance's environment: the driver's, then the
// service's, then what teal sets, which nothing may override.
func (d *Driver) environ(s runtime.InstanceSpec, port int) []string {
	env := make([]string, 0, len(d.Env)+len(s.Process.Env)+5)
	for _, kv := range d.Env {
		if k, _, _ := strings.Cut(kv, "="); k != "PORT" && !strings.HasPrefix(k, "TEAL_") {
			env = append(env, kv)
		}
	}
	for k, v := range s.Process.Env {
		env = append(env, k+"="+v)
	}
	return append(env, runtime.Env(s, port)...)
}

func unwrapExec(err error) error {
	var eerr *exec.Error
	if errors.As(err, &eerr) {
		return fmt.Errorf("%q: %w", eerr.Name, eerr.Err)
	}
	return err
}

func killZero(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }
