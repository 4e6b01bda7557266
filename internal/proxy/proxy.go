// Package proxy is teal's load balancer: HTTP/1.1 and HTTP/2 listeners
// with TLS, routes, one pool of targets per slot with weights, preview and
// sticky routing, active and passive health checks, draining, pause and
// maintenance, metrics and access logs. Its routing table is immutable and
// replaced atomically on every change, so the request path reads it
// without a lock and a switch is seen by the very next request.
package proxy

import (
	"context"
	"errors"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Weights says what share of new requests, in percent, each slot of a
// service receives. A blue-green switch moves all 100 at once.
type Weights map[spec.Slot]int

// Options configure a Proxy.
type Options struct {
	Log *slog.Logger
	// AccessLog receives one JSON line per request on load balancers with
	// access_log = true; nil discards them.
	AccessLog io.Writer
	// OnPassive is told when real requests take a target out of rotation
	// (a refused connection, a run of 5xx answers).
	OnPassive func(t *Target, reason string)
}

// Proxy is the load balancer. The zero value is not usable; call New.
type Proxy struct {
	log       *slog.Logger
	errorLog  *log.Logger
	accessLog *slog.Logger
	checks    *http.Client
	onPassive func(*Target, string)

	table atomic.Pointer[table] // read by every request, without a lock

	mu        sync.Mutex // serialises changes; each ends by storing a new table
	services  map[string]*serviceConfig
	listeners map[string]*listener // by load balancer name
	previews  map[string]*listener // by service name
	slots     map[slotKey]*slotListener

	tmu     sync.Mutex
	targets map[*Target]struct{} // every target not yet closed, for metrics
}

// serviceConfig is what the proxy has been told about one service.
type serviceConfig struct {
	svc       spec.Service
	pools     map[spec.Slot][]*Target
	weights   Weights
	candidate spec.Slot               // "" when no deployment has a candidate
	gate      *gate                   // pause or maintenance; nil when serving normally
	serves    map[spec.Slot]spec.Slot // slot listener -> the slot whose pool it serves, when not its own
}

// New returns a proxy with no listeners and no routes.
func New(o Options) *Proxy {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.AccessLog == nil {
		o.AccessLog = io.Discard
	}
	p := &Proxy{
		log:       o.Log,
		errorLog:  slog.NewLogLogger(o.Log.Handler(), slog.LevelDebug),
		accessLog: slog.New(slog.NewJSONHandler(o.AccessLog, nil)),
		checks: &http.Client{
			// Each check opens a new connection, as an ALB's do, so that a
			// listener that stopped accepting is noticed.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is an answer, and counts as a pass
			},
		},
		onPassive: o.OnPassive,
		services:  map[string]*serviceConfig{},
		listeners: map[string]*listener{},
		previews:  map[string]*listener{},
		targets:   map[*Target]struct{}{},
	}
	p.table.Store(&table{routes: &routeTable{}})
	return p
}

func (p *Proxy) track(t *Target) {
	p.tmu.Lock()
	p.targets[t] = struct{}{}
	p.tmu.Unlock()
}

func (p *Proxy) untrack(t *Target) {
	p.tmu.Lock()
	delete(p.targets, t)
	p.tmu.Unlock()
}

func (p *Proxy) tracked() []*Target {
	p.tmu.Lock()
	defer p.tmu.Unlock()
	out := make([]*Target, 0, len(p.targets))
	for t := range p.targets {
		out = append(out, t)
	}
	return out
}

// SetService tells the proxy how to route to a service: its routes,
// preview, sticky cookie and pause limit. A preview listener is started,
// moved or stopped as the spec says; an address that cannot be bound is
// returned as an error, and the rest still applies.
func (p *Proxy) SetService(svc spec.Service) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.config(svc.Name)
	c.svc = svc
	c.svc.Routes = slices.Clone(svc.Routes)
	p.publish()
	return errors.Join(p.setPreviewListener(svc), p.setSlotListeners(svc))
}

// SetPool makes targets the members of a service's slot.
func (p *Proxy) SetPool(service string, slot spec.Slot, targets []*Target) {
	p.change(service, func(c *serviceConfig) { c.pools[slot] = slices.Clone(targets) })
}

// SetWeights sets the share of new requests each slot of a service
// receives. Requests already in flight are not affected.
func (p *Proxy) SetWeights(service string, w Weights) {
	p.change(service, func(c *serviceConfig) { c.weights = maps.Clone(w) })
}

