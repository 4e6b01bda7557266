package engine

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// update applies what changes in place, with no new revision: routes,
// health checks, the count of instances and the deploy settings. Only a
// change of count makes a deployment (a scale); it is returned.
func (e *Engine) update(s *service, want spec.Service, actor string, rep Reporter) (state.Deployment, error) {
	var old state.Service
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		old, err = tx.Service(s.name)
		return err
	})
	if err != nil {
		return state.Deployment{}, err
	}
	s.mu.Lock()
	live, prev := s.live, s.previous
	s.mu.Unlock()
	say := func(msg string) {
		if rep != nil {
			rep(Progress{Time: e.now(), Service: s.name, Message: msg})
		}
	}

	if old.Spec.Switch != want.Switch || !reflect.DeepEqual(old.Spec.DNS, want.DNS) {
		if err := e.syncDNS(e.ctx, s.name, old.Spec, want, live); err != nil {
			return state.Deployment{}, err
		}
		say("DNS changed in place: slot listeners and the record")
	}
	if !slices.Equal(old.Spec.Routes, want.Routes) || !reflect.DeepEqual(old.Spec.Preview, want.Preview) || !reflect.DeepEqual(old.Spec.Sticky, want.Sticky) {
		if err := e.sw.SetService(want); err != nil {
			return state.Deployment{}, fmt.Errorf("service %q: %w", s.name, err)
		}
		say("routing changed on the load balancer, in place")
	}
	if old.Spec.HealthCheck != want.HealthCheck || old.Spec.Timeouts != want.Timeouts {
		for _, g := range []*group{live, prev} {
			if g == nil {
				continue
			}
			for _, m := range g.members {
				m.target.Update(want.Timeouts, want.HealthCheck.Consecutive5xx)
				if old.Spec.HealthCheck != want.HealthCheck {
					m.target.StopChecks()
					e.startChecks(s.name, g, m, want.HealthCheck)
				}
			}
		}
		say("health checks and timeouts changed on the running instances, in place")
	}
	var d state.Deployment
	if running, _ := e.drift(s.name); live != nil && (old.Spec.DesiredCount != want.DesiredCount || running < want.DesiredCount) {
		d, err = e.scale(s, live, want, actor, rep)
		if err != nil {
			return d, err
		}
	}
	s.mu.Lock()
	if live != nil {
		live.spec = want
	}
	s.mu.Unlock()
	err = e.store.Update(func(tx *state.Tx) error {
		svc, err := tx.Service(s.name)
		if err != nil {
			return err
		}
		svc.Spec = want
		if err := tx.PutService(svc); err != nil {
			return err
		}
		_, err = tx.AppendEvent(state.Event{Service: s.name, Type: "service.updated", Actor: actor,
			Message: "settings changed in place, with no new revision"})
		return err
	})
	return d, err
}

// scale starts or stops instances of the live revision until it runs
// want.DesiredCount. New instances take traffic as each becomes healthy;
// instances that go are taken out of rotation and drained first.
func (e *Engine) scale(s *service, live *group, want spec.Service, actor string, rep Reporter) (state.Deployment, error) {
	s.mu.Lock()
	live.members = slices.DeleteFunc(live.members, func(m *member) bool {
		select {
		case <-m.inst.Done():
			return true // exited: it counts for nothing
		default:
			return false
		}
	})
	have := len(live.members)
	s.mu.Unlock()
	kind := state.KindScale
	if want.DesiredCount == live.spec.DesiredCount {
		kind = state.KindRepair // the count is as it was: instances died
	}
	d := state.Deployment{Service: s.name, Kind: kind, FromRevision: live.rev.Number, ToRevision: live.rev.Number, Slot: live.slot}
	j, err := e.openJournal(d, actor, rep, nil)
	if err != nil {
		return d, err
	}
	n := want.DesiredCount - have
	if n < 0 {
		s.mu.Lock()
		going := slices.Clone(live.members[want.DesiredCount:])
		live.members = live.members[:want.DesiredCount]
		s.mu.Unlock()
		e.sw.SetPool(s.name, live.slot, live.targets())
		i, _ := j.begin("stop", fmt.Sprintf("drain and stop %s of revision %d", count(-n, "instance"), live.rev.Number), nil)
		e.stopGroup(context.Background(), &group{rev: live.rev, spec: want, slot: live.slot, members: going}, s.name, "scaled down")
		_ = j.end(i, state.Succeeded, "stopped")
		return j.d, j.finish(state.Succeeded, "", nil)
	}
	if n == 0 {
		return j.d, j.finish(state.Succeeded, "", nil)
	}

	wake := make(chan struct{}, 1)
	kick := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	i, _ := j.begin("start", fmt.Sprintf("%s of revision %d in %s; each takes traffic once healthy", count(n, "instance"), live.rev.Number, live.slot), nil)
	added := &group{rev: live.rev, spec: want, slot: live.slot}
	var startErr error
	for range n {
		m, err := e.startMember(e.ctx, s.name, live, want.HealthCheck, kick)
		if err != nil {
			startErr = err
			break
		}
		added.members = append(added.members, m)
	}
	s.mu.Lock()
	live.members = append(live.members, added.members...)
	s.mu.Unlock()
	e.sw.SetPool(s.name, live.slot, live.targets())
	if startErr != nil {
		_ = j.end(i, state.Failed, startErr.Error())
		return e.unscale(j, s, live, added, "an instance could not be started: "+startErr.Error())
	}
	_ = j.end(i, state.Succeeded, fmt.Sprintf("started %d", n))

	i, _ = j.begin("health", fmt.Sprintf("wait for %s to pass %s, for at most %s", count(n, "new instance"), want.HealthCheck.Path, want.Deploy.ReadyTimeout), nil)
	deadline := time.NewTimer(want.Deploy.ReadyTimeout.D())
	defer deadline.Stop()
	for {
		healthy, unhealthy, exited := added.counts()
		if healthy == n {
			_ = j.end(i, state.Succeeded, fmt.Sprintf("%d of %d healthy", healthy, n))
			return j.d, j.finish(state.Succeeded, "", nil)
		}
		if unhealthy > 0 || exited > 0 {
			_ = j.end(i, state.Failed, fmt.Sprintf("%d unhealthy, %d exited", unhealthy, exited))
			return e.unscale(j, s, live, added, explain(added))
		}
		select {
		case <-wake:
		case <-deadline.C:
			_ = j.end(i, state.Failed, "ready_timeout ran out")
			return e.unscale(j, s, live, added, fmt.Sprintf("%d of %d new instances healthy when ready_timeout ran out; %s", healthy, n, explain(added)))
		case <-e.ctx.Done():
			_ = j.end(i, state.Failed, "the server is shutting down")
			return e.unscale(j, s, live, added, "the server is shutting down")
		}
	}
}

// unscale takes the instances a failed scale-up added out of the pool and
// stops them.
func (e *Engine) unscale(j *journal, s *service, live, added *group, reason string) (state.Deployment, error) {
	s.mu.Lock()
	live.members = slices.DeleteFunc(live.members, func(m *member) bool { return slices.Contains(added.members, m) })
	s.mu.Unlock()
	e.sw.SetPool(s.name, live.slot, live.targets())
	e.stopGroup(context.Background(), added, s.name, "the scale failed")
	_ = j.finish(state.Failed, reason, nil)
	return j.d, &DeploymentError{Service: s.name, Deployment: j.d.ID, Reason: strings.TrimSpace(reason)}
}
