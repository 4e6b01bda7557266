// Package runtime is the contract between teal's engine and what runs
// instances: a Driver starts them, an Instance reports its address, its
// exit and its output, and stops. The process driver is in process/; every
// driver passes the conformance suite in runtimetest/. The container
// driver is in container/.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"syscall"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Driver starts instances of a service's revision.
type Driver interface {
	// Start starts one instance and returns once it is running (not yet
	// healthy). An error means nothing is left running.
	Start(ctx context.Context, s InstanceSpec) (Instance, error)
	// Adopt finds an instance that a previous server started, from the
	// handle it returned, so that a server that was killed takes over what
	// still runs. With no handle (the server died while it started the
	// instance) it finds it by s.ID. It fails with ErrGone when the
	// instance is no longer running.
	Adopt(ctx context.Context, s InstanceSpec, handle string) (Instance, error)
}

// Importer is a driver that can take over an instance it did not start:
// `teal import` brings an application that already runs under teal.
type Importer interface {
	// Import takes over the instance serving on addr; pid names the
	// process when the driver cannot find it from addr.
	Import(ctx context.Context, s InstanceSpec, addr string, pid int) (Instance, error)
}

// LogReader is a driver that keeps what its instances write, also after
// they stop, so that `teal logs` can show why a candidate failed.
type LogReader interface {
	// Logs returns what instance id of service wrote, or ErrNoLogs. With
	// opts.Follow the reader goes on with what it writes until ctx is done.
	Logs(ctx context.Context, service, id string, opts LogOptions) (io.ReadCloser, error)
	// Logged lists the instances of service whose output is kept, the
	// most recently written last.
	Logged(service string) []string
}

// ErrNoLogs is returned by Logs for an instance whose output is not kept.
var ErrNoLogs = errors.New("no output kept for this instance")

// LogOptions chooses which of an instance's output Logs returns.
type LogOptions struct {
	Since  time.Time // only what was written since, when not zero
	Tail   int       // only the last Tail lines, when positive
	Follow bool      // keep reading what is written
}

// ErrGone is returned by Adopt for an instance that no longer runs.
var ErrGone = errors.New("instance is no longer running")

// Sweeper is a Driver that can find instances it started which the state
// does not know of: those of a server that died after it started them and
// before it recorded them. The engine calls Sweep once it has recovered,
// with the instances it keeps; the driver stops and removes every other
// instance it started for this server, and returns their IDs.
type Sweeper interface {
	Sweep(ctx context.Context, keep func(id string) bool) ([]string, error)
}

// InstanceSpec is everything a driver needs to start one instance. One of
// Process and Container is set, and says which driver runs it.
type InstanceSpec struct {
	ID        string // unique among all instances the server has started
	Service   string
	Revision  int
	Slot      spec.Slot
	Process   *spec.Process
	Container *spec.Container
}

// Instance is one running copy of a revision.
type Instance interface {
	// ID returns the ID the instance was started with.
	ID() string
	// Addr returns host:port where the instance serves HTTP, on loopback.
	Addr() string
	// Started returns when the instance was started.
	Started() time.Time
	// Done is closed once the instance has exited, whatever the cause.
	Done() <-chan struct{}
	// Exit describes how the instance ended; it is valid once Done is closed.
	Exit() ExitStatus
	// Stop asks the instance to stop (SIGTERM for a process) and kills it
	// when it has not stopped within grace. It returns once it has exited.
	Stop(ctx context.Context, grace time.Duration) error
	// LogTail returns up to n of the last lines the instance wrote.
	LogTail(n int) []string
	// Handle returns what the driver needs to adopt the instance again
	// after the server restarts; it is kept in the state store.
	Handle() string
}

// ExitStatus is how an instance ended.
type ExitStatus struct {
	Code    int    // exit code, or -1 when killed by a signal
	Signal  string // the signal that killed it, if one did
	Stopped bool   // it ended because Stop was called
	Unknown bool   // the code is not known: the instance was adopted, not started, by this server
	// OOMKilled says the kernel killed it for using more memory than its
	// limit allows.
	OOMKilled bool
	At        time.Time
}

// Env returns what teal tells every instance, whatever runs it: the port
// to listen on and the instance's names. Drivers add these last, so that
// nothing in a configuration overrides them.
func Env(s InstanceSpec, port int) []string {
	return []string{
		"PORT=" + strconv.Itoa(port),
		"TEAL_SERVICE=" + s.Service,
		"TEAL_REVISION=" + strconv.Itoa(s.Revision),
		"TEAL_SLOT=" + string(s.Slot),
		"TEAL_INSTANCE=" + s.ID,
	}
}

// SignalName names a signal the way ExitStatus shows it: "KILL", "TERM".
func SignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGABRT:
		return "ABRT"
	default:
		return s.String()
	}
}

func (e ExitStatus) String() string {
	var s string
	if e.OOMKilled {
		s = "killed for running out of memory (it used all its memory limit)"
	} else if e.Unknown {
		s = "exited (status unknown: it was started by an earlier server)"
	} else if e.Signal != "" {
		s = "killed by signal " + e.Signal
	} else {
		s = fmt.Sprintf("exited with status %d", e.Code)
	}
	if e.Stopped {
		s += " after teal stopped it"
	}
	return s
}
