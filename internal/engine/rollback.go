package engine

import (
	"errors"
	"fmt"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// ErrNoRollback is returned when there is nothing to roll back to.
var ErrNoRollback = errors.New("nothing to roll back to")

// Rollback moves service name back to revision to, or, when to is 0, to
// the revision that was live before the live one. While that revision is
// still warm and healthy it is one switch; otherwise it is a deployment of
// that revision by the service's strategy. Either way the service keeps
// its current routes, count and checks: only what runs goes back.
func (e *Engine) Rollback(name string, to int, actor string, rep Reporter) (state.Deployment, error) {
	if e.ctx.Err() != nil {
		return state.Deployment{}, ErrShuttingDown
	}
	var svc state.Service
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		svc, err = tx.Service(name)
		return err
	})
	if err != nil {
		return state.Deployment{}, err
	}
	if svc.Live == nil {
		return state.Deployment{}, fmt.Errorf("service %q: no revision is live: %w", name, ErrNoRollback)
	}
	s := e.service(name)
	if err := s.lock("rollback", actor, e.now()); err != nil {
		return state.Deployment{}, err
	}
	defer s.unlock()

	s.mu.Lock()
	live, prev := s.live, s.previous
	s.mu.Unlock()
	if to == 0 {
		if to, err = e.revisionBefore(svc); err != nil {
			return state.Deployment{}, err
		}
	}
	if to == svc.Live.Revision {
		return state.Deployment{}, fmt.Errorf("service %q: revision %d is already live", name, to)
	}
	var rev state.Revision
	if err := e.store.View(func(tx *state.Tx) error {
		var err error
		rev, err = tx.Revision(name, to)
		return err
	}); err != nil {
		return state.Deployment{}, err
	}
	applied := svc.Spec
	applied = applied.WithTemplate(rev.Spec.Template())

	if live != nil && prev != nil && prev.rev.Number == to && prev.allHealthy() {
		return e.instantRollback(s, live, prev, applied, actor, rep)
	}
	return e.deploy(e.ctx, s, rev, applied, state.KindRollback, actor, rep)
}

// revisionBefore returns the revision that was live before svc's live one:
// where the deployment that made it live came from.
func (e *Engine) revisionBefore(svc state.Service) (int, error) {
	if svc.Previous != nil {
		return svc.Previous.Revision, nil
	}
	var ds []state.Deployment
	if err := e.store.View(func(tx *state.Tx) error {
		var err error
		ds, err = tx.Deployments(svc.Name)
		return err
	}); err != nil {
		return 0, err
	}
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if d.Status == state.Succeeded && d.ToRevision == svc.Live.Revision && d.FromRevision != 0 && d.FromRevision != d.ToRevision {
			return d.FromRevision, nil
		}
	}
	return 0, fmt.Errorf("service %q: revision %d was the first to go live: %w", svc.Name, svc.Live.Revision, ErrNoRollback)
}

// instantRollback switches traffic back to the warm group prev: one change
// of the routing table. What was live is drained and kept warm in turn.
func (e *Engine) instantRollback(s *service, live, prev *group, applied spec.Service, actor string, rep Reporter) (state.Deployment, error) {
	d := state.Deployment{Service: s.name, Kind: state.KindRollback, FromRevision: live.rev.Number, ToRevision: prev.rev.Number, Slot: prev.slot}
	j, err := e.openJournal(d, actor, rep, nil)
	if err != nil {
		return d, err
	}
	s.mu.Lock()
	prev.spec = applied
	s.mu.Unlock()
	if err := e.switchTo(j, s, prev, live); err != nil {
		_ = j.finish(state.Failed, err.Error(), nil)
		return j.d, err
	}
	i, _ := j.begin("drain", fmt.Sprintf("revision %d in %s: requests in flight finish, for at most %s",
		live.rev.Number, live.slot, applied.Deploy.DrainTimeout), nil)
	_ = j.end(i, state.Succeeded, drain(e.ctx, live, applied.Deploy.DrainTimeout.D()))
	err = j.finish(state.Succeeded, "", warmUntil(s.name, e.now().Add(applied.Deploy.KeepPrevious.D())))
	e.keepWarm(s, live, applied.Deploy.KeepPrevious.D(), j.d.ID)
	return j.d, err
}
