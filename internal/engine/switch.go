package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/state"
)

// switchTo makes cand live: it records the switch, then changes the
// routing table once, so the next request goes to cand. The previous live
// group stays running, warm; a warm group it replaces is stopped.
func (e *Engine) switchTo(j *journal, s *service, cand, live *group) error {
	detail := fmt.Sprintf("all new requests to revision %d in %s", cand.rev.Number, cand.slot)
	record := func(tx *state.Tx) error {
		svc, err := tx.Service(s.name)
		if err != nil {
			return err
		}
		svc.Spec = cand.spec
		svc.Live = &state.Placement{Revision: cand.rev.Number, Slot: cand.slot}
		svc.Previous = nil
		if live != nil {
			svc.Previous = &state.Placement{Revision: live.rev.Number, Slot: live.slot}
		}
		return tx.PutService(svc)
	}
	var i int
	var err error
	if cand.spec.ByDNS() {
		i, err = e.switchRecord(j, s, cand, live, "clients move to revision "+fmt.Sprint(cand.rev.Number)+" in "+string(cand.slot)+" as their caches expire", record)
	} else {
		i, err = j.begin("switch", detail, record)
	}
	if err != nil {
		return err // not recorded, so not done
	}
	if err := e.sw.SetService(cand.spec); err != nil {
		e.log.Warn("route service", "service", s.name, "err", err)
	}
	e.sw.SetPool(s.name, cand.slot, cand.targets())
	e.sw.SetWeights(s.name, proxy.Weights{cand.slot: 100})
	e.sw.SetCandidate(s.name, "")

	s.stopTimer()
	s.mu.Lock()
	superseded := s.previous
	if superseded == cand {
		superseded = nil // a rollback to the warm group: it is live again
	}
	s.previous, s.live, s.candidate, s.candShare = live, cand, nil, 0
	s.mu.Unlock()
	if superseded != nil {
		e.stopLater(superseded, s.name, fmt.Sprintf("revision %d is no longer the one to roll back to", superseded.rev.Number))
	}
	outcome := "in effect from the next request"
	if cand.spec.ByDNS() {
		outcome = fmt.Sprintf("the DNS server has the new record; new lookups get it, cached ones expire within %s", cand.spec.DNS.TTL)
	}
	_ = j.end(i, state.Succeeded, outcome)
	e.told(j.d, "switched", "")
	return nil
}

// drain waits for requests in flight to g's instances, for at most
// timeout; then it closes the connections of those still busy, which ends
// long requests and upgraded connections (WebSockets) to them. It says
// how it went.
func drain(ctx context.Context, g *group, timeout time.Duration) string {
	began := time.Now()
	left, closed := 0, 0
	for _, m := range g.members {
		if !m.target.Drain(ctx, timeout-time.Since(began)) {
			left += int(m.target.InFlight())
			closed += m.target.CloseConnections()
		}
	}
	if left > 0 {
		return fmt.Sprintf("%d requests still in flight after %s: closed their %d connections (WebSockets and long requests)", left, timeout, closed)
	}
	return fmt.Sprintf("no request in flight after %s", time.Since(began).Round(time.Millisecond))
}

// warmUntil records, in a transaction, until when the previous revision
// of a service stays warm.
func warmUntil(service string, until time.Time) func(*state.Tx) error {
	return func(tx *state.Tx) error {
		svc, err := tx.Service(service)
		if err != nil || svc.Previous == nil {
			return err
		}
		svc.Previous.WarmUntil = until
		return tx.PutService(svc)
	}
}

// keepWarm keeps g running, unrouted, for keep, so that a rollback is one
// switch; then it is stopped and the after_bake hook runs. deployment is
// the one that made it warm, whose record gets the hook's output.
func (e *Engine) keepWarm(s *service, g *group, keep time.Duration, deployment int) {
	if g == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g.warmBy = deployment
	s.warmTimer = time.AfterFunc(keep, func() { e.retire(s, g) })
}

// switchBack undoes a switch that a failed after_switch hook, or an abort,
// calls back: live takes all the traffic again.
func (e *Engine) switchBack(j *journal, s *service, live, cand *group) {
	i, err := j.begin("switch", fmt.Sprintf("switching back: all new requests to revision %d in %s", live.rev.Number, live.slot), func(tx *state.Tx) error {
		svc, err := tx.Service(s.name)
		if err != nil {
			return err
		}
		svc.Spec, svc.Live, svc.Previous = live.spec, &state.Placement{Revision: live.rev.Number, Slot: live.slot}, nil
		return tx.PutService(svc)
	})
	if err != nil {
		e.log.Error("record the switch back; switching back all the same", "service", s.name, "err", err)
	}
	if err := e.sw.SetService(live.spec); err != nil {
		e.log.Warn("route service", "service", s.name, "err", err)
	}
	e.sw.SetPool(s.name, live.slot, live.targets())
	e.sw.SetWeights(s.name, proxy.Weights{live.slot: 100})
	if live.spec.ByDNS() {
		if derr := e.switchRecordBack(s, live, cand); derr != nil {
			e.log.Error("point the record back", "service", s.name, "err", derr)
			if err == nil {
				_ = j.end(i, state.Failed, "the record could not be pointed back: "+derr.Error())
				err = derr // ended: not ended again below
			}
		}
	}
	s.stopTimer()
	s.mu.Lock()
	s.live = live
	if s.previous == live {
		s.previous = nil
	}
	s.mu.Unlock()
	if err == nil {
		_ = j.end(i, state.Succeeded, "in effect from the next request")
	}
}

// retire stops the warm group g once keep_previous has passed, unless it
// is no longer the warm one. A service busy with another operation is
// tried again shortly.
func (e *Engine) retire(s *service, g *group) {
	if err := s.lock("retire the warm slot", "teal", e.now()); err != nil {
		var busy *BusyError
		if errors.As(err, &busy) && e.ctx.Err() == nil {
			s.mu.Lock()
			s.warmTimer = time.AfterFunc(time.Second, func() { e.retire(s, g) })
			s.mu.Unlock()
		}
		return
	}
	s.mu.Lock()
	if s.previous != g {
		s.mu.Unlock()
		s.unlock()
		return
	}
	s.previous, s.warmTimer = nil, nil
	s.mu.Unlock()
	err := e.store.Update(func(tx *state.Tx) error {
		svc, err := tx.Service(s.name)
		if err != nil || svc.Previous == nil || svc.Previous.Revision != g.rev.Number {
			return err
		}
		svc.Previous = nil
		return tx.PutService(svc)
	})
	if err != nil {
		e.log.Error("record retired slot", "service", s.name, "err", err)
	}
	// The group belongs to no one now: stopping it and its after_bake
	// hook need not hold up the next operation on the service. Shutdown
	// waits for them.
	e.bg.Add(1)
	s.unlock()
	defer e.bg.Done()
	e.stopGroup(context.Background(), g, s.name, "keep_previous has passed")
	e.afterBake(s.name, g)
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orNone(version string) string {
	if version == "" {
		return "no version"
	}
	return version
}
