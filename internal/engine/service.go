package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// service is what runs for one service.
type service struct {
	name string

	// op is held by the one operation that changes the service: a
	// deployment, a rollback, a scale, a destroy, retiring the warm slot.
	op     sync.Mutex
	holder *holder // guarded by mu

	mu        sync.Mutex // guards the fields below; held briefly
	live      *group
	previous  *group   // warm, for an instant rollback
	candidate *group   // during a deployment
	candShare int      // the candidate's share of requests, in percent, while a canary shifts
	ctl       *control // an operator's say in the deployment in flight
	warmTimer *time.Timer
	restarts  restarts // of crashed live instances
}

// lock takes the service for an operation, or says who has it.
func (s *service) lock(what, actor string, now time.Time) error {
	if !s.op.TryLock() {
		s.mu.Lock()
		defer s.mu.Unlock()
		err := &BusyError{What: fmt.Sprintf("service %q", s.name), Holder: "another operation"}
		if h := s.holder; h != nil {
			err.Holder, err.Actor, err.Since = h.what, h.actor, h.since
		}
		return err
	}
	s.mu.Lock()
	s.holder = &holder{what: what, actor: actor, since: now}
	s.mu.Unlock()
	return nil
}

func (s *service) unlock() {
	s.mu.Lock()
	s.holder = nil
	s.mu.Unlock()
	s.op.Unlock()
}

func (s *service) stopTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warmTimer != nil {
		s.warmTimer.Stop()
		s.warmTimer = nil
	}
}

// group is the instances of one revision in one slot.
type group struct {
	rev     state.Revision
	spec    spec.Service // as applied when the group started: count, checks, drain
	slot    spec.Slot
	members []*member
	warmBy  int // the deployment that left it warm, for its after_bake hook
}

// member is one instance and the load balancer's view of it.
type member struct {
	inst   runtime.Instance
	target *proxy.Target
	wake   func() // tells whoever watches the group that something changed
}

func (m *member) exited() bool {
	select {
	case <-m.inst.Done():
		return true
	default:
		return false
	}
}

func (g *group) targets() []*proxy.Target {
	ts := make([]*proxy.Target, len(g.members))
	for i, m := range g.members {
		ts[i] = m.target
	}
	return ts
}

// counts returns how many members are healthy, unhealthy and exited.
func (g *group) counts() (healthy, unhealthy, exited int) {
	for _, m := range g.members {
		select {
		case <-m.inst.Done():
			exited++
			continue
		default:
		}
		switch m.target.Health() {
		case proxy.Healthy:
			healthy++
		case proxy.Unhealthy:
			unhealthy++
		}
	}
	return
}

// allHealthy reports whether every member runs and passes its checks.
func (g *group) allHealthy() bool {
	h, _, _ := g.counts()
	return len(g.members) > 0 && h == len(g.members)
}

// instanceID names a new instance: service, revision, slot, and a random
// suffix, since the same revision can run in the same slot more than once.
func instanceID(service string, rev int, slot spec.Slot) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-r%d-%s-%s", service, rev, slot, hex.EncodeToString(b))
}

// startMember starts one instance of g's revision and its health checks.
func (e *Engine) startMember(ctx context.Context, service string, g *group, hc spec.HealthCheck, wake func()) (*member, error) {
	rs := runtime.InstanceSpec{
		ID:        e.prefix + instanceID(service, g.rev.Number, g.slot),
		Service:   service,
		Revision:  g.rev.Number,
		Slot:      g.slot,
		Process:   g.spec.Process,
		Container: g.spec.Container,
	}
	if c := rs.Container; c != nil && g.spec.Build != nil && c.Pull == spec.PullAlways {
		// "always" pulled the base images of the build; the image itself
		// was built here and is in no registry.
		built := *c
		built.Pull = spec.PullMissing
		rs.Container = &built
	}
	// The record comes first, without a handle: a server killed while the
	// instance starts must still find it (the driver can, by its ID) and
	// not leave it running unknown.
	intent := state.Instance{ID: rs.ID, Service: service, Revision: rs.Revision, Slot: rs.Slot, StartedAt: e.now()}
	if err := e.store.Update(func(tx *state.Tx) error { return tx.PutInstance(intent) }); err != nil {
		return nil, fmt.Errorf("record instance %s: %w", rs.ID, err)
	}
	inst, err := e.driver.Start(ctx, rs)
	if err != nil {
		e.forget(rs.ID)
		return nil, err
	}
	err = e.store.Update(func(tx *state.Tx) error {
		return tx.PutInstance(state.Instance{
			ID: rs.ID, Service: service, Revision: rs.Revision, Slot: rs.Slot,
			Addr: inst.Addr(), Handle: inst.Handle(), StartedAt: inst.Started(),
		})
	})
	if err != nil {
		// An instance the state does not know of would be lost in a crash.
		_ = inst.Stop(context.Background(), StopGrace)
		return nil, fmt.Errorf("record instance %s: %w", rs.ID, err)
	}
	return e.watch(service, g, inst, hc, false, wake), nil
}

