package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Publisher publishes the records of one environment's services in its
// declared zones: for a zone with listen, teal's own Server answers with
// them; for a zone with an update block, an Updater sends them to the
// server that does. The zero value is not usable; call NewPublisher.
type Publisher struct {
	log *slog.Logger

	mu    sync.Mutex
	zones map[string]*zone // by canonical name
}

// zone is one declared zone and what publishes it: a server or an updater.
type zone struct {
	spec    spec.DNSZone
	server  *Server
	updater *Updater
}

// NewPublisher returns a publisher with no zones.
func NewPublisher(log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{log: log, zones: map[string]*zone{}}
}

// SetZones makes the zones match zones: a new zone served by teal starts
// answering, a moved one answers at the new address (with the records it
// had) before the old one closes, and one no longer declared stops. It
// returns the addresses that cannot be bound; the rest still applies.
func (p *Publisher) SetZones(_ context.Context, zones []spec.DNSZone) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[string]bool{}
	var errs []error
	var closing []*Server
	for _, zs := range zones {
		want[zs.Name] = true
		old := p.zones[zs.Name]
		if old != nil && reflect.DeepEqual(old.spec, zs) {
			continue
		}
		z := &zone{spec: zs}
		switch {
		case zs.Listen != "" && old != nil && old.server != nil && old.spec.Listen == zs.Listen:
			z.server = old.server // the same server; what else changed does not concern it
		case zs.Listen != "":
			srv, err := Listen(zs.Listen, zs.Name, p.log)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if old != nil && old.server != nil {
				for _, r := range old.server.zone.Load().records {
					_ = srv.Set(r)
				}
			}
			z.server = srv
		case zs.Update != nil:
			z.updater = NewUpdater(zs.Name, *zs.Update)
		}
		if old != nil && old.server != nil && old.server != z.server {
			closing = append(closing, old.server)
		}
		p.zones[zs.Name] = z
	}
	for name, z := range p.zones {
		if !want[name] {
			if z.server != nil {
				closing = append(closing, z.server)
			}
			delete(p.zones, name)
		}
	}
	for _, s := range closing {
		s.Close()
	}
	return errors.Join(errs...)
}

// zoneOf returns the zone that holds name.
func (p *Publisher) zoneOf(name string) (*zone, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	specs := make([]spec.DNSZone, 0, len(p.zones))
	for _, z := range p.zones {
		specs = append(specs, z.spec)
	}
	zs, ok := spec.ZoneOf(specs, name)
	if !ok {
		return nil, fmt.Errorf("%s is in no dns_zone this server publishes", name)
	}
	return p.zones[zs.Name], nil
}

// Publish points name at addr, with ttl: the name's A or AAAA record is
// replaced in one change. An update the server refuses is an
// *UpdateError that says what it answered.
func (p *Publisher) Publish(ctx context.Context, name string, addr netip.Addr, ttl time.Duration) error {
	z, err := p.zoneOf(name)
	if err != nil {
		return err
	}
	r := Record{Name: name, Addr: addr, TTL: ttl}
	if z.server != nil {
		return z.server.Set(r)
	}
	return z.updater.Set(ctx, r)
}

// Unpublish removes the address records of name.
func (p *Publisher) Unpublish(ctx context.Context, name string) error {
	z, err := p.zoneOf(name)
	if err != nil {
		return err
	}
	if z.server != nil {
		return z.server.Delete(name)
	}
	return z.updater.Delete(ctx, name)
}

// Addr returns where teal answers for zone, or "" when it does not.
func (p *Publisher) Addr(zoneName string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if z := p.zones[zoneName]; z != nil && z.server != nil {
		return z.server.Addr()
	}
	return ""
}

// Close stops every server the publisher runs. Records on other servers
// stay as they are: they still point at the live slots.
func (p *Publisher) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, z := range p.zones {
		if z.server != nil {
			z.server.Close()
		}
		delete(p.zones, name)
	}
}
