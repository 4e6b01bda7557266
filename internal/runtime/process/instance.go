package process

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
)

// instance is one process started by the driver.
type instance struct {
	id         string
	addr       string
	pid        int    // also the process group ID
	startTicks string // with pid, names this process even after the PID is reused
	logPath    string
	started    time.Time
	foreign    bool // imported: signal the process alone, not its group

	stopping atomic.Bool
	done     chan struct{}
	exitMu   sync.Mutex
	exit     runtime.ExitStatus
}

var _ runtime.Instance = (*instance)(nil)

func (i *instance) ID() string            { return i.id }
func (i *instance) Addr() string          { return i.addr }
func (i *instance) Started() time.Time    { return i.started }
func (i *instance) Done() <-chan struct{} { return i.done }

func (i *instance) Exit() runtime.ExitStatus {
	i.exitMu.Lock()
	defer i.exitMu.Unlock()
	return i.exit
}

// wait reaps the process and records how it ended, at once.
func (i *instance) wait(cmd *exec.Cmd) {
	_ = cmd.Wait()
	st := runtime.ExitStatus{Code: -1, Stopped: i.stopping.Load(), At: time.Now()}
	if ps := cmd.ProcessState; ps != nil {
		st.Code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.Signal = runtime.SignalName(ws.Signal())
		}
	}
	i.exited(st)
}

func (i *instance) exited(st runtime.ExitStatus) {
	i.exitMu.Lock()
	i.exit = st
	i.exitMu.Unlock()
	close(i.done)
}

// groupPoll is how often Stop looks for processes of the group that are
// still running after its leader has exited.
const groupPoll = 20 * time.Millisecond

// Stop sends SIGTERM to the instance's process group, and SIGKILL to what
// is left of it after grace, or at once when ctx is done. It returns when
// the whole group has gone.
func (i *instance) Stop(ctx context.Context, grace time.Duration) error {
	i.stopping.Store(true)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	i.signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-deadline.C:
		i.signal(syscall.SIGKILL)
		<-i.done
	case <-ctx.Done():
		i.signal(syscall.SIGKILL)
		<-i.done
	}
	// The leader is gone; the rest of its group gets what is left of grace.
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for !i.foreign && groupAlive(i.pid) {
		select {
		case <-tick.C:
		case <-deadline.C:
			i.signal(syscall.SIGKILL)
			return nil
		case <-ctx.Done():
			i.signal(syscall.SIGKILL)
			return nil
		}
	}
	return nil
}

func (i *instance) signal(sig syscall.Signal) {
	target := -i.pid // the whole group teal made
	if i.foreign {
		target = i.pid
	}
	_ = syscall.Kill(target, sig) // ESRCH: already gone, which is what we want
}

// logTailBytes bounds how much of the log LogTail reads.
const logTailBytes = 64 << 10

func (i *instance) LogTail(n int) []string {
	if i.logPath == "" {
		return nil // imported: its output goes where it always went
	}
	f, err := os.Open(i.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > logTailBytes {
		_, _ = f.Seek(-logTailBytes, io.SeekEnd)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) == 1 && len(lines[0]) == 0 {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for j, l := range lines {
		out[j] = string(l)
	}
	return out
}