// SetCandidate names the slot that preview requests reach; "" when there
// is no candidate, and they reach the live slot.
func (p *Proxy) SetCandidate(service string, slot spec.Slot) {
	p.change(service, func(c *serviceConfig) { c.candidate = slot })
}

// RemoveService forgets everything about a service, and stops its preview
// listener.
func (p *Proxy) RemoveService(service string) {
	p.mu.Lock()
	c := p.services[service]
	delete(p.services, service)
	p.publish()
	l := p.previews[service]
	delete(p.previews, service)
	slots := p.closeSlotListeners(service)
	p.mu.Unlock()
	shutdownAll(context.Background(), slots)
	if c != nil && c.gate != nil {
		c.gate.open()
	}
	if l != nil {
		l.shutdown(context.Background())
	}
}

func (p *Proxy) config(service string) *serviceConfig {
	c := p.services[service]
	if c == nil {
		c = &serviceConfig{pools: map[spec.Slot][]*Target{}}
		p.services[service] = c
	}
	return c
}

func (p *Proxy) change(service string, f func(*serviceConfig)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p.config(service))
	p.publishService(service)
}

// publish builds a new routing table, routes and pools, from the
// configuration and makes it the one requests see. It is called with
// p.mu held, after a change that may touch routes.
func (p *Proxy) publish() {
	names := slices.Sorted(maps.Keys(p.services))
	rt := &routeTable{lbs: map[string]*routeIndex{}, services: make(map[string]int, len(names))}
	backends := make([]*backend, len(names))
	byLB := map[string][]*route{}
	for i, name := range names {
		c := p.services[name]
		rt.services[name] = i
		backends[i] = newBackend(name, c)
		for _, r := range c.svc.Routes {
			byLB[r.LoadBalancer] = append(byLB[r.LoadBalancer], compileRoute(name, i, r))
		}
	}
	for lb, rs := range byLB {
		orderRoutes(rs)
		rt.lbs[lb] = newRouteIndex(rs)
	}
	t := &table{routes: rt, backends: backends}
	p.publishSlots(t, "")
	p.table.Store(t)
}

// publishService makes a new table in which one service's pools, weights
// and gate are as configured, sharing the routes of the table before: a
// switch costs the same with one service or a thousand. It is called with
// p.mu held.
func (p *Proxy) publishService(name string) {
	old := p.table.Load()
	i, ok := old.routes.services[name]
	if !ok {
		p.publish()
		return
	}
	backends := slices.Clone(old.backends)
	backends[i] = newBackend(name, p.services[name])
	t := &table{routes: old.routes, backends: backends, slots: old.slots}
	p.publishSlots(t, name)
	p.table.Store(t)
}

// table is one immutable routing table: the routes of each load balancer,
// and each service's pools, which the routes refer to by number.
type table struct {
	routes   *routeTable
	backends []*backend           // by service number
	slots    map[slotKey]*backend // for slot listeners
}

// routeTable is the part of a table that changes only with routes.
type routeTable struct {
	lbs      map[string]*routeIndex
	services map[string]int // service name → number
}

func (t *table) match(lb, host, path string) *route {
	if ix := t.routes.lbs[lb]; ix != nil {
		return ix.match(host, path)
	}
	return nil
}

// backend returns the pools a route sends requests to.
func (t *table) backend(r *route) *backend { return t.backends[r.svc] }

// service returns a service's pools, or nil.
func (t *table) service(name string) *backend {
	if i, ok := t.routes.services[name]; ok {
		return t.backends[i]
	}
	return nil
}

// backend is a service's pools as one table sees them.
type backend struct {
	service   string
	slots     []weightedPool // only the slots with weight, in a fixed order
	candidate *weightedPool  // the pool preview requests reach; nil without a candidate
	next      atomic.Uint64  // spreads requests over slots by weight
	preview   *spec.Preview
	sticky    *spec.Sticky
	gate      *gate
}

type weightedPool struct {
	slot    spec.Slot
	weight  int
	targets []*Target
	next    *atomic.Uint64 // round-robin position within the pool
}

