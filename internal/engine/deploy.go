package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/strategy"
)

// DeploymentError is returned when a deployment failed and was rolled
// back; the live revision kept serving.
type DeploymentError struct {
	Service    string
	Deployment int
	Reason     string
}

func (e *DeploymentError) Error() string {
	return fmt.Sprintf("service %q: deployment %d failed and was rolled back: %s", e.Service, e.Deployment, e.Reason)
}

// deploy moves service s to revision rev, run as applied says (count,
// routes, health check, strategy), by the strategy's steps. The caller
// holds s.op.
func (e *Engine) deploy(ctx context.Context, s *service, rev state.Revision, applied spec.Service, kind state.DeploymentKind, actor string, rep Reporter) (state.Deployment, error) {
	strat, err := strategy.For(applied.Deploy.Strategy)
	if err != nil {
		return state.Deployment{}, fmt.Errorf("service %q: %w", s.name, err)
	}
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()

	d := state.Deployment{Service: s.name, Kind: kind, Strategy: applied.Deploy.Strategy, ToRevision: rev.Number, Slot: spec.Blue}
	if live != nil {
		d.FromRevision, d.Slot = live.rev.Number, live.slot.Other()
	}
	j, err := e.openJournal(d, actor, rep, nil)
	if err != nil {
		return d, err
	}
	if kind == state.KindDeploy && applied.Build != nil {
		if err := e.build(ctx, j, applied); err != nil {
			_ = j.finish(state.Failed, err.Error(), nil)
			return j.d, &DeploymentError{Service: s.name, Deployment: j.d.ID, Reason: err.Error()}
		}
	}
	if live == nil {
		// Nothing is live: route now, so that requests get a 503 that
		// names the service rather than a 404, until it is.
		if err := e.sw.SetService(applied); err != nil {
			e.log.Warn("route service", "service", s.name, "err", err)
		}
	}
	cand := &group{rev: rev, spec: applied, slot: d.Slot}
	s.mu.Lock()
	s.candidate = cand
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.candidate = nil
		s.mu.Unlock()
	}()

	wake := make(chan struct{}, 1)
	kick := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	obs := strategy.Observation{Desired: applied.DesiredCount, HasPrevious: live != nil}
	waiting := -1 // index of the journal step that waits for health
	for {
		obs.Now = e.now()
		obs.Healthy, obs.Unhealthy, obs.Exited = cand.counts()
		step := strat.Next(obs)
		if ctx.Err() != nil && obs.Weight < 100 {
			step = strategy.Step{Action: strategy.Fail, Reason: "the server is shutting down"}
		}
		switch step.Action {
		case strategy.Start:
			i, err := j.begin("start", fmt.Sprintf("%s of revision %d (%s) in the %s slot",
				count(step.Count, "instance"), rev.Number, orNone(rev.Version), cand.slot), nil)
			if err != nil {
				return e.rollBack(j, s, cand, err.Error())
			}
			var started []string
			for range step.Count {
				m, err := e.startMember(ctx, s.name, cand, applied.HealthCheck, kick)
				if err != nil {
					obs.StartError = err.Error()
					break
				}
				s.mu.Lock()
				cand.members = append(cand.members, m)
				s.mu.Unlock()
				obs.Started++
				started = append(started, m.inst.ID()+" on "+m.inst.Addr())
			}
			obs.Deadline = e.now().Add(applied.Deploy.ReadyTimeout.D())
			// The candidate takes no traffic, but preview requests reach it.
			e.sw.SetPool(s.name, cand.slot, cand.targets())
			e.sw.SetCandidate(s.name, cand.slot)
			if obs.StartError != "" {
				_ = j.end(i, state.Failed, obs.StartError)
			} else {
				_ = j.end(i, state.Succeeded, "started "+strings.Join(started, ", "))
			}

		case strategy.Wait:
			if waiting < 0 {
				hc := applied.HealthCheck
				waiting, err = j.begin("health", fmt.Sprintf("GET %s on each new instance every %s until %d pass in a row, for at most %s",
					hc.Path, hc.Interval, hc.HealthyThreshold, applied.Deploy.ReadyTimeout), nil)
				if err != nil {
					return e.rollBack(j, s, cand, err.Error())
				}
			}
			timer.Reset(step.Until.Sub(obs.Now))
			select {
			case <-wake:
			case <-timer.C:
			case <-ctx.Done():
			}
			timer.Stop()

		case strategy.Shift:
			if waiting >= 0 {
				_ = j.end(waiting, state.Succeeded, fmt.Sprintf("%d of %d healthy after %s",
					obs.Healthy, obs.Desired, obs.Now.Sub(j.d.Steps[waiting].StartedAt).Round(time.Millisecond)))
				waiting = -1
			}
			if err := e.switchTo(j, s, cand, live); err != nil {
				return e.rollBack(j, s, cand, err.Error())
			}
			obs.Weight = step.Weight

		case strategy.Drain:
			i, _ := j.begin("drain", fmt.Sprintf("revision %d in %s: requests in flight finish, for at most %s",
				live.rev.Number, live.slot, applied.Deploy.DrainTimeout), nil)
			_ = j.end(i, state.Succeeded, drain(ctx, live, applied.Deploy.DrainTimeout.D()))
			obs.Drained = true

		case strategy.Succeed:
			_ = j.finish(state.Succeeded, "", warmUntil(s.name, e.now().Add(applied.Deploy.KeepPrevious.D())))
			e.keepWarm(s, live, applied.Deploy.KeepPrevious.D())
			return j.d, nil

		case strategy.Fail:
			reason := step.Reason
			if detail := explain(cand); detail != "" {
				reason += "; " + detail
			}
			if waiting >= 0 {
				_ = j.end(waiting, state.Failed, step.Reason)
			}
			return e.rollBack(j, s, cand, reason)
		}
	}
}

