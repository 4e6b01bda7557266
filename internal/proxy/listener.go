package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/sendtimeout"
	"github.com/teal-deploy/teal/internal/spec"
)

// listenerKind says what a listener serves.
type listenerKind int

const (
	kindLoadBalancer listenerKind = iota // routes, as configured
	kindRedirect                         // redirects every request to HTTPS
	kindPreview                          // one service's candidate
	kindSlot                             // one slot of a service that switches by DNS (slots.go)
)

// listener owns one listening socket. It hands each connection to the
// current generation's http.Server; a change of settings starts a new
// generation on the same socket, so not one connection attempt is refused
// while the old one finishes what it was doing.
type listener struct {
	p     *Proxy
	kind  listenerKind
	name  string // the load balancer, or the service of a preview listener
	addr  string // as configured
	ln    net.Listener
	spec  spec.LoadBalancer // what the current generation was made from
	certs *certStore        // nil without TLS

	redirect *listener // this load balancer's HTTP→HTTPS redirect, if any

	slot   spec.Slot    // of a slot listener
	served *slotCounter // a slot listener's count of requests

	// settings are the current generation's, which the fast path reads
	// for every request; fast is nil on listeners that have none.
	settings atomic.Pointer[settings]
	fast     *fastServer
	// stopLoops ends the event loops that accept the listener's
	// connections (loop_linux.go); nil when the accept goroutine does.
	stopLoops func()

	gen    atomic.Pointer[generation]
	mu     sync.Mutex // serialises generation changes and shutdown
	closed bool
	done   chan struct{} // the accept loop has ended
}

// generation is one http.Server serving the connections a listener hands
// it, through a net.Listener made of a channel.
type generation struct {
	srv    *http.Server
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
	served chan struct{}

	// pending counts connections handed over whose first request has not
	// been read yet. http.Server.Shutdown would close them without an
	// answer, so a generation is shut down only once there are none.
	pending atomic.Int64
	mu      sync.Mutex
	fresh   map[net.Conn]bool
}

func (g *generation) Accept() (net.Conn, error) {
	select {
	case c := <-g.conns:
		g.pending.Add(1)
		return c, nil
	case <-g.closed:
		return nil, net.ErrClosed
	}
}

// connState follows each connection out of StateNew.
func (g *generation) connState(c net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if st == http.StateNew {
		g.fresh[c] = true
		return
	}
	if g.fresh[c] {
		delete(g.fresh, c)
		g.pending.Add(-1)
	}
}

func (g *generation) Close() error {
	g.once.Do(func() { close(g.closed) })
	return nil
}

func (g *generation) Addr() net.Addr { return g.addr }

// settings are what a generation's handler reads on every request; they
// never change within a generation.
type settings struct {
	lb        string
	trusted   []netip.Prefix
	maxBody   int64
	accessLog bool
	tlsPort   string // for redirects
	service   string // for preview listeners

	slotService      string    // for slot listeners: the service
	slot             spec.Slot // and the slot they are of
	readHeader, idle time.Duration
	send             time.Duration // for the client to take each write; 0: no limit
	tls              bool          // connections go to net/http, which speaks TLS and h2
}

func (p *Proxy) openListener(kind listenerKind, name, addr string, lb spec.LoadBalancer) (*listener, error) {
	// TCP keep-alive probes cost four system calls on every accepted
	// connection; the fast path bounds idle connections with its own
	// timeouts, and turns them on for what it hands to net/http, whose
	// upgraded connections (WebSockets) may sit idle for long.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		if kind == kindPreview {
			return nil, fmt.Errorf("service %q: preview listener: %w", name, err)
		}
		return nil, fmt.Errorf("load balancer %q: %w", name, err)
	}
	l := &listener{p: p, kind: kind, name: name, addr: addr, ln: ln, done: make(chan struct{})}
	if kind == kindLoadBalancer {
		l.fast = newFastServer(l)
	}
	if err := l.install(lb); err != nil {
		ln.Close()
		return nil, err
	}
	if !l.startLoops() {
		go l.accept()
	}
	p.log.Info("listening", "name", name, "kind", kind, "addr", ln.Addr().String(), "tls", l.certs != nil)
	return l, nil
}

// bound returns the address the socket is bound to.
func (l *listener) bound() string { return l.ln.Addr().String() }