func newBackend(service string, c *serviceConfig) *backend {
	b := &backend{service: service, preview: c.svc.Preview, sticky: c.svc.Sticky, gate: c.gate}
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		if w := c.weights[slot]; w > 0 {
			b.slots = append(b.slots, weightedPool{slot: slot, weight: w, targets: c.pools[slot], next: new(atomic.Uint64)})
		}
	}
	if c.candidate != "" {
		b.candidate = &weightedPool{slot: c.candidate, targets: c.pools[c.candidate], next: new(atomic.Uint64)}
	}
	return b
}

// wantsPreview reports whether r asks for the candidate by header or
// cookie.
func (b *backend) wantsPreview(r *http.Request) bool {
	pv := b.preview
	if pv == nil {
		return false
	}
	if pv.Header != "" && r.Header.Get(pv.Header) == spec.PreviewValue {
		return true
	}
	if pv.Cookie != "" {
		if c, err := r.Cookie(pv.Cookie); err == nil && c.Value == spec.PreviewValue {
			return true
		}
	}
	return false
}

// pick chooses a healthy target and counts a request in flight to it; the
// caller must release it. It returns nil when no eligible slot has a
// healthy target. A preview request goes to the candidate when there is
// one; a request with a sticky cookie to the slot it names, while that
// slot has weight.
func (b *backend) pick(r *http.Request, preview bool) *Target {
	if preview || b.wantsPreview(r) {
		if b.candidate != nil {
			return b.candidate.pick()
		}
	}
	if b.sticky != nil && len(b.slots) > 1 {
		if c, err := r.Cookie(b.sticky.Cookie); err == nil {
			for i := range b.slots {
				if string(b.slots[i].slot) == c.Value {
					if t := b.slots[i].pick(); t != nil {
						return t
					}
				}
			}
		}
	}
	return b.pickWeighted()
}

// pickWeighted chooses a healthy target of a slot with weight, spreading
// requests over the slots by weight, and counts a request in flight to
// it; nil when no slot with weight has a healthy target.
func (b *backend) pickWeighted() *Target {
	switch len(b.slots) {
	case 0:
		return nil
	case 1:
		return b.slots[0].pick()
	}
	total := 0
	for _, s := range b.slots {
		total += s.weight
	}
	n := int(b.next.Add(1) % uint64(total))
	for i, s := range b.slots {
		if n < s.weight {
			if t := s.pick(); t != nil {
				return t
			}
			// No healthy target in the chosen slot: try the others that
			// have weight, never one without.
			for j := range b.slots {
				if j != i {
					if t := b.slots[j].pick(); t != nil {
						return t
					}
				}
			}
			return nil
		}
		n -= s.weight
	}
	return nil
}

func (w *weightedPool) pick() *Target {
	n := uint64(len(w.targets))
	if n == 0 {
		return nil
	}
	start := w.next.Add(1)
	for i := uint64(0); i < n; i++ {
		t := w.targets[(start+i)%n]
		if t.Health() == Healthy && t.acquire() {
			return t
		}
	}
	return nil
}

// pickOther chooses a healthy target of the same slots other than not,
// for a retry.
func (b *backend) pickOther(not *Target) *Target {
	pools := b.slots
	if b.candidate != nil && not.Slot == b.candidate.slot {
		pools = []weightedPool{*b.candidate}
	}
	for _, s := range pools {
		for range len(s.targets) {
			t := s.pick()
			if t == nil {
				break
			}
			if t != not {
				return t
			}
			t.release()
		}
	}
	return nil
}

// Shutdown stops every listener: no new connections are accepted, and
// requests in flight finish until ctx is done. Paused requests are let go.
func (p *Proxy) Shutdown(ctx context.Context) {
	p.mu.Lock()
	var gone []*listener
	for name, l := range p.listeners {
		gone = append(gone, l)
		delete(p.listeners, name)
	}
	for name, l := range p.previews {
		gone = append(gone, l)
		delete(p.previews, name)
	}
	gone = append(gone, p.closeSlotListeners("")...)
	for _, c := range p.services {
		if c.gate != nil {
			c.gate.open()
		}
	}
	p.mu.Unlock()
	shutdownAll(ctx, gone)
}

// shutdownAll shuts listeners down at once, each gracefully until ctx is
// done.
func shutdownAll(ctx context.Context, ls []*listener) {
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.shutdown(ctx)
		}()
	}
	wg.Wait()
}

// listenerDrain bounds how long a listener that is removed, moved or
// replaced waits for the requests in flight on it.
const listenerDrain = 30 * time.Second
