package proxy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// A service that switches by DNS has one listener per slot, at the
// addresses its dns block names; the DNS record points at one of them.
// A slot listener serves one slot's pool whatever the weights say: its
// own slot's while that slot is live, a candidate or lingering after a
// switch, and the live slot's once the engine has drained it (ServeSlot),
// so that a client whose cache is older than anything teal waited for is
// still answered. Each counts the requests that reach it, which is how
// the engine knows that clients have moved to the new address.

// slotKey names one slot listener.
type slotKey struct {
	service string
	slot    spec.Slot
}

// slotListener is one slot's listener and what it has received. The
// counter outlives the listener, so that a listener that moves keeps
// counting.
type slotListener struct {
	ln  *listener // nil when it could not be bound
	err error     // why it could not
	n   *slotCounter
}

// SlotTraffic is what one slot listener of a service receives.
type SlotTraffic struct {
	Listen   string    `json:"listen,omitempty"` // the address it is bound to; "" when it is not
	Error    string    `json:"error,omitempty"`  // why it is not
	Serves   spec.Slot `json:"serves"`           // the slot whose pool answers its requests
	Requests uint64    `json:"requests"`         // since the server started
	Rate     float64   `json:"rate"`             // requests per second, over the last 10 seconds
}

// ServeSlot makes the listener of a service's slot listener serve the pool
// of slot pool. Requests in flight are not affected.
func (p *Proxy) ServeSlot(service string, listener, pool spec.Slot) {
	p.change(service, func(c *serviceConfig) {
		if c.serves == nil {
			c.serves = map[spec.Slot]spec.Slot{}
		}
		c.serves[listener] = pool
	})
}

// SlotTraffic returns what the listener of a service's slot receives.
func (p *Proxy) SlotTraffic(service string, slot spec.Slot) SlotTraffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := SlotTraffic{Serves: slot}
	if c := p.services[service]; c != nil {
		if to, ok := c.serves[slot]; ok {
			st.Serves = to
		}
	}
	sl := p.slots[slotKey{service, slot}]
	if sl == nil {
		return st
	}
	if sl.ln != nil {
		st.Listen = sl.ln.bound()
	}
	if sl.err != nil {
		st.Error = sl.err.Error()
	}
	st.Requests, st.Rate = sl.n.total.Load(), sl.n.rate(time.Now())
	return st
}

// setSlotListeners opens, moves or closes the slot listeners of svc as
// its dns block says. A moved listener opens at the new address before the
// old one closes; one that cannot be bound is returned as an error, and
// the old one, if any, keeps serving. It is called with p.mu held.
func (p *Proxy) setSlotListeners(svc spec.Service) error {
	if p.slots == nil {
		p.slots = map[slotKey]*slotListener{}
	}
	var errs []error
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		k := slotKey{svc.Name, slot}
		sl := p.slots[k]
		want := ""
		if svc.ByDNS() {
			want = svc.DNS.Listen(slot)
		}
		switch {
		case want == "" && sl != nil:
			if sl.ln != nil {
				go sl.ln.shutdown(context.Background())
			}
			delete(p.slots, k)
		case want == "" || sl != nil && sl.ln != nil && sl.ln.addr == want:
		default:
			if sl == nil {
				sl = &slotListener{n: &slotCounter{}}
				p.slots[k] = sl
			}
			l, err := p.openSlotListener(svc.Name, slot, want, sl.n)
			if err != nil {
				sl.err = fmt.Errorf("the %s slot's listener: %w", slot, err)
				errs = append(errs, fmt.Errorf("service %q: %w", svc.Name, sl.err))
				continue
			}
			old := sl.ln
			sl.ln, sl.err = l, nil
			if old != nil {
				go old.shutdown(context.Background())
			}
		}
	}
	return errors.Join(errs...)
}