// install starts a new generation with the settings of lb and retires
// the one before it.
func (l *listener) install(lb spec.LoadBalancer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	var certs *certStore
	if l.kind == kindLoadBalancer && len(lb.TLS) > 0 {
		if l.certs != nil && reflect.DeepEqual(l.certs.files, lb.TLS) {
			certs = l.certs
		} else {
			cs, err := newCertStore(lb.TLS, l.p.log)
			if err != nil {
				return fmt.Errorf("load balancer %q: %w", l.name, err)
			}
			certs = cs
		}
	}
	st := settings{lb: lb.Name, trusted: trustedPrefixes(lb.TrustedProxies), maxBody: int64(lb.Limits.RequestBody), accessLog: lb.AccessLog,
		readHeader: lb.Timeouts.ReadHeader.D(), idle: lb.Timeouts.Idle.D(), send: lb.Timeouts.Send.D(), tls: certs != nil}
	if st.idle == 0 {
		st.idle = st.readHeader // as net/http does
	}
	if l.kind == kindPreview {
		st.service = l.name
	}
	if l.kind == kindSlot {
		st.slotService, st.slot = l.name, l.slot
	}
	if l.kind == kindRedirect {
		_, st.tlsPort = hostPort(lb.Listen)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(certs != nil) // by ALPN
	protos.SetUnencryptedHTTP2(lb.H2C && certs == nil)
	g := &generation{conns: make(chan net.Conn), closed: make(chan struct{}), addr: l.ln.Addr(), served: make(chan struct{}), fresh: map[net.Conn]bool{}}
	g.srv = &http.Server{
		Handler:           l.handler(st),
		ReadHeaderTimeout: lb.Timeouts.ReadHeader.D(),
		IdleTimeout:       lb.Timeouts.Idle.D(),
		MaxHeaderBytes:    int(lb.Limits.Header),
		Protocols:         &protos,
		ErrorLog:          l.p.errorLog,
		ConnState:         g.connState,
	}
	if certs != nil {
		g.srv.TLSConfig = certs.tlsConfig()
	}
	go func() {
		defer close(g.served)
		var err error
		if certs != nil {
			err = g.srv.ServeTLS(g, "", "")
		} else {
			err = g.srv.Serve(g)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			l.p.log.Error("listener stopped", "name", l.name, "err", err)
		}
	}()
	old := l.gen.Swap(g)
	l.settings.Store(&st)
	oldCerts := l.certs
	l.certs, l.spec = certs, lb
	if old != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), listenerDrain)
			defer cancel()
			retire(ctx, old)
		}()
	}
	if oldCerts != nil && oldCerts != certs {
		oldCerts.close()
	}
	return nil
}

// retire shuts a generation down: it takes no new connection (one being
// handed over goes to the next generation), the connections it took last
// get to send their first request (read_header allows them that long),
// and then its requests in flight finish until ctx is done. Shutting down
// at once would close those last connections unanswered.
func retire(ctx context.Context, g *generation) {
	g.Close()
	<-g.served // Serve has returned: every connection it took is counted
	deadline := time.Now().Add(g.srv.ReadHeaderTimeout + time.Second)
	for g.pending.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := g.srv.Shutdown(ctx); err != nil {
		g.srv.Close()
	}
}

// accept hands every connection to the current generation.
func (l *listener) accept() {
	defer close(l.done)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			l.p.log.Warn("accept", "name", l.name, "err", err)
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors: do not spin
			continue
		}
		if l.fast != nil && !l.settings.Load().tls {
			l.fast.handle(c)
		} else {
			enableKeepAlive(c)
			l.serveHTTP(c)
		}
	}
}

// enableKeepAlive turns TCP keep-alive probes on, as net/http's
// listeners do, so that a client that vanished is noticed.
func enableKeepAlive(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true})
	}
}

// serveHTTP hands a connection to the current generation's net/http
// server.
func (l *listener) serveHTTP(c net.Conn) {
	// Whatever net/http serves (TLS, HTTP/2, hand-offs, upgrades) has the
	// load balancer's send timeout before each write; the fast path keeps
	// it in sockIO.
	c = &sendtimeout.Conn{Conn: c, Timeout: l.sendTimeout}
	for {
		g := l.gen.Load()
		select {
		case g.conns <- c:
			return
		case <-g.closed:
			// Replaced or shut down between the load and the send.
			if l.gen.Load() == g {
				c.Close() // shut down: nobody serves this socket now
				return
			}
		}
	}
}

// sendTimeout is how long a client may leave a write untaken.
func (l *listener) sendTimeout() time.Duration { return l.settings.Load().send }

// shutdown closes the socket and lets the requests in flight finish until
// ctx is done.
func (l *listener) shutdown(ctx context.Context) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.ln.Close()
	g, certs, redirect := l.gen.Load(), l.certs, l.redirect
	l.mu.Unlock()
	if l.stopLoops != nil {
		l.stopLoops()
	}
	<-l.done
	var wg sync.WaitGroup
	if l.fast != nil {
		wg.Go(func() { l.fast.shutdown(ctx) })
	}
	retire(ctx, g)
	wg.Wait()
	if certs != nil {
		certs.close()
	}
	if redirect != nil {
		redirect.shutdown(ctx)
	}
}

func (l *listener) handler(st settings) http.Handler {
	switch l.kind {
	case kindRedirect:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirectToHTTPS(w, r, st.tlsPort) })
	case kindSlot:
		return countArrivals(l.served, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.p.serve(w, r, st) }))
	default:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.p.serve(w, r, st) })
	}
}

