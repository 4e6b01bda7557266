package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// ApplyOptions changes how Apply runs.
type ApplyOptions struct {
	// ExpectSerial, when set, is the state serial of the plan that was
	// shown; the apply refuses to run if the state has changed since.
	ExpectSerial *uint64
	// ExpectLineage, when set, is the lineage of the state the plan was
	// made against: a saved plan applies to that state only.
	ExpectLineage string
	// Targets limits the apply to the objects at these addresses.
	Targets []string
	// Actor says who asked, for the event log.
	Actor string
}

// Result is how one change of an apply went.
type Result struct {
	Address    string            `json:"address"`
	Action     plan.Action       `json:"action"`
	Deployment *state.Deployment `json:"deployment,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// Apply makes what runs match desired: it plans, starts and moves load
// balancers, then changes every service at once, each by its own
// deployment. It returns when every deployment has switched and drained
// (not when keep_previous has passed). A failed deployment is in its
// Result; the error is for an apply that could not start.
func (e *Engine) Apply(desired spec.Desired, opts ApplyOptions, rep Reporter) (plan.Plan, []Result, error) {
	if e.ctx.Err() != nil {
		return plan.Plan{}, nil, ErrShuttingDown
	}
	lock, err := e.lock("apply", "apply", opts.Actor)
	if err != nil {
		return plan.Plan{}, nil, err
	}
	defer e.unlock(lock)

	p, err := e.Plan(desired, opts.Targets...)
	if err != nil {
		return p, nil, err
	}
	if opts.ExpectLineage != "" && opts.ExpectLineage != p.Lineage {
		return p, nil, fmt.Errorf("%w: the plan was made against another state (lineage %s, this one is %s)", ErrStale, opts.ExpectLineage, p.Lineage)
	}
	if opts.ExpectSerial != nil && *opts.ExpectSerial != p.Serial {
		return p, nil, fmt.Errorf("%w (serial %d, now %d)", ErrStale, *opts.ExpectSerial, p.Serial)
	}
	var results []Result
	var services []plan.Change
	var zonesChanged []string
	lbChanged := false
	for _, c := range p.Changes {
		switch c.Type {
		case "load_balancer":
			lbChanged = true
			results = append(results, Result{Address: c.Address(), Action: c.Action})
		case "dns_zone":
			zonesChanged = append(zonesChanged, c.Name)
			results = append(results, Result{Address: c.Address(), Action: c.Action})
		default:
			services = append(services, c)
		}
	}
	if lbChanged {
		// Listeners first: a service's routes need them. A listener that
		// cannot bind stops the apply before any service changes.
		var recorded []spec.LoadBalancer
		if err := e.store.View(func(tx *state.Tx) error {
			var err error
			recorded, err = tx.LoadBalancers()
			return err
		}); err != nil {
			return p, nil, err
		}
		lbs := targetedLoadBalancers(desired.LoadBalancers, recorded, opts.Targets)
		if err := e.sw.SetLoadBalancers(e.ctx, lbs); err != nil {
			return p, nil, err
		}
		err := e.store.Update(func(tx *state.Tx) error {
			if err := tx.SetLoadBalancers(lbs); err != nil {
				return err
			}
			_, err := tx.AppendEvent(state.Event{Type: "load_balancers.applied", Actor: opts.Actor,
				Message: fmt.Sprintf("%d load balancers", len(lbs))})
			return err
		})
		if err != nil {
			return p, nil, fmt.Errorf("record load balancers: %w", err)
		}
		for _, c := range p.Changes {
			if c.Type == "load_balancer" && rep != nil {
				rep(Progress{Time: e.now(), Message: fmt.Sprintf("%s: %s", c.Address(), c.Traffic[0])})
			}
		}
	}

	if len(zonesChanged) > 0 {
		// Zones next: a service's record needs its zone. A zone that
		// cannot be served or updated stops the apply here too.
		if err := e.applyZones(desired.DNSZones, zonesChanged, opts.Targets, opts.Actor); err != nil {
			return p, nil, err
		}
		for _, c := range p.Changes {
			if c.Type == "dns_zone" && rep != nil {
				rep(Progress{Time: e.now(), Message: fmt.Sprintf("%s: %s", c.Address(), c.Traffic[0])})
			}
		}
	}

	out := make([]Result, len(services))
	var wg sync.WaitGroup
	for i, c := range services {
		want, _ := desired.Service(c.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = e.applyService(c, want, opts.Actor, rep)
		}()
	}
	wg.Wait()
	return p, append(results, out...), nil
}

// lock takes a lock kept in the state, so that who holds it can be seen,
// and released by force-unlock when its operation will not.
// targetedLoadBalancers returns the load balancers an apply leaves: all
// of desired, or, with targets, what is recorded with only the targeted
// ones added, changed or removed as desired says.
func targetedLoadBalancers(desired, recorded []spec.LoadBalancer, targets []string) []spec.LoadBalancer {
	return targeted(desired, recorded, func(lb spec.LoadBalancer) string { return "load_balancer." + lb.Name }, targets)
}

// targeted returns the objects an apply leaves: all of desired, or, with
// targets, what is recorded with only the targeted ones (by their
// address) added, changed or removed as desired says.
func targeted[T any](desired, recorded []T, addr func(T) string, targets []string) []T {
	if len(targets) == 0 {
		return desired
	}
	want := map[string]T{}
	for _, x := range desired {
		want[addr(x)] = x
	}
	var out []T
	had := map[string]bool{}
	for _, x := range recorded {
		had[addr(x)] = true
		switch d, ok := want[addr(x)]; {
		case !slices.Contains(targets, addr(x)):
			out = append(out, x)
		case ok:
			out = append(out, d)
		}
	}
	for _, x := range desired {
		if slices.Contains(targets, addr(x)) && !had[addr(x)] {
			out = append(out, x)
		}
	}
	return out
}

func (e *Engine) lock(name, operation, actor string) (state.Lock, error) {
	var l state.Lock
	err := e.store.Update(func(tx *state.Tx) error {
		var err error
		l, err = tx.Lock(name, operation, actor)
		return err
	})
	var le *state.LockError
	if errors.As(err, &le) {
		return l, &BusyError{What: "apply", Holder: fmt.Sprintf("another %s (lock %s)", le.Held.Operation, le.Held.ID), Actor: le.Held.Who, Since: le.Held.Created}
	}
	return l, err
}

func (e *Engine) unlock(l state.Lock) {
	if err := e.store.Update(func(tx *state.Tx) error { return tx.Unlock(l) }); err != nil {
		e.log.Error("release lock", "lock", l.Name, "err", err)
	}
}

// ForceUnlock removes a lock whose operation will not release it, as
// terraform force-unlock does, and says whose it was.
func (e *Engine) ForceUnlock(id, actor string) (state.Lock, error) {
	var l state.Lock
	err := e.store.Update(func(tx *state.Tx) error {
		var err error
		if l, err = tx.ForceUnlock(id); err != nil {
			return err
		}
		_, err = tx.AppendEvent(state.Event{Type: "lock.forced", Actor: actor,
			Message: fmt.Sprintf("lock %s on %s, held by %s for %s since %s, was force-unlocked", l.ID, l.Name, l.Who, l.Operation, l.Created.Format(time.DateTime))})
		return err
	})
	return l, err
}

// applyService carries out the change c to one service.
func (e *Engine) applyService(c plan.Change, want spec.Service, actor string, rep Reporter) Result {
	res := Result{Address: c.Address(), Action: c.Action}
	s := e.service(c.Name)
	if err := s.lock("apply", actor, e.now()); err != nil {
		res.Error = err.Error()
		return res
	}
	defer s.unlock()
	var d state.Deployment
	var err error
	switch {
	case c.Action == plan.Delete:
		d, err = e.destroy(s, actor, rep)
	case c.Revision != 0:
		var rev state.Revision
		rev, err = e.newRevision(want)
		if err == nil {
			d, err = e.deploy(e.ctx, s, rev, want, state.KindDeploy, actor, rep)
		}
	default:
		d, err = e.update(s, want, actor, rep)
	}
	if d.ID != 0 {
		res.Deployment = &d
	}
	if err != nil {
		res.Error = err.Error()
		var de *DeploymentError
		if errors.As(err, &de) {
			res.Error = de.Reason
		}
	}
	return res
}

// newRevision records a new revision of want, and the service itself if
// it is new.
func (e *Engine) newRevision(want spec.Service) (state.Revision, error) {
	var rev state.Revision
	err := e.store.Update(func(tx *state.Tx) error {
		if _, err := tx.Service(want.Name); errors.Is(err, state.ErrNotFound) {
			if err := tx.PutService(state.Service{Name: want.Name, Spec: want}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		var err error
		rev, err = tx.CreateRevision(want)
		if err != nil {
			return err
		}
		_, err = tx.AppendEvent(state.Event{Service: want.Name, Type: "revision.created",
			Message: fmt.Sprintf("revision %d (%s, template %s)", rev.Number, orNone(rev.Version), rev.Hash)})
		return err
	})
	if err != nil {
		return rev, fmt.Errorf("service %q: record a new revision: %w", want.Name, err)
	}
	return rev, nil
}

// pruneRevisions forgets a service's oldest revisions beyond its
// revision_history_limit; the live and the warm one are always kept.
func (e *Engine) pruneRevisions(service string) {
	err := e.store.Update(func(tx *state.Tx) error {
		svc, err := tx.Service(service)
		if err != nil {
			return err
		}
		revs, err := tx.Revisions(service)
		if err != nil {
			return err
		}
		keep := svc.Spec.RevisionHistoryLimit
		for i := 0; i < len(revs)-keep; i++ {
			n := revs[i].Number
			if (svc.Live != nil && svc.Live.Revision == n) || (svc.Previous != nil && svc.Previous.Revision == n) {
				continue
			}
			if err := tx.DeleteRevision(service, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.log.Error("prune revisions", "service", service, "err", err)
	}
}

// destroy removes a service's routes, drains and stops its instances, and
// forgets it; its history is kept.
func (e *Engine) destroy(s *service, actor string, rep Reporter) (state.Deployment, error) {
	s.stopTimer()
	s.mu.Lock()
	live, prev := s.live, s.previous
	s.live, s.previous = nil, nil
	s.mu.Unlock()
	d := state.Deployment{Service: s.name, Kind: state.KindDestroy}
	if live != nil {
		d.FromRevision, d.Slot = live.rev.Number, live.slot
	}
	j, err := e.openJournal(d, actor, rep, nil)
	if err != nil {
		return d, err
	}
	i, _ := j.begin("unroute", "remove the service's routes; new requests to them get 404", nil)
	e.sw.RemoveService(s.name)
	_ = j.end(i, state.Succeeded, "removed")
	if svc := e.appliedSpec(s.name); svc.ByDNS() && e.dns != nil {
		i, _ = j.begin("unpublish", "remove the record "+svc.DNS.Name, nil)
		if err := e.dns.Unpublish(e.ctx, svc.DNS.Name); err != nil {
			_ = j.end(i, state.Failed, err.Error())
		} else {
			_ = j.end(i, state.Succeeded, "removed")
		}
	}
	if live != nil {
		i, _ = j.begin("drain", fmt.Sprintf("revision %d in %s, for at most %s", live.rev.Number, live.slot, live.spec.Deploy.DrainTimeout), nil)
		_ = j.end(i, state.Succeeded, drain(e.ctx, live, live.spec.Deploy.DrainTimeout.D()))
	}
	i, _ = j.begin("stop", "stop every instance of the service", nil)
	e.stopGroup(context.Background(), live, s.name, "the service is destroyed")
	e.stopGroup(context.Background(), prev, s.name, "the service is destroyed")
	_ = j.end(i, state.Succeeded, "stopped")
	err = j.finish(state.Succeeded, "", func(tx *state.Tx) error { return tx.DeleteService(s.name) })
	e.mu.Lock()
	delete(e.services, s.name)
	e.mu.Unlock()
	return j.d, err
}