// buildOutcomeBytes bounds the build output kept in the journal.
const buildOutcomeBytes = 4 << 10

// build builds the image of a revision to deploy, as a journaled step; a
// rollback deploys the image an earlier build made, and does not build.
func (e *Engine) build(ctx context.Context, j *journal, applied spec.Service) error {
	b, image := applied.Build, applied.Container.Image
	i, err := j.begin("build", fmt.Sprintf("image %s from %s with %s", image, b.Context, b.Dockerfile), nil)
	if err != nil {
		return err
	}
	if e.builder == nil {
		err := fmt.Errorf("build %s: this server has no container engine to build with", image)
		_ = j.end(i, state.Failed, err.Error())
		return err
	}
	began := e.now()
	out, err := e.builder.Build(ctx, *b, image, applied.Container.Pull)
	if len(out) > buildOutcomeBytes {
		out = "…" + out[len(out)-buildOutcomeBytes:]
	}
	if err != nil {
		_ = j.end(i, state.Failed, strings.TrimSpace(err.Error()+"\n"+out))
		return err
	}
	_ = j.end(i, state.Succeeded, fmt.Sprintf("built in %s:\n%s", e.now().Sub(began).Round(time.Millisecond), out))
	return nil
}

// switchTo makes cand live: it records the switch, then changes the
// routing table once, so the next request goes to cand. The previous live
// group stays running, warm; a warm group it replaces is stopped.
func (e *Engine) switchTo(j *journal, s *service, cand, live *group) error {
	detail := fmt.Sprintf("all new requests to revision %d in %s", cand.rev.Number, cand.slot)
	i, err := j.begin("switch", detail, func(tx *state.Tx) error {
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
	})
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
	s.previous, s.live, s.candidate = live, cand, nil
	s.mu.Unlock()
	if superseded != nil {
		e.stopLater(superseded, s.name, fmt.Sprintf("revision %d is no longer the one to roll back to", superseded.rev.Number))
	}
	_ = j.end(i, state.Succeeded, "in effect from the next request")
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

// rollBack stops the candidate, which never took traffic, and records the
// deployment as failed for reason.
func (e *Engine) rollBack(j *journal, s *service, cand *group, reason string) (state.Deployment, error) {
	i, _ := j.begin("roll back", fmt.Sprintf("stop %s of revision %d; what was live stays live",
		count(len(cand.members), "new instance"), cand.rev.Number), nil)
	e.sw.SetCandidate(s.name, "")
	e.stopGroup(context.Background(), cand, s.name, "the deployment failed")
	_ = j.end(i, state.Succeeded, "stopped")
	_ = j.finish(state.Failed, reason, nil)
	return j.d, &DeploymentError{Service: s.name, Deployment: j.d.ID, Reason: reason}
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
// switch; then it is stopped.
func (e *Engine) keepWarm(s *service, g *group, keep time.Duration) {
	if g == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.warmTimer = time.AfterFunc(keep, func() { e.retire(s, g) })
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
	defer s.unlock()
	s.mu.Lock()
	if s.previous != g {
		s.mu.Unlock()
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
	e.stopGroup(context.Background(), g, s.name, "keep_previous has passed")
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
