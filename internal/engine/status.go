package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// ServiceStatus is what `teal status` shows of one service.
type ServiceStatus struct {
	Name    string `json:"name"`
	Version string `json:"version"` // of the live revision
	// Live takes the traffic; Previous is warm for an instant rollback;
	// Candidate is being deployed.
	Live      *SlotStatus `json:"live,omitempty"`
	Previous  *SlotStatus `json:"previous,omitempty"`
	Candidate *SlotStatus `json:"candidate,omitempty"`
	// Deployment is the last deployment, or the one in flight.
	Deployment *state.Deployment `json:"deployment,omitempty"`
	// Gate is set while the service is paused or in maintenance.
	Gate *state.Gate `json:"gate,omitempty"`
	// DNS is set for a service that switches by DNS: where its record
	// points, and how many requests still reach each slot.
	DNS *DNSStatus `json:"dns,omitempty"`
}

// SlotStatus is a revision in a slot and its instances.
type SlotStatus struct {
	Slot      spec.Slot        `json:"slot"`
	Revision  int              `json:"revision"`
	Version   string           `json:"version"`
	Weight    int              `json:"weight"` // percent of new requests
	WarmUntil time.Time        `json:"warm_until,omitzero"`
	Instances []InstanceStatus `json:"instances"`
}

// InstanceStatus is one instance as the load balancer sees it.
type InstanceStatus struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	Health    string    `json:"health"`
	LastCheck string    `json:"last_check,omitempty"`
	InFlight  int64     `json:"in_flight"`
	Served    uint64    `json:"served"`
	Started   time.Time `json:"started"`
	Exit      string    `json:"exit,omitempty"`
}

// Status returns the status of every service, or of the one named.
func (e *Engine) Status(name string) ([]ServiceStatus, error) {
	var out []ServiceStatus
	err := e.store.View(func(tx *state.Tx) error {
		svcs, err := tx.Services()
		if err != nil {
			return err
		}
		found := false
		for _, svc := range svcs {
			if name != "" && svc.Name != name {
				continue
			}
			found = true
			st := ServiceStatus{Name: svc.Name, Gate: svc.Gate}
			ds, err := tx.Deployments(svc.Name)
			if err != nil {
				return err
			}
			if len(ds) > 0 {
				st.Deployment = &ds[len(ds)-1]
			}
			st.DNS = e.dnsStatus(svc)
			out = append(out, e.fill(st, svc))
		}
		if name != "" && !found {
			return fmt.Errorf("service %q: %w", name, state.ErrNotFound)
		}
		return nil
	})
	return out, err
}

func (e *Engine) fill(st ServiceStatus, svc state.Service) ServiceStatus {
	s := e.service(svc.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		st.Live = slotStatus(s.live, 100-s.candShare)
		st.Version = s.live.rev.Version
	}
	if s.previous != nil {
		st.Previous = slotStatus(s.previous, 0)
		if svc.Previous != nil {
			st.Previous.WarmUntil = svc.Previous.WarmUntil
		}
	}
	if s.candidate != nil {
		st.Candidate = slotStatus(s.candidate, s.candShare)
	}
	return st
}

func slotStatus(g *group, weight int) *SlotStatus {
	ss := &SlotStatus{Slot: g.slot, Revision: g.rev.Number, Version: g.rev.Version, Weight: weight, Instances: []InstanceStatus{}}
	for _, m := range g.members {
		is := InstanceStatus{
			ID: m.inst.ID(), Addr: m.inst.Addr(), Health: m.target.Health().String(),
			LastCheck: m.target.LastResult(), InFlight: m.target.InFlight(), Served: m.target.Served(),
			Started: m.inst.Started(),
		}
		select {
		case <-m.inst.Done():
			is.Exit = m.inst.Exit().String()
		default:
		}
		ss.Instances = append(ss.Instances, is)
	}
	return ss
}

// History returns a service's revisions and deployments, oldest first.
func (e *Engine) History(name string) ([]state.Revision, []state.Deployment, error) {
	var revs []state.Revision
	var ds []state.Deployment
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		if revs, err = tx.Revisions(name); err != nil {
			return err
		}
		if ds, err = tx.Deployments(name); err != nil {
			return err
		}
		if len(revs) == 0 && len(ds) == 0 {
			return fmt.Errorf("service %q: %w", name, state.ErrNotFound)
		}
		return nil
	})
	return revs, ds, err
}

// Events returns up to limit events after sequence number after, of the
// service named (or of all when service is ""). With wait, it waits up
// to that long for the first one, so that a client can follow the log.
func (e *Engine) Events(ctx context.Context, after uint64, limit int, service string, wait time.Duration) ([]state.Event, error) {
	deadline := time.Now().Add(wait)
	for {
		var evs []state.Event
		err := e.store.View(func(tx *state.Tx) error {
			for len(evs) < limit {
				page, err := tx.Events(after, limit)
				if err != nil || len(page) == 0 {
					return err
				}
				for _, ev := range page {
					after = ev.Seq
					if service == "" || ev.Service == service {
						evs = append(evs, ev)
					}
				}
			}
			return nil
		})
		if err != nil || len(evs) > 0 || !time.Now().Before(deadline) {
			return evs, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-e.ctx.Done():
			return nil, nil
		case <-time.After(eventPoll):
		}
	}
}

// LastEvents returns the last n events, of one service or of all ("").
func (e *Engine) LastEvents(n int, service string) ([]state.Event, error) {
	var evs []state.Event
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		evs, err = tx.LastEvents(n, service)
		return err
	})
	return evs, err
}

// eventPoll is how often a follower waiting for events looks for new ones.
const eventPoll = 100 * time.Millisecond

// StateVersion returns what was applied at serial, or now when serial is 0.
func (e *Engine) StateVersion(serial uint64) (state.Version, error) {
	var v state.Version
	err := e.store.View(func(tx *state.Tx) error {
		if serial != 0 {
			var err error
			v, err = tx.Version(serial)
			return err
		}
		lbs, err := tx.LoadBalancers()
		if err != nil {
			return err
		}
		svcs, err := tx.Services()
		if err != nil {
			return err
		}
		zones, err := tx.DNSZones()
		v = state.Version{Serial: tx.Serial(), Lineage: tx.Lineage(), Time: e.now(), LoadBalancers: lbs, Services: svcs, DNSZones: zones}
		return err
	})
	return v, err
}

// StateVersions returns the versions kept, newest first, without their
// contents.
func (e *Engine) StateVersions() ([]state.Version, error) {
	var vs []state.Version
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		vs, err = tx.Versions()
		return err
	})
	return vs, err
}

// Locks returns the locks held.
func (e *Engine) Locks() ([]state.Lock, error) {
	var ls []state.Lock
	err := e.store.View(func(tx *state.Tx) error {
		var err error
		ls, err = tx.Locks()
		return err
	})
	return ls, err
}
