package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// slotKey names the instances of one revision in one slot.
type slotKey struct {
	service  string
	revision int
	slot     spec.Slot
}

// Recover takes over what the state records, as a server starts: it
// starts the listeners, settles the deployments a dead server left
// unfinished, adopts the instances that still run, starts what is missing
// of each live revision, and stops whatever belongs to nothing.
func (e *Engine) Recover(ctx context.Context) error {
	var (
		lbs     []spec.LoadBalancer
		svcs    []state.Service
		running []state.Deployment
		records []state.Instance
		revs    = map[slotKey]state.Revision{}
		runs    = map[string]spec.Template{} // by instance ID: what it runs, which names its driver
	)
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		if lbs, err = tx.LoadBalancers(); err != nil {
			return err
		}
		if svcs, err = tx.Services(); err != nil {
			return err
		}
		if running, err = tx.RunningDeployments(); err != nil {
			return err
		}
		if records, err = tx.Instances(); err != nil {
			return err
		}
		for _, rec := range records {
			if r, err := tx.Revision(rec.Service, rec.Revision); err == nil {
				runs[rec.ID] = r.Spec.Template()
			}
		}
		for _, s := range svcs {
			for _, p := range []*state.Placement{s.Live, s.Previous} {
				if p == nil {
					continue
				}
				r, err := tx.Revision(s.Name, p.Revision)
				if err != nil {
					return err
				}
				revs[slotKey{s.Name, p.Revision, p.Slot}] = r
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if err := e.sw.SetLoadBalancers(ctx, lbs); err != nil {
		return err
	}
	e.releaseStaleLocks()
	live := map[string]int{} // service -> live revision; absent: no such service
	for _, s := range svcs {
		live[s.Name] = 0
		if s.Live != nil {
			live[s.Name] = s.Live.Revision
		}
	}
	for _, d := range running {
		e.settle(d, live)
	}

	adopted := map[slotKey][]runtime.Instance{}
	for _, rec := range records {
		rs := runtime.InstanceSpec{ID: rec.ID, Service: rec.Service, Revision: rec.Revision, Slot: rec.Slot,
			Process: runs[rec.ID].Process, Container: runs[rec.ID].Container}
		inst, err := e.driver.Adopt(ctx, rs, rec.Handle)
		if err != nil {
			msg := fmt.Sprintf("instance %s stopped while no server watched it", rec.ID)
			if !errors.Is(err, runtime.ErrGone) {
				e.log.Warn("adopt instance", "instance", rec.ID, "err", err)
				msg = fmt.Sprintf("instance %s could not be adopted: %v", rec.ID, err)
			}
			e.event(state.Event{Service: rec.Service, Type: "instance.gone", Message: msg})
			e.forget(rec.ID)
			continue
		}
		k := slotKey{rec.Service, rec.Revision, rec.Slot}
		adopted[k] = append(adopted[k], inst)
	}

	for _, svc := range svcs {
		e.restore(ctx, svc, revs, adopted)
	}

	// What is left belongs to nothing: the candidates of deployments that
	// did not finish, slots whose warm time ran out.
	var wg sync.WaitGroup
	for k, insts := range adopted {
		for _, inst := range insts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = inst.Stop(ctx, StopGrace)
				e.forget(inst.ID())
				e.event(state.Event{Service: k.service, Type: "instance.stopped",
					Message: fmt.Sprintf("stopped instance %s of revision %d in %s: it was not live or warm when the server came back", inst.ID(), k.revision, k.slot)})
			}()
		}
	}
	wg.Wait()
	e.sweep(ctx)
	return nil
}

// sweep has the driver remove what it started for this server that the
// state does not record: the instances of a server that died between
// starting them and writing them down.
func (e *Engine) sweep(ctx context.Context) {
	sw, ok := e.driver.(runtime.Sweeper)
	if !ok {
		return
	}
	keep := map[string]bool{}
	err := e.store.View(func(tx *state.Tx) error {
		recs, err := tx.Instances()
		for _, rec := range recs {
			keep[rec.ID] = true
		}
		return err
	})
	if err != nil {
		e.log.Error("sweep: read instances", "err", err)
		return
	}
	swept, err := sw.Sweep(ctx, func(id string) bool { return keep[id] })
	if err != nil {
		e.log.Warn("sweep instances that belong to nothing", "err", err)
	}
	if len(swept) > 0 {
		e.event(state.Event{Type: "instances.swept",
			Message: fmt.Sprintf("removed %s that the state did not record: %s", count(len(swept), "instance"), strings.Join(swept, ", "))})
	}
}

