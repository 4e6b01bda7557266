// Package proxy is teal's load balancer: HTTP listeners, routes, one pool
// of targets per slot, active health checks and draining. Its routing table
// is immutable and replaced atomically on every change, so the request path
// reads it without a lock and a switch is visible to the next request.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Weights says what share of new requests, in percent, each slot of a
// service receives. A blue-green switch moves all 100 at once.
type Weights map[spec.Slot]int

// Timeouts on the way to an upstream instance.
const (
	upstreamDialTimeout   = 5 * time.Second
	upstreamHeaderTimeout = 60 * time.Second
	readHeaderTimeout     = 10 * time.Second
	idleTimeout           = 120 * time.Second
)

// Proxy is the load balancer. The zero value is not usable; call New.
type Proxy struct {
	log       *slog.Logger
	transport *http.Transport
	checks    *http.Client

	table atomic.Pointer[table] // read by every request, without a lock

	mu        sync.Mutex // serialises changes; each ends by storing a new table
	listeners map[string]*listener
	services  map[string]*serviceConfig
}

// serviceConfig is what the proxy has been told about one service.
type serviceConfig struct {
	routes  []spec.Route
	pools   map[spec.Slot][]*Target
	weights Weights
}

// New returns a proxy with no listeners and no routes.
func New(log *slog.Logger) *Proxy {
	p := &Proxy{
		log: log,
		transport: &http.Transport{
			Proxy:                 nil, // never send instance traffic through an HTTP proxy from the environment
			DialContext:           (&net.Dialer{Timeout: upstreamDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: upstreamHeaderTimeout,
			DisableCompression:    true, // pass bodies through as the instance wrote them
		},
		checks: &http.Client{
			// Each check opens a new connection, as an ALB's do, so that a
			// listener that stopped accepting is noticed.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is an answer, and counts as a pass
			},
		},
		listeners: map[string]*listener{},
		services:  map[string]*serviceConfig{},
	}
	p.table.Store(&table{})
	return p
}

// NewTarget returns a target for the instance at addr (host:port). It takes
// no traffic until it is Healthy and in a pool with weight.
func (p *Proxy) NewTarget(id, addr string) *Target {
	u := &url.URL{Scheme: "http", Host: addr}
	t := &Target{ID: id, Addr: addr, checks: p.checks}
	t.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the instance sees the host the client asked for, as behind an ALB
			pr.SetXForwarded()
		},
		Transport:    p.transport,
		ErrorHandler: p.upstreamError,
		ErrorLog:     slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	return t
}

// SetRoutes sets the routes of a service; nil removes them.
func (p *Proxy) SetRoutes(service string, routes []spec.Route) {
	p.change(service, func(c *serviceConfig) { c.routes = slices.Clone(routes) })
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

// RemoveService forgets everything about a service.
func (p *Proxy) RemoveService(service string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.services, service)
	p.publish()
}

func (p *Proxy) change(service string, f func(*serviceConfig)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.services[service]
	if c == nil {
		c = &serviceConfig{pools: map[spec.Slot][]*Target{}}
		p.services[service] = c
	}
	f(c)
	p.publish()
}

// publish builds a new routing table from the configuration and makes it
// the one requests see. It is called with p.mu held.
func (p *Proxy) publish() {
	t := &table{lbs: map[string][]*route{}}
	for name, c := range p.services {
		b := newBackend(name, c)
		for _, r := range c.routes {
			t.lbs[r.LoadBalancer] = append(t.lbs[r.LoadBalancer], compileRoute(name, r, b))
		}
	}
	for _, rs := range t.lbs {
		orderRoutes(rs)
	}
	p.table.Store(t)
}

// table is one immutable routing table: the ordered routes of each load
// balancer, each pointing at its service's pools.
type table struct {
	lbs map[string][]*route
}

