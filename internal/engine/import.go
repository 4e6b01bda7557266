package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// ErrCannotImport is returned when the driver cannot take over what it
// did not start, or the service cannot be imported.
var ErrCannotImport = errors.New("cannot import")

// Import brings an application that already runs, serving on addr, under
// teal with no downtime: it becomes revision 1 of svc (marked imported),
// live in the blue slot, and the load balancer routes to it at once. The
// next apply replaces it by the service's strategy, since what runs is
// not known to match the configuration. svc's load balancers must be
// applied already.
func (e *Engine) Import(ctx context.Context, svc spec.Service, addr string, pid int, actor string, rep Reporter) (state.Deployment, error) {
	if e.ctx.Err() != nil {
		return state.Deployment{}, ErrShuttingDown
	}
	imp, ok := e.driver.(runtime.Importer)
	if !ok {
		return state.Deployment{}, fmt.Errorf("%w: the driver cannot take over instances it did not start", ErrCannotImport)
	}
	if ps := (spec.Desired{Services: []spec.Service{svc}}).Validate(); len(ps) > 0 {
		// Routes name load balancers that are in the state, not in this
		// document: check them below instead.
		ps = slices.DeleteFunc(ps, func(p spec.Problem) bool {
			return p.Message == fmt.Sprintf("no load balancer named %q is declared", routeLB(p, svc))
		})
		if len(ps) > 0 {
			return state.Deployment{}, &InvalidError{Problems: ps}
		}
	}
	lock, err := e.lock("apply", "import", actor)
	if err != nil {
		return state.Deployment{}, err
	}
	defer e.unlock(lock)
	err = e.store.View(func(tx *state.Tx) error {
		if _, err := tx.Service(svc.Name); err == nil {
			return fmt.Errorf("%w: service %q is already in the state", ErrCannotImport, svc.Name)
		} else if !errors.Is(err, state.ErrNotFound) {
			return err
		}
		lbs, err := tx.LoadBalancers()
		if err != nil {
			return err
		}
		for _, r := range svc.Routes {
			if !slices.ContainsFunc(lbs, func(lb spec.LoadBalancer) bool { return lb.Name == r.LoadBalancer }) {
				return fmt.Errorf("%w: load balancer %q is not applied yet; run teal apply -target load_balancer.%s first", ErrCannotImport, r.LoadBalancer, r.LoadBalancer)
			}
		}
		return nil
	})
	if err != nil {
		return state.Deployment{}, err
	}
	s := e.service(svc.Name)
	if err := s.lock("import", actor, e.now()); err != nil {
		return state.Deployment{}, err
	}
	defer s.unlock()

	var rev state.Revision
	err = e.store.Update(func(tx *state.Tx) error {
		var err error
		if rev, err = tx.CreateRevision(svc); err != nil {
			return err
		}
		rev.Imported = true
		return tx.PutRevision(rev)
	})
	if err != nil {
		return state.Deployment{}, err
	}
	d := state.Deployment{Service: svc.Name, Kind: state.KindImport, ToRevision: rev.Number, Slot: spec.Blue}
	j, err := e.openJournal(d, actor, rep, nil)
	if err != nil {
		return d, err
	}
	g := &group{rev: rev, spec: svc, slot: spec.Blue}
	i, err := j.begin("adopt", fmt.Sprintf("taking over what serves on %s", addr), nil)
	if err != nil {
		return j.d, err
	}
	id := e.prefix + instanceID(svc.Name, rev.Number, g.slot)
	inst, err := imp.Import(ctx, runtime.InstanceSpec{ID: id, Service: svc.Name, Revision: rev.Number, Slot: g.slot}, addr, pid)
	if err != nil {
		_ = j.end(i, state.Failed, err.Error())
		_ = j.finish(state.Failed, err.Error(), nil)
		return j.d, err
	}
	g.members = []*member{e.watch(svc.Name, g, inst, svc.HealthCheck, true, func() {})}
	_ = j.end(i, state.Succeeded, "instance "+id)
	err = e.store.Update(func(tx *state.Tx) error {
		return tx.PutInstance(state.Instance{ID: id, Service: svc.Name, Revision: rev.Number, Slot: g.slot, Addr: inst.Addr(), Handle: inst.Handle(), StartedAt: inst.Started()})
	})
	if err != nil {
		return j.d, err
	}
	i, err = j.begin("switch", fmt.Sprintf("routing to revision %d in %s", rev.Number, g.slot), func(tx *state.Tx) error {
		return tx.PutService(state.Service{Name: svc.Name, Spec: svc, Live: &state.Placement{Revision: rev.Number, Slot: g.slot}})
	})
	if err != nil {
		return j.d, err
	}
	if err := e.sw.SetService(svc); err != nil {
		e.log.Warn("route service", "service", svc.Name, "err", err)
	}
	e.sw.SetPool(svc.Name, g.slot, g.targets())
	e.sw.SetWeights(svc.Name, proxy.Weights{g.slot: 100})
	s.mu.Lock()
	s.live = g
	s.mu.Unlock()
	_ = j.end(i, state.Succeeded, "in effect from the next request")
	return j.d, j.finish(state.Succeeded, "", nil)
}

// routeLB names the load balancer a route problem is about.
func routeLB(p spec.Problem, svc spec.Service) string {
	for i, r := range svc.Routes {
		if p.Path == fmt.Sprintf("service.%s.route[%d].load_balancer", svc.Name, i) {
			return r.LoadBalancer
		}
	}
	return ""
}
