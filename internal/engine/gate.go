package engine

import (
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Pause holds new requests to a service until Resume, each for at most
// the service's maintenance.max_pause (or maxPause, when given), so that
// an operator can stop what the old revision does before the new one
// starts without dropping a request. It is kept in the state: a restarted
// server is still paused.
func (e *Engine) Pause(name string, maxPause time.Duration, actor string) error {
	return e.setGate(name, actor, func(svc state.Service) (*state.Gate, string) {
		if maxPause <= 0 {
			maxPause = svc.Spec.Maintenance.MaxPause.D()
		}
		return &state.Gate{MaxPause: spec.Duration(maxPause)}, fmt.Sprintf("paused: new requests wait up to %s", spec.Duration(maxPause))
	})
}

// Maintenance answers every request to a service with 503 and a page that
// shows message, until Resume.
func (e *Engine) Maintenance(name, message, actor string) error {
	return e.setGate(name, actor, func(state.Service) (*state.Gate, string) {
		return &state.Gate{Maintenance: true, Message: message}, "in maintenance: requests get 503 and a page"
	})
}

// Resume serves a paused service, or one in maintenance, again.
func (e *Engine) Resume(name, actor string) error {
	return e.setGate(name, actor, func(state.Service) (*state.Gate, string) { return nil, "resumed: serving again" })
}

func (e *Engine) setGate(name, actor string, f func(state.Service) (*state.Gate, string)) error {
	var g *state.Gate
	err := e.store.Update(func(tx *state.Tx) error {
		svc, err := tx.Service(name)
		if err != nil {
			return err
		}
		var msg string
		g, msg = f(svc)
		if g != nil {
			g.Actor, g.Since = actor, e.now()
		}
		svc.Gate = g
		if err := tx.PutService(svc); err != nil {
			return err
		}
		_, err = tx.AppendEvent(state.Event{Service: name, Type: "service.gate", Actor: actor, Message: msg})
		return err
	})
	if err != nil {
		return err
	}
	e.applyGate(name, g)
	return nil
}

func (e *Engine) applyGate(name string, g *state.Gate) {
	switch {
	case g == nil:
		e.sw.Resume(name)
	case g.Maintenance:
		e.sw.Maintenance(name, g.Message)
	default:
		e.sw.Pause(name, g.MaxPause.D())
	}
}

// TargetFailed records that real requests took an instance of service out
// of rotation; the proxy calls it.
func (e *Engine) TargetFailed(service string, t *proxy.Target, reason string) {
	e.log.Warn("instance taken out of rotation", "service", service, "instance", t.ID, "reason", reason)
	e.event(state.Event{Service: service, Type: "instance.passive",
		Message: fmt.Sprintf("instance %s (revision %d, %s) taken out of rotation until its checks pass again: %s", t.ID, t.Revision, t.Slot, reason)})
	e.checkFailover(service)
}