// releaseStaleLocks frees the locks of operations of a server that is no
// longer running: this one has just started, so none is its own.
func (e *Engine) releaseStaleLocks() {
	err := e.store.Update(func(tx *state.Tx) error {
		locks, err := tx.Locks()
		if err != nil {
			return err
		}
		for _, l := range locks {
			if err := tx.Unlock(l); err != nil {
				return err
			}
			if _, err := tx.AppendEvent(state.Event{Type: "lock.released", Message: fmt.Sprintf(
				"released lock %s on %s, held by %s for %s when the server stopped", l.ID, l.Name, l.Who, l.Operation)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.log.Error("release stale locks", "err", err)
	}
}

// settle ends a deployment that a dead server left running, by what the
// state says is live, which its switch step recorded in the same
// transaction: if the new revision is live, the deployment succeeded
// (what was left of its drain is skipped); otherwise it is rolled back:
// the new revision's instances are stopped with whatever else belongs to
// nothing, a canary's share of traffic goes back to the live slot, and a
// rolling deployment's replaced instances are started again.
func (e *Engine) settle(d state.Deployment, live map[string]int) {
	rev, exists := live[d.Service]
	var switched bool
	switch d.Kind {
	case state.KindDestroy:
		switched = !exists
	default:
		switched = exists && rev == d.ToRevision
	}
	for i := range d.Steps {
		st := &d.Steps[i]
		if st.Status == state.Running {
			st.Status, st.Outcome, st.EndedAt = state.Failed, "interrupted: the server stopped", e.now()
		}
	}
	d.EndedAt = e.now()
	if switched {
		d.Status, d.Reason = state.Succeeded, ""
	} else {
		d.Status, d.Reason = state.Failed, fmt.Sprintf("the server stopped before the switch; revision %d was rolled back", d.ToRevision)
	}
	err := e.store.Update(func(tx *state.Tx) error {
		if err := tx.PutDeployment(d); err != nil {
			return err
		}
		_, err := tx.AppendEvent(state.Event{Service: d.Service, Deployment: d.ID, Type: "deployment." + string(d.Status),
			Message: fmt.Sprintf("deployment %d settled after a restart: %s", d.ID, orDefault(d.Reason, "it had switched"))})
		return err
	})
	if err != nil {
		e.log.Error("settle deployment", "service", d.Service, "deployment", d.ID, "err", err)
	}
}

// restore rebuilds a service's live and warm groups from the instances
// that were adopted, starts what is missing of the live one, and routes
// to it.
func (e *Engine) restore(ctx context.Context, svc state.Service, revs map[slotKey]state.Revision, adopted map[slotKey][]runtime.Instance) {
	s := e.service(svc.Name)
	if err := e.sw.SetService(svc.Spec); err != nil {
		e.log.Warn("route service", "service", svc.Name, "err", err)
	}
	if svc.Gate != nil {
		e.applyGate(svc.Name, svc.Gate)
	}
	if svc.Live == nil {
		return
	}
	k := slotKey{svc.Name, svc.Live.Revision, svc.Live.Slot}
	live := e.regroup(svc, revs[k], k, adopted)
	delete(adopted, k)
	adoptedCount := len(live.members)
	var startErr error
	for len(live.members) < svc.Spec.DesiredCount {
		m, err := e.startMember(ctx, svc.Name, live, svc.Spec.HealthCheck, func() {})
		if err != nil {
			startErr = err
			break
		}
		live.members = append(live.members, m)
	}
	e.sw.SetPool(svc.Name, live.slot, live.targets())
	e.sw.SetWeights(svc.Name, proxy.Weights{live.slot: 100})
	msg := fmt.Sprintf("revision %d is live in %s again: adopted %d running instances, started %d",
		live.rev.Number, live.slot, adoptedCount, len(live.members)-adoptedCount)
	if startErr != nil {
		msg += "; could not start more: " + startErr.Error()
	}
	e.event(state.Event{Service: svc.Name, Type: "service.restored", Message: msg})

	s.mu.Lock()
	s.live = live
	s.mu.Unlock()

	p := svc.Previous
	if p == nil {
		return
	}
	pk := slotKey{svc.Name, p.Revision, p.Slot}
	left := time.Until(p.WarmUntil)
	if len(adopted[pk]) == 0 || p.WarmUntil.IsZero() || left <= 0 {
		if err := e.store.Update(func(tx *state.Tx) error {
			cur, err := tx.Service(svc.Name)
			if err != nil {
				return err
			}
			cur.Previous = nil
			return tx.PutService(cur)
		}); err != nil {
			e.log.Error("record retired slot", "service", svc.Name, "err", err)
		}
		return // what was adopted of it is stopped with the rest
	}
	warm := e.regroup(svc, revs[pk], pk, adopted)
	delete(adopted, pk)
	s.mu.Lock()
	s.previous = warm
	s.mu.Unlock()
	e.keepWarm(s, warm, left, 0)
}

// regroup makes a group of the instances adopted for k, assumed healthy
// until their checks say otherwise.
func (e *Engine) regroup(svc state.Service, rev state.Revision, k slotKey, adopted map[slotKey][]runtime.Instance) *group {
	applied := svc.Spec
	applied = applied.WithTemplate(rev.Spec.Template())
	g := &group{rev: rev, spec: applied, slot: k.slot}
	for _, inst := range adopted[k] {
		g.members = append(g.members, e.watch(svc.Name, g, inst, svc.Spec.HealthCheck, true, func() {}))
	}
	return g
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