// watch makes a member of inst: its target, its health checks, and a
// watcher that takes it out of rotation the moment it exits. An instance
// adopted after a restart was healthy when the last server saw it, so it
// may be assumed healthy until its checks say otherwise.
func (e *Engine) watch(service string, g *group, inst runtime.Instance, hc spec.HealthCheck, assumeHealthy bool, wake func()) *member {
	m := &member{inst: inst, wake: wake, target: e.sw.NewTarget(proxy.TargetOptions{
		ID: inst.ID(), Addr: inst.Addr(), Service: service, Revision: g.rev.Number, Slot: g.slot,
		Timeouts: g.spec.Timeouts, Consecutive5xx: g.spec.HealthCheck.Consecutive5xx,
	})}
	if assumeHealthy {
		m.target.Assume(proxy.Healthy)
	}
	e.startChecks(service, g, m, hc)
	go func() {
		<-inst.Done()
		ex := inst.Exit()
		m.target.MarkDown(ex.String())
		if !ex.Stopped {
			msg := fmt.Sprintf("instance %s (revision %d, %s) %s", inst.ID(), g.rev.Number, g.slot, ex)
			if tail := inst.LogTail(5); len(tail) > 0 {
				msg += "; last output:\n" + indent(tail)
			}
			e.log.Warn("instance exited", "service", service, "instance", inst.ID(), "exit", ex.String())
			e.event(state.Event{Service: service, Type: "instance.exited", Message: msg})
			e.forget(inst.ID())
			e.crashed(e.service(service), g, inst.ID())
		}
		m.wake()
	}()
	return m
}

// startChecks starts m's health checks; each change of health is an event
// and wakes whoever watches the group.
func (e *Engine) startChecks(service string, g *group, m *member, hc spec.HealthCheck) {
	m.target.StartChecks(hc, m.inst.Started(), func(t *proxy.Target, h proxy.Health) {
		e.event(state.Event{Service: service, Type: "instance.health",
			Message: fmt.Sprintf("instance %s (revision %d, %s) is %s: %s", t.ID, g.rev.Number, g.slot, h, t.LastResult())})
		m.wake()
	})
}

// forget removes the record of an instance that has ended.
func (e *Engine) forget(id string) {
	if err := e.store.Update(func(tx *state.Tx) error { return tx.DeleteInstance(id) }); err != nil {
		e.log.Error("forget instance", "instance", id, "err", err)
	}
}

// stopGroup drains and stops every member of g, all at once.
func (e *Engine) stopGroup(ctx context.Context, g *group, service, why string) {
	if g == nil {
		return
	}
	var wg sync.WaitGroup
	for _, m := range g.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stopMember(ctx, m, g.spec.Deploy.DrainTimeout.D())
		}()
	}
	wg.Wait()
	e.event(state.Event{Service: service, Type: "instances.stopped",
		Message: fmt.Sprintf("stopped %d instances of revision %d in %s: %s", len(g.members), g.rev.Number, g.slot, why)})
}

func (e *Engine) stopMember(ctx context.Context, m *member, drain time.Duration) {
	m.target.Close(ctx, drain)
	if err := m.inst.Stop(ctx, StopGrace); err != nil {
		e.log.Error("stop instance", "instance", m.inst.ID(), "err", err)
	}
	e.forget(m.inst.ID())
}

// stopLater stops a group in the background; Shutdown waits for it.
func (e *Engine) stopLater(g *group, service, why string) {
	if g == nil {
		return
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		e.stopGroup(context.Background(), g, service, why)
	}()
}

// explain says why a group's instances are not all healthy: for the first
// that is not, its exit or its last check, and the last lines it wrote.
func explain(g *group) string {
	for _, m := range g.members {
		var what string
		select {
		case <-m.inst.Done():
			what = m.inst.Exit().String()
		default:
			if m.target.Health() == proxy.Healthy {
				continue
			}
			what = "last health check: " + m.target.LastResult()
			if m.target.LastResult() == "" {
				what = "no health check has finished yet"
			}
			if p := m.target.PassiveReason(); p != "" && p != m.target.LastResult() {
				what += "; taken out of rotation by real requests: " + p
			}
		}
		msg := fmt.Sprintf("instance %s %s", m.inst.ID(), what)
		if tail := m.inst.LogTail(10); len(tail) > 0 {
			msg += "; last output:\n" + indent(tail)
		}
		return msg
	}
	return ""
}

func indent(lines []string) string {
	return "    " + strings.Join(lines, "\n    ")
}
