package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime"
)

// instance is one container started or adopted by the driver.
type instance struct {
	d           *Driver
	id          string
	service     string
	containerID string
	addr        string
	started     time.Time
	memoryLimit int64 // bytes; 0: none

	stopping atomic.Bool
	done     chan struct{}
	mu       sync.Mutex
	exit     runtime.ExitStatus
	lastLogs []string // the output kept when the container is removed
}

var _ runtime.Instance = (*instance)(nil)

func (i *instance) ID() string            { return i.id }
func (i *instance) Addr() string          { return i.addr }
func (i *instance) Started() time.Time    { return i.started }
func (i *instance) Done() <-chan struct{} { return i.done }

func (i *instance) Exit() runtime.ExitStatus {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exit
}

// handle is what the driver keeps about an instance so that it can adopt
// it after the server restarts.
type handle struct {
	Container string `json:"container"`
}

func (i *instance) Handle() string {
	b, _ := json.Marshal(handle{Container: i.containerID})
	return string(b)
}

// keptLines is how much output is kept of a container when it is removed.
const keptLines = 200

// watch waits for the container to exit, through the engine's wait API,
// records how it ended, keeps the end of its output, and removes it.
func (i *instance) watch() {
	ctx := context.Background()
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
		w := i.d.api.ContainerWait(ctx, i.containerID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
		select {
		case <-w.Result:
		case <-w.Error:
			// The engine went away or the wait was cut: look again, unless
			// the container is gone.
		}
		st, err := i.d.api.ContainerInspect(ctx, i.containerID, client.ContainerInspectOptions{})
		if notFound(err) {
			i.exited(runtime.ExitStatus{Code: -1, Unknown: true, Stopped: i.stopping.Load(), At: time.Now()}, nil)
			return
		}
		if err == nil && st.Container.State != nil && !st.Container.State.Running {
			ex, logs := exitStatus(st.Container.State, i.stopping.Load(), i.memoryLimit), i.d.logTail(i.containerID, keptLines)
			i.d.kept.add(i.service, i.id, logs)
			// Removed before Done closes: a server that stops once its
			// instances are done leaves no container behind.
			i.d.remove(i.containerID)
			i.exited(ex, logs)
			return
		}
		time.Sleep(backoff)
	}
}

// exitStatus reads how a container ended. The engine reports a container
// killed by signal N as exit code 128+N.
//
// A container is reported killed for memory when the engine says so, and
// also when it was killed by SIGKILL that teal did not send while it had
// a memory limit: Podman 4.3 on cgroup v1 does not report OOM kills (its
// conmon writes the "oom" marker into the working directory of the API
// service, not where Podman looks: measured on teal's CI machines), and
// the only other sender of that SIGKILL is an operator's `docker kill`.
func exitStatus(st *container.State, stopped bool, memoryLimit int64) runtime.ExitStatus {
	ex := runtime.ExitStatus{Code: st.ExitCode, Stopped: stopped, OOMKilled: st.OOMKilled, At: time.Now()}
	if t, err := time.Parse(time.RFC3339Nano, st.FinishedAt); err == nil && t.Year() > 1 {
		ex.At = t
	}
	if sig := st.ExitCode - 128; sig > 0 && sig < 32 {
		ex.Code, ex.Signal = -1, runtime.SignalName(syscall.Signal(sig))
	}
	if ex.Signal == "KILL" && !stopped && memoryLimit > 0 {
		ex.OOMKilled = true
	}
	return ex
}

func (i *instance) exited(ex runtime.ExitStatus, logs []string) {
	i.mu.Lock()
	i.exit, i.lastLogs = ex, logs
	i.mu.Unlock()
	close(i.done)
}

// Stop stops the container with the engine's graceful stop: its stop
// signal (SIGTERM unless the image says otherwise), then SIGKILL after
// grace, rounded up to whole seconds as the API counts them, or at once
// when ctx is done. It returns once the container has exited.
func (i *instance) Stop(ctx context.Context, grace time.Duration) error {
	i.stopping.Store(true)
	select {
	case <-i.done:
		return nil
	default:
	}
	timeout := int(math.Ceil(grace.Seconds()))
	_, err := i.d.api.ContainerStop(ctx, i.containerID, client.ContainerStopOptions{Timeout: &timeout})
	if err != nil && !notFound(err) && !cerrdefs.IsNotModified(err) {
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = i.d.api.ContainerKill(kctx, i.containerID, client.ContainerKillOptions{Signal: "KILL"})
		cancel()
	}
	// An engine that went away cannot say the container ended: wait a
	// while for it, not forever, so that a server can still shut down.
	select {
	case <-i.done:
		return nil
	case <-time.After(grace + stopConfirmWait):
		return fmt.Errorf("instance %s: container %s: the engine did not confirm its stop: %w", i.id, short(i.containerID), i.d.unreachable(err))
	}
}

// stopConfirmWait is how long Stop waits, beyond grace, for the engine to
// confirm that a container has ended.
const stopConfirmWait = 30 * time.Second

// LogTail reads the last n lines the container wrote, stdout and stderr
// together, from the engine's log API; once the container has exited and
// been removed, from what was kept of it.
func (i *instance) LogTail(n int) []string {
	select {
	case <-i.done:
		i.mu.Lock()
		defer i.mu.Unlock()
		if len(i.lastLogs) > n {
			return i.lastLogs[len(i.lastLogs)-n:]
		}
		return i.lastLogs
	default:
	}
	return i.d.logTail(i.containerID, n)
}

func (d *Driver) logTail(containerID string, n int) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := d.api.ContainerLogs(ctx, containerID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil && out.Len() == 0 {
		return nil
	}
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
