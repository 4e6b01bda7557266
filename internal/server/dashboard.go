package server

import (
	"context"
	"fmt"
	"sort"

	"github.com/teal-deploy/teal/internal/dashboard"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
)

// dashboardBackend is the server as the dashboard sees it: every
// environment's engine for the services, deployments, events and
// actions, and the load balancer for the weights and request counters.
type dashboardBackend struct{ s *Server }

var _ dashboard.Backend = dashboardBackend{}

// Snapshot reads each environment's status and last events, and the load
// balancer's view of each service.
func (b dashboardBackend) Snapshot(events int) (dashboard.Snapshot, error) {
	var snap dashboard.Snapshot
	for _, env := range b.s.environments() {
		sts, err := env.engine.Status("")
		if err != nil {
			return snap, fmt.Errorf("environment %s: %w", orDefault(env.name), err)
		}
		for _, st := range sts {
			pools := b.s.proxy.Pools(envSwitch{env: env.name}.q(st.Name))
			snap.Services = append(snap.Services, serviceView(env.name, st, pools))
		}
		evs, err := env.engine.LastEvents(events, "")
		if err != nil {
			return snap, fmt.Errorf("environment %s: %w", orDefault(env.name), err)
		}
		for _, ev := range evs {
			snap.Events = append(snap.Events, dashboard.Event{Env: env.name, Event: ev})
		}
	}
	sort.SliceStable(snap.Events, func(i, j int) bool { return snap.Events[i].Time.Before(snap.Events[j].Time) })
	if len(snap.Events) > events {
		snap.Events = snap.Events[len(snap.Events)-events:]
	}
	return snap, nil
}

// serviceView is a service's status with the weights and counters of the
// load balancer, which routes by them.
func serviceView(env string, st engine.ServiceStatus, pools []proxy.Pool) dashboard.Service {
	weights := map[spec.Slot]int{}
	targets := map[string]*proxy.Target{}
	for _, p := range pools {
		weights[p.Slot] = p.Weight
		for _, t := range p.Targets {
			targets[t.ID] = t
		}
	}
	svc := dashboard.Service{Env: env, Name: st.Name, Version: st.Version, Slots: []dashboard.Slot{},
		Deployment: st.Deployment, Gate: st.Gate}
	for _, s := range []struct {
		role dashboard.Role
		ss   *engine.SlotStatus
	}{{dashboard.Live, st.Live}, {dashboard.Candidate, st.Candidate}, {dashboard.Previous, st.Previous}} {
		if s.ss == nil {
			continue
		}
		sl := dashboard.Slot{Role: s.role, Slot: s.ss.Slot, Revision: s.ss.Revision, Version: s.ss.Version,
			Weight: weights[s.ss.Slot], WarmUntil: s.ss.WarmUntil, Instances: []dashboard.Instance{}}
		for _, is := range s.ss.Instances {
			in := dashboard.Instance{ID: is.ID, Addr: is.Addr, Health: is.Health, LastCheck: is.LastCheck, Started: is.Started, Exit: is.Exit}
			if t := targets[is.ID]; t != nil {
				c := t.Stats()
				in.Requests, in.Errors = c.Requests, c.Errors
			}
			sl.Instances = append(sl.Instances, in)
		}
		svc.Slots = append(svc.Slots, sl)
	}
	return svc
}

// Act does an operator's action from the dashboard. A service that does
// not exist is named as such, rather than as one with nothing in flight.
func (b dashboardBackend) Act(env, service string, a dashboard.Action, actor string) error {
	e, err := b.s.envFor(context.Background(), env, false)
	if err != nil {
		return apiError(err)
	}
	if _, err := e.engine.Status(service); err != nil {
		return apiError(err)
	}
	switch a {
	case dashboard.Promote:
		err = e.engine.Promote(service, actor)
	case dashboard.Abort:
		err = e.engine.Abort(service, actor)
	case dashboard.PauseDeployment:
		err = e.engine.PauseDeployment(service, actor)
	case dashboard.ResumeDeployment:
		err = e.engine.ResumeDeployment(service, actor)
	case dashboard.Rollback:
		_, err = e.engine.Rollback(service, 0, actor, nil)
	default:
		err = fmt.Errorf("no action %q", a)
	}
	if err != nil {
		return apiError(err)
	}
	return nil
}

// environments returns every environment, the default first, then by
// name.
func (s *Server) environments() []*environment {
	s.envMu.Lock()
	defer s.envMu.Unlock()
	out := make([]*environment, 0, len(s.envs))
	for _, e := range s.envs {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