func (t *table) match(lb, host, path string) *route {
	for _, r := range t.lbs[lb] {
		if r.match(host, path) {
			return r
		}
	}
	return nil
}

// backend is a service's pools as one table sees them.
type backend struct {
	service string
	slots   []weightedPool // only the slots with weight, in a fixed order
	next    atomic.Uint64  // spreads requests over slots by weight
}

type weightedPool struct {
	slot    spec.Slot
	weight  int
	targets []*Target
	next    *atomic.Uint64 // round-robin position within the pool
}

func newBackend(service string, c *serviceConfig) *backend {
	b := &backend{service: service}
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		if w := c.weights[slot]; w > 0 {
			b.slots = append(b.slots, weightedPool{slot: slot, weight: w, targets: c.pools[slot], next: new(atomic.Uint64)})
		}
	}
	return b
}

// pick chooses a healthy target and counts a request in flight to it; the
// caller must release it. It returns nil when no slot with weight has a
// healthy target.
func (b *backend) pick() *Target {
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

// listener is one load balancer's HTTP server.
type listener struct {
	name   string
	addr   string // as configured
	bound  string // as bound: differs when the configured port is 0
	server *http.Server
	done   chan struct{}
}

// listenerDrain bounds how long a listener that is removed or moved waits
// for the requests in flight on it.
const listenerDrain = 30 * time.Second

// SetLoadBalancers starts a listener for each load balancer that is new or
// has moved, and stops, gracefully, those no longer wanted: they accept no
// new connection and their requests in flight get up to 30 seconds. It
// returns the addresses that cannot be bound; the others are still set.
func (p *Proxy) SetLoadBalancers(ctx context.Context, lbs []spec.LoadBalancer) error {
	want := map[string]spec.LoadBalancer{}
	for _, lb := range lbs {
		want[lb.Name] = lb
	}
	p.mu.Lock()
	var gone []*listener
	for name, l := range p.listeners {
		if lb, ok := want[name]; !ok || lb.Listen != l.addr {
			gone = append(gone, l)
			delete(p.listeners, name)
		}
	}
	p.mu.Unlock()
	// Outside the lock: a slow request on a listener that goes must not
	// hold up a switch on another.
	drainCtx, cancel := context.WithTimeout(ctx, listenerDrain)
	defer cancel()
	shutdownAll(drainCtx, gone)

	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, lb := range lbs {
		if _, ok := p.listeners[lb.Name]; ok {
			continue
		}
		l, err := p.listen(lb)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.listeners[lb.Name] = l
	}
	return errors.Join(errs...)
}

func (p *Proxy) listen(lb spec.LoadBalancer) (*listener, error) {
	ln, err := net.Listen("tcp", lb.Listen)
	if err != nil {
		return nil, fmt.Errorf("load balancer %q: %w", lb.Name, err)
	}
	l := &listener{name: lb.Name, addr: lb.Listen, bound: ln.Addr().String(), done: make(chan struct{})}
	l.server = &http.Server{
		Handler:           p.handler(lb.Name),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(l.done)
		if err := l.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("load balancer stopped", "load_balancer", lb.Name, "err", err)
		}
	}()
	p.log.Info("load balancer listening", "load_balancer", lb.Name, "addr", ln.Addr().String())
	return l, nil
}

// Addr returns the address a load balancer listens on, or "".
func (p *Proxy) Addr(lb string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[lb]; l != nil {
		return l.bound
	}
	return ""
}

func (l *listener) shutdown(ctx context.Context) {
	if err := l.server.Shutdown(ctx); err != nil {
		l.server.Close()
	}
	<-l.done
}

// Shutdown stops every listener: no new connections are accepted, and
// requests in flight finish until ctx is done.
func (p *Proxy) Shutdown(ctx context.Context) {
	p.mu.Lock()
	gone := make([]*listener, 0, len(p.listeners))
	for name, l := range p.listeners {
		gone = append(gone, l)
		delete(p.listeners, name)
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