// redirectToHTTPS sends a client to the same host and path over HTTPS.
func redirectToHTTPS(w http.ResponseWriter, r *http.Request, port string) {
	host, _ := hostPort(r.Host)
	if host == "" {
		plainError(w, http.StatusBadRequest, "teal: a request without a Host cannot be redirected")
		return
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && port != "443" {
		host += ":" + port
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}

// SetLoadBalancers makes the listeners match lbs: new ones open, moved
// ones open at the new address before the old one closes, changed ones
// start a new generation on their socket, and those no longer wanted stop
// gracefully (requests in flight get up to 30 seconds). It returns the
// addresses that cannot be bound; the rest still applies.
func (p *Proxy) SetLoadBalancers(ctx context.Context, lbs []spec.LoadBalancer) error {
	return p.SetLoadBalancersIn(ctx, "", lbs)
}

// SetLoadBalancersIn is SetLoadBalancers for the load balancers of one
// scope only: those named "SCOPE/NAME", or, for the scope "", those with
// no "/" in their name. The others are left alone.
func (p *Proxy) SetLoadBalancersIn(ctx context.Context, scope string, lbs []spec.LoadBalancer) error {
	want := map[string]spec.LoadBalancer{}
	for _, lb := range lbs {
		want[lb.Name] = lb
	}
	var errs []error
	var gone []*listener
	p.mu.Lock()
	for name, l := range p.listeners {
		if _, ok := want[name]; !ok && scopeOf(name) == scope {
			gone = append(gone, l)
			delete(p.listeners, name)
		}
	}
	for _, lb := range lbs {
		l := p.listeners[lb.Name]
		switch {
		case l != nil && l.addr == lb.Listen:
			if !reflect.DeepEqual(l.spec, lb) {
				if err := l.install(lb); err != nil {
					errs = append(errs, err)
				}
			}
		default:
			nl, err := p.openListener(kindLoadBalancer, lb.Name, lb.Listen, lb)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if l != nil {
				gone = append(gone, l) // moved: the new address serves before the old one closes
			}
			p.listeners[lb.Name] = nl
			l = nl
		}
		if err := p.setRedirect(l, lb); err != nil {
			errs = append(errs, err)
		}
	}
	p.mu.Unlock()
	// Outside the lock: a slow request on a listener that goes must not
	// hold up a switch on another.
	drainCtx, cancel := context.WithTimeout(ctx, listenerDrain)
	defer cancel()
	shutdownAll(drainCtx, gone)
	return errors.Join(errs...)
}

// setRedirect opens, moves or closes a load balancer's redirect listener.
// It is called with p.mu held.
func (p *Proxy) setRedirect(l *listener, lb spec.LoadBalancer) error {
	l.mu.Lock()
	r := l.redirect
	l.mu.Unlock()
	if r != nil && (lb.RedirectHTTP == "" || r.addr != lb.RedirectHTTP) {
		go r.shutdown(context.Background())
		r = nil
	}
	if r == nil && lb.RedirectHTTP != "" {
		plain := lb
		plain.TLS, plain.H2C = nil, false
		nr, err := p.openListener(kindRedirect, lb.Name, lb.RedirectHTTP, plain)
		if err != nil {
			return fmt.Errorf("load balancer %q: redirect_http: %w", lb.Name, errors.Unwrap(err))
		}
		r = nr
	} else if r != nil {
		plain := lb
		plain.TLS, plain.H2C = nil, false
		if !reflect.DeepEqual(r.spec, plain) {
			_ = r.install(plain)
		}
	}
	l.mu.Lock()
	l.redirect = r
	l.mu.Unlock()
	return nil
}

// setPreviewListener opens, moves or closes a service's preview listener.
// It is called with p.mu held.
func (p *Proxy) setPreviewListener(svc spec.Service) error {
	want := ""
	if svc.Preview != nil {
		want = svc.Preview.Listen
	}
	l := p.previews[svc.Name]
	if l != nil && l.addr == want {
		return nil
	}
	if l != nil {
		delete(p.previews, svc.Name)
		go l.shutdown(context.Background())
	}
	if want == "" {
		return nil
	}
	nl, err := p.openListener(kindPreview, svc.Name, want, spec.NewLoadBalancer("preview:"+svc.Name))
	if err != nil {
		return err
	}
	p.previews[svc.Name] = nl
	return nil
}

// Addr returns the address a load balancer listens on, or "".
func (p *Proxy) Addr(lb string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[lb]; l != nil {
		return l.bound()
	}
	return ""
}

// PreviewAddr returns the address of a service's preview listener, or "".
func (p *Proxy) PreviewAddr(service string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.previews[service]; l != nil {
		return l.bound()
	}
	return ""
}

// scopeOf is the scope of a load balancer's name: what comes before a
// "/", or "".
func scopeOf(name string) string {
	scope, _, ok := strings.Cut(name, "/")
	if !ok {
		return ""
	}
	return scope
}
