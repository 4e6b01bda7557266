package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
)

// udpSize is the largest answer sent over UDP to a client that says it
// takes more (EDNS0); the DNS flag day 2020 value, which avoids
// fragmentation. Teal's answers are far smaller.
const udpSize = 1232

// Server is teal's authoritative server for one zone, over UDP and TCP on
// the same address. Its records change atomically: a query sees the zone
// before a change or after it, never half of one.
type Server struct {
	log  *slog.Logger
	zone atomic.Pointer[zoneData]
	mu   sync.Mutex // serialises changes
	udp  *mdns.Server
	tcp  *mdns.Server
	addr string // bound, host:port
}

// Listen starts a server for zone (its apex, like "example.test") on
// addr, over UDP and TCP. With port 0, both take the same free port.
func Listen(addr, zone string, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pc, ln, err := bindBoth(addr)
	if err != nil {
		return nil, fmt.Errorf("dns_zone %q: %w", zone, err)
	}
	s := &Server{log: log, addr: ln.Addr().String()}
	z := &zoneData{apex: fqdn(zone), serial: serialAfter(0), records: map[string]Record{}}
	if ap, err := netip.ParseAddrPort(s.addr); err == nil && !ap.Addr().IsUnspecified() {
		z.ns = ap.Addr().Unmap()
	}
	s.zone.Store(z)
	handler := mdns.HandlerFunc(s.serveDNS)
	s.udp = &mdns.Server{PacketConn: pc, Handler: handler, UDPSize: udpSize}
	s.tcp = &mdns.Server{Listener: ln, Handler: handler, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	var started sync.WaitGroup
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		go func() {
			if err := srv.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				log.Error("dns server stopped", "zone", zone, "addr", s.addr, "err", err)
			}
		}()
	}
	started.Wait()
	log.Info("dns server listening", "zone", zone, "addr", s.addr)
	return s, nil
}

// bindBoth binds addr over TCP, then the address TCP got over UDP, so
// that both are on one IP (a name like localhost resolves once) and one
// port (a port of 0 is chosen by the TCP bind, and tried a few times in
// case another program holds that UDP port).
func bindBoth(addr string) (net.PacketConn, net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lastErr error
	for range 10 {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err == nil {
			return pc, ln, nil
		}
		ln.Close()
		lastErr = err
		if port != "0" {
			break
		}
	}
	return nil, nil, lastErr
}

// Addr returns the address the server answers on.
func (s *Server) Addr() string { return s.addr }

// Set makes r the only address record of its name: it replaces an A or
// AAAA record the name had.
func (s *Server) Set(r Record) error {
	name := fqdn(r.Name)
	return s.change(name, func(records map[string]Record) { records[name] = r })
}

// Delete removes the address record of name, if it has one.
func (s *Server) Delete(name string) error {
	name = fqdn(name)
	return s.change(name, func(records map[string]Record) { delete(records, name) })
}

// Lookup returns the record name has, or false.
func (s *Server) Lookup(name string) (Record, bool) {
	r, ok := s.zone.Load().records[fqdn(name)]
	return r, ok
}

func (s *Server) change(name string, f func(map[string]Record)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.zone.Load()
	if !mdns.IsSubDomain(old.apex, name) {
		return fmt.Errorf("%s is not in zone %s", name, old.apex)
	}
	next := &zoneData{apex: old.apex, ns: old.ns, serial: serialAfter(old.serial), records: maps.Clone(old.records)}
	f(next.records)
	s.zone.Store(next)
	return nil
}

// serialAfter returns the SOA serial that follows prev: the time in
// seconds, or prev+1 when that is not more (two changes in one second).
func serialAfter(prev uint32) uint32 {
	now := uint32(time.Now().Unix())
	if now > prev {
		return now
	}
	return prev + 1
}

func (s *Server) serveDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	m := answer(s.zone.Load(), req)
	if opt := req.IsEdns0(); opt != nil {
		size := udpSize
		if int(opt.UDPSize()) < size {
			size = max(int(opt.UDPSize()), mdns.MinMsgSize)
		}
		m.SetEdns0(uint16(size), false)
		if isUDP(w) {
			m.Truncate(size)
		}
	} else if isUDP(w) {
		m.Truncate(mdns.MinMsgSize)
	}
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns answer not sent", "to", w.RemoteAddr().String(), "err", err)
	}
}

func isUDP(w mdns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.UDPAddr)
	return ok
}

// Close stops answering; queries in flight finish, for at most a second.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		_ = srv.ShutdownContext(ctx)
	}
}
