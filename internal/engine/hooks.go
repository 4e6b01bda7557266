package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// hookOutputLimit bounds how much of a hook's output is kept in the
// deployment's record: its end, where errors are.
const hookOutputLimit = 8 << 10

// runHook runs a hook command without a shell (a configuration that wants
// one says ["sh", "-c", "…"]), in its own process group, for at most
// timeout, and records it as a step of the deployment with the end of its
// output. ok reports whether it exited with status 0; msg says how it
// ended for the deployment's reason; err is a step that could not be
// recorded, in which case the hook did not run.
func (e *Engine) runHook(ctx context.Context, j *journal, name string, cmd []string, timeout time.Duration, env []string) (ok bool, msg string, err error) {
	i, err := j.begin("hook "+name, "running "+quoteCommand(cmd), nil)
	if err != nil {
		return false, "", err
	}
	began := time.Now()
	out := &tailBuffer{limit: hookOutputLimit}
	c := exec.Command(cmd[0], cmd[1:]...)
	c.Dir = e.hookDir(j.d.Service)
	c.Env = append(os.Environ(), append(env, "TEAL_HOOK="+name)...)
	c.Stdout, c.Stderr = out, out
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a timeout ends what the hook started too
	if err := c.Start(); err != nil {
		msg = fmt.Sprintf("cannot start %s: %v", cmd[0], err)
		_ = j.end(i, state.Failed, msg)
		return false, msg, nil
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var waitErr error
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case waitErr = <-done:
	case <-timer.C:
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
		waitErr = fmt.Errorf("timed out after %s (hook_timeout) and was killed", spec.Duration(timeout))
	case <-ctx.Done():
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
		waitErr = errors.New("killed: the server is shutting down")
	}
	took := time.Since(began).Round(time.Millisecond)
	outcome := fmt.Sprintf("exit status 0 after %s", took)
	ok = waitErr == nil
	if !ok {
		outcome = fmt.Sprintf("%v after %s", waitErr, took)
	}
	msg = outcome
	if last := out.lastLine(); last != "" && !ok {
		msg += ": " + last
	}
	if o := strings.TrimSpace(out.String()); o != "" {
		outcome += "; output:\n" + o
	}
	status := state.Succeeded
	if !ok {
		status = state.Failed
	}
	_ = j.end(i, status, outcome)
	return ok, msg, nil
}

// hookDir is where a service's hooks run: its process's directory (the
// configuration's, by default).
func (e *Engine) hookDir(service string) string {
	var dir string
	_ = e.store.View(func(tx *state.Tx) error {
		svc, err := tx.Service(service)
		if err == nil && svc.Spec.Process != nil {
			dir = svc.Spec.Process.Dir
		}
		return nil
	})
	return dir
}

// afterBake runs a service's after_bake hook once the revision g was warm
// for has stopped: the "contract" step of an expand/contract migration,
// safe only now that a rollback is no longer one switch away. Its output
// is added to the record of the deployment that left g warm.
func (e *Engine) afterBake(service string, g *group) {
	var svc state.Service
	var d state.Deployment
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		if svc, err = tx.Service(service); err != nil {
			return err
		}
		ds, err := tx.Deployments(service)
		for i := len(ds) - 1; i >= 0 && err == nil; i-- {
			if ds[i].ID == g.warmBy || (g.warmBy == 0 && ds[i].FromRevision == g.rev.Number && ds[i].Status == state.Succeeded) {
				d = ds[i]
				break
			}
		}
		return err
	})
	cmd := svc.Spec.Deploy.AfterBake
	if err != nil || cmd == nil || d.ID == 0 {
		return
	}
	j := &journal{e: e, d: d, actor: "teal"}
	env := []string{
		"TEAL_SERVICE=" + service,
		"TEAL_DEPLOYMENT=" + strconv.Itoa(d.ID),
		"TEAL_RETIRED_REVISION=" + strconv.Itoa(g.rev.Number),
		"TEAL_RETIRED_VERSION=" + g.rev.Version,
	}
	if svc.Live != nil {
		env = append(env, "TEAL_LIVE_REVISION="+strconv.Itoa(svc.Live.Revision))
	}
	_, _, _ = e.runHook(e.ctx, j, "after_bake", cmd, svc.Spec.Deploy.HookTimeout.D(), env)
}

func quoteCommand(cmd []string) string {
	q := make([]string, len(cmd))
	for i, c := range cmd {
		if strings.ContainsAny(c, " \t\"'") {
			c = strconv.Quote(c)
		}
		q[i] = c
	}
	return strings.Join(q, " ")
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	limit int
	b     []byte
	cut   bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.limit; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
		t.cut = true
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "…" + string(t.b)
	}
	return string(t.b)
}

func (t *tailBuffer) lastLine() string {
	s := strings.TrimSpace(string(t.b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
