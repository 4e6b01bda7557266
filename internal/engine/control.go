package engine

import (
	"errors"
	"fmt"

	"github.com/teal-deploy/teal/internal/state"
)

// ErrNoDeployment is returned for an operator action that needs a
// deployment in flight when there is none.
var ErrNoDeployment = errors.New("no deployment is in flight")

// ErrAborting is returned for an operator action on a deployment that an
// abort is already rolling back: the abort wins.
var ErrAborting = errors.New("the deployment in flight is being rolled back")

// control is what operators have asked of the deployment in flight; the
// deployment's loop reads it at every step. It is guarded by service.mu.
type control struct {
	promote bool   // move on from the current hold
	paused  bool   // hold where it is
	aborted string // who asked to roll back
	kick    func() // wakes the loop
}

// Promote moves a deployment on from a hold: a canary step, or a
// blue-green candidate held by auto_promote = false.
func (e *Engine) Promote(name, actor string) error {
	return e.signal(name, actor, "promoted", func(c *control) { c.promote = true })
}

// Abort rolls back the deployment in flight, even after its switch while
// the previous revision is still warm.
func (e *Engine) Abort(name, actor string) error {
	return e.signal(name, actor, "aborted", func(c *control) { c.aborted = actor })
}

// PauseDeployment holds the deployment in flight where it is.
func (e *Engine) PauseDeployment(name, actor string) error {
	return e.signal(name, actor, "paused", func(c *control) { c.paused = true })
}

// ResumeDeployment lets a paused deployment go on.
func (e *Engine) ResumeDeployment(name, actor string) error {
	return e.signal(name, actor, "resumed", func(c *control) { c.paused = false })
}

func (e *Engine) signal(name, actor, what string, f func(*control)) error {
	s := e.service(name)
	s.mu.Lock()
	c := s.ctl
	if c == nil {
		s.mu.Unlock()
		return fmt.Errorf("service %q: %w", name, ErrNoDeployment)
	}
	if c.aborted != "" && what != "aborted" {
		by := c.aborted
		s.mu.Unlock()
		return fmt.Errorf("service %q: %w (aborted by %s); it cannot be %s", name, ErrAborting, by, what)
	}
	f(c)
	s.mu.Unlock()
	c.kick()
	e.event(state.Event{Service: name, Type: "deployment." + what, Actor: actor, Message: "the deployment in flight was " + what})
	return nil
}