// openSlotListener binds addr and serves slot of service on it, counting
// each request in n.
func (p *Proxy) openSlotListener(service string, slot spec.Slot, addr string, n *slotCounter) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &listener{p: p, kind: kindSlot, name: service, addr: addr, ln: ln, done: make(chan struct{}), slot: slot, served: n}
	if err := l.install(spec.NewLoadBalancer("slot:" + service + ":" + string(slot))); err != nil {
		ln.Close()
		return nil, err
	}
	go l.accept()
	p.log.Info("listening", "name", service, "kind", "slot", "slot", slot, "addr", ln.Addr().String())
	return l, nil
}

// closeSlotListeners stops the slot listeners of a service, or of every
// service when service is "", and returns them to be shut down. It is
// called with p.mu held.
func (p *Proxy) closeSlotListeners(service string) []*listener {
	var out []*listener
	for k, sl := range p.slots {
		if service == "" || k.service == service {
			if sl.ln != nil {
				out = append(out, sl.ln)
			}
			delete(p.slots, k)
		}
	}
	return out
}

// publishSlots sets in t, for each slot of each service that switches by
// DNS (of the one named, when only is not ""), the backend its listener
// serves: one slot's pool with all the weight, and no preview or sticky
// routing. It is called with p.mu held, by publish, which runs before a
// new slot listener opens, and by publishService. t.slots may be the map
// of the table before, which requests read: it is copied, not changed.
func (p *Proxy) publishSlots(t *table, only string) {
	if only != "" && len(t.slots) > 0 {
		t.slots = maps.Clone(t.slots)
	} else if only == "" {
		t.slots = nil
	}
	for name, c := range p.services {
		if only != "" && name != only {
			continue
		}
		if !c.svc.ByDNS() {
			continue
		}
		for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
			pool := slot
			if to, ok := c.serves[slot]; ok {
				pool = to
			}
			one := *c
			one.weights, one.candidate = Weights{pool: 100}, ""
			one.svc.Preview, one.svc.Sticky = nil, nil
			if t.slots == nil {
				t.slots = map[slotKey]*backend{}
			}
			t.slots[slotKey{name, slot}] = newBackend(name, &one)
		}
	}
}

// slotBackend is backendFor for a slot listener.
func (p *Proxy) slotBackend(w http.ResponseWriter, t *table, st settings) (*backend, bool) {
	if b := t.slots[slotKey{st.slotService, st.slot}]; b != nil {
		return b, true
	}
	plainError(w, http.StatusServiceUnavailable, "teal: service "+st.slotService+" is not deployed")
	return nil, false
}

// countArrivals counts each request that reaches a slot listener before
// it is served.
func countArrivals(n *slotCounter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.add(time.Now())
		next.ServeHTTP(w, r)
	})
}

// rateWindow is how far back SlotTraffic.Rate looks, in one-second
// buckets.
const rateWindow = 10

// slotCounter counts requests: in all, and per second for the last
// rateWindow seconds, with atomics only, so the request path takes no
// lock.
type slotCounter struct {
	total   atomic.Uint64
	buckets [rateWindow + 1]struct {
		second atomic.Int64
		count  atomic.Uint64
	}
}

func (c *slotCounter) add(now time.Time) {
	c.total.Add(1)
	sec := now.Unix()
	b := &c.buckets[sec%int64(len(c.buckets))]
	if old := b.second.Load(); old != sec && b.second.CompareAndSwap(old, sec) {
		b.count.Store(0) // a request counted between the swap and here is lost: the rate is an estimate
	}
	b.count.Add(1)
}

// rate returns requests per second over the rateWindow whole seconds
// before now.
func (c *slotCounter) rate(now time.Time) float64 {
	sec := now.Unix()
	var n uint64
	for i := int64(1); i <= rateWindow; i++ {
		b := &c.buckets[(sec-i)%int64(len(c.buckets))]
		if b.second.Load() == sec-i {
			n += b.count.Load()
		}
	}
	return float64(n) / rateWindow
}
