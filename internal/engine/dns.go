package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/strategy"
)

// A service with switch = "dns" has a listener per slot on the load
// balancer (dns.blue, dns.green), and a record (dns.name) that points at
// the live one. A deployment checks the candidate through its own
// listener, changes the record (before the state says it is live, so that
// a refused update switches nothing), then keeps the old slot serving its
// listener until the requests reaching it stop, and only then points that
// listener at the live slot's pool and drains the old instances.

// Records publishes the DNS records of services that switch by DNS: the
// zones they live in, and which address each name points at. An update
// the DNS server refuses is an error that says what it answered.
type Records interface {
	SetZones(ctx context.Context, zones []spec.DNSZone) error
	Publish(ctx context.Context, name string, addr netip.Addr, ttl time.Duration) error
	Unpublish(ctx context.Context, name string) error
}

// defaultDNSQuiet is how long the old slot's listener must have (nearly)
// no requests before it is drained.
const defaultDNSQuiet = 5 * time.Second

// ErrNoDNS is returned for a service that switches by DNS on an engine
// that publishes no records.
var ErrNoDNS = errors.New("this server publishes no DNS records")

// publish points svc's record at slot's listener.
func (e *Engine) publish(ctx context.Context, svc spec.Service, slot spec.Slot) error {
	if e.dns == nil {
		return ErrNoDNS
	}
	addr, err := svc.DNS.Addr(slot)
	if err != nil {
		return err
	}
	return e.dns.Publish(ctx, svc.DNS.Name, addr, svc.DNS.TTL.D())
}

// serveLive points both slot listeners of a service at the live slot's
// pool: the state with no deployment in flight, where a client that
// still resolves the other address is served all the same.
func (e *Engine) serveLive(service string, live spec.Slot) {
	e.sw.ServeSlot(service, spec.Blue, live)
	e.sw.ServeSlot(service, spec.Green, live)
}

// syncDNS applies a change of a service's switch or dns block: the slot
// listeners open or move (SetService), both serve the live slot, and the
// record is published again when its name, the live slot's address or
// its TTL changed; a record no longer wanted is removed.
func (e *Engine) syncDNS(ctx context.Context, name string, old, want spec.Service, live *group) error {
	if err := e.sw.SetService(want); err != nil {
		return fmt.Errorf("service %q: %w", name, err)
	}
	if !want.ByDNS() {
		if old.ByDNS() && e.dns != nil {
			if err := e.dns.Unpublish(ctx, old.DNS.Name); err != nil {
				return fmt.Errorf("service %q: remove the record %s: %w", name, old.DNS.Name, err)
			}
		}
		return nil
	}
	if live == nil {
		return nil
	}
	e.serveLive(name, live.slot)
	same := old.ByDNS() && old.DNS.Name == want.DNS.Name && old.DNS.TTL == want.DNS.TTL && old.DNS.Listen(live.slot) == want.DNS.Listen(live.slot)
	if same {
		return nil
	}
	if err := e.publish(ctx, want, live.slot); err != nil {
		return fmt.Errorf("service %q: publish %s: %w", name, want.DNS.Name, err)
	}
	if old.ByDNS() && old.DNS.Name != want.DNS.Name {
		if err := e.dns.Unpublish(ctx, old.DNS.Name); err != nil {
			return fmt.Errorf("service %q: remove the record %s: %w", name, old.DNS.Name, err)
		}
	}
	return nil
}

// switchRecord is the switch of a service that switches by DNS: the
// candidate's listener serves it, the record is changed, and only once
// the DNS server has taken the change is the new revision recorded live.
// An update that is refused fails with the server's answer, and nothing
// is switched or recorded. A server killed between the update and the
// record finds the old revision live and publishes its address again.
func (e *Engine) switchRecord(j *journal, s *service, cand, live *group, detail string, record func(*state.Tx) error) (int, error) {
	d := cand.spec.DNS
	addr, _ := d.Addr(cand.slot)
	i, err := j.begin("switch", fmt.Sprintf("%s: %s → %s (ttl %s)", detail, d.Name, addr, d.TTL), nil)
	if err != nil {
		return i, err
	}
	e.sw.SetPool(s.name, cand.slot, cand.targets())
	e.sw.ServeSlot(s.name, cand.slot, cand.slot)
	if err := e.publish(e.ctx, cand.spec, cand.slot); err != nil {
		if live != nil {
			e.sw.ServeSlot(s.name, cand.slot, live.slot)
		}
		err = fmt.Errorf("the record %s was not changed: %w", d.Name, err)
		_ = j.end(i, state.Failed, err.Error())
		return i, err
	}
	if err := e.store.Update(record); err != nil {
		return i, err
	}
	return i, nil
}

// switchRecordBack points the record at live again, after a failed
// after_switch hook or an abort: one more update.
func (e *Engine) switchRecordBack(s *service, live, cand *group) error {
	e.sw.ServeSlot(s.name, live.slot, live.slot)
	err := e.publish(context.Background(), live.spec, live.slot)
	if cand != nil {
		e.sw.ServeSlot(s.name, cand.slot, live.slot)
	}
	return err
}

// verify checks the candidate the way its clients will reach it: its
// slot's listener serves the candidate's pool from now on, and a GET of
// the health check's path through it must pass and reach a candidate
// instance, before the record points at it.
func (r *run) verify(ctx context.Context) error {
	d, hc := r.applied.DNS, r.applied.HealthCheck
	slot := r.cand.slot
	i, err := r.j.begin("verify", fmt.Sprintf("GET %s through the %s slot's listener %s, as clients of %s will reach it",
		hc.Path, slot, d.Listen(slot), d.Name), nil)
	if err != nil {
		return err
	}
	r.e.sw.SetPool(r.s.name, slot, r.cand.targets())
	r.e.sw.ServeSlot(r.s.name, slot, slot)
	msg, err := r.e.checkSlot(ctx, r.s.name, r.applied, slot, r.cand)
	if err != nil {
		r.obs.VerifyError = fmt.Sprintf("the candidate did not answer through the %s slot's listener %s: %v", slot, d.Listen(slot), err)
		return r.j.end(i, state.Failed, r.obs.VerifyError)
	}
	r.obs.Verified = true
	return r.j.end(i, state.Succeeded, msg)
}

// checkSlot sends GET health_check.path through slot's listener, with
// the record's name as Host, and says how it went: it must pass (2xx or
// 3xx) and be counted by an instance of g. It tries three times.
func (e *Engine) checkSlot(ctx context.Context, service string, svc spec.Service, slot spec.Slot, g *group) (string, error) {
	tr := e.sw.SlotTraffic(service, slot)
	if tr.Listen == "" {
		return "", errors.New(orDefault(tr.Error, "it is not listening"))
	}
	client := &http.Client{
		Timeout:       svc.HealthCheck.Timeout.D(),
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	host := svc.DNS.Name
	if _, port, _ := net.SplitHostPort(tr.Listen); port != "80" {
		host = net.JoinHostPort(host, port)
	}
	var last error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		before := served(g)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+tr.Listen+svc.HealthCheck.Path, nil)
		if err != nil {
			return "", err
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 400 {
			last = fmt.Errorf("GET %s answered %s", svc.HealthCheck.Path, resp.Status)
			continue
		}
		// The instance's answer is counted once it is sent whole, which
		// can be a moment after the client has it.
		for wait := time.Now().Add(time.Second); served(g) <= before && time.Now().Before(wait); {
			time.Sleep(5 * time.Millisecond)
		}
		if served(g) <= before {
			last = fmt.Errorf("GET %s answered %s, but not from an instance of revision %d", svc.HealthCheck.Path, resp.Status, g.rev.Number)
			continue
		}
		return fmt.Sprintf("GET %s as %s answered %s from revision %d", svc.HealthCheck.Path, host, resp.Status, g.rev.Number), nil
	}
	return "", last
}

// served counts the requests g's instances have answered.
func served(g *group) uint64 {
	var n uint64
	for _, m := range g.members {
		n += m.target.Served()
	}
	return n
}

// linger keeps old serving at its slot's listener after the record moved
// to live, until strategy.LingerPolicy says its clients have moved; then
// that listener serves live's pool, and old can be drained. It samples
// the listener's count of requests as it waits. It returns false when
// stop says why it must end first (an abort); the server shutting down
// ends it as done.
func (e *Engine) linger(ctx context.Context, j *journal, s *service, svc spec.Service, old, live *group, switched time.Time, wake <-chan struct{}, stop func() string) bool {
	d := svc.DNS
	policy := strategy.LingerPolicy{Switched: switched, TTL: d.TTL.D(), Linger: d.Linger.D(), Quiet: e.quiet,
		Deadline: svc.Deploy.ProgressDeadline.D(), Address: d.Listen(old.slot)}
	i, _ := j.begin("linger", fmt.Sprintf("revision %d in %s keeps serving %s for clients that still resolve %s to it: at least ttl %s + linger %s, and until the requests to it stop",
		old.rev.Number, old.slot, d.Listen(old.slot), d.Name, d.TTL, d.Linger), nil)
	every := min(time.Second, e.quiet/5)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var samples []strategy.Sample
	told := ""
	for {
		now := e.now()
		samples = append(samples, strategy.Sample{At: now, Requests: e.sw.SlotTraffic(s.name, old.slot).Requests})
		for len(samples) > 2 && samples[1].At.Before(now.Add(-e.quiet-2*every)) {
			samples = samples[1:]
		}
		s.mu.Lock()
		healthy, _, _ := old.counts()
		s.mu.Unlock()
		dec := policy.Decide(now, samples, healthy > 0)
		switch why := stop(); {
		case dec.Done, ctx.Err() != nil:
			if !dec.Done {
				dec.Reason = "the server is shutting down: every instance is drained and stopped"
			}
			e.sw.ServeSlot(s.name, old.slot, live.slot)
			_ = j.end(i, state.Succeeded, dec.Reason+fmt.Sprintf("; %s now serves revision %d", d.Listen(old.slot), live.rev.Number))
			return true
		case why != "":
			_ = j.end(i, state.Failed, "interrupted: "+why)
			return false
		}
		if key := digitsAndTimes.ReplaceAllString(dec.Reason, "#"); key != told {
			j.report("linger", state.Running, dec.Reason)
			told = key
		}
		select {
		case <-tick.C:
		case <-wake:
		case <-ctx.Done():
		}
	}
}

// digitsAndTimes makes a linger's reason into its kind, so that progress
// is reported when the reason changes, not at every count.
var digitsAndTimes = regexp.MustCompile(`[0-9][0-9.:]*`)

// checkFailover is told of a change in the health of a service's
// instances; when the service switches by DNS with failover, its live
// slot has no healthy instance and its warm slot is whole and healthy,
// it points the record back at the warm slot.
func (e *Engine) checkFailover(name string) {
	if e.ctx.Err() != nil {
		return
	}
	s := e.service(name)
	s.mu.Lock()
	live, prev := s.live, s.previous
	ok := live != nil && prev != nil && live.spec.ByDNS() && live.spec.DNS.Failover &&
		strategy.Failover(slotHealth(live), slotHealth(prev))
	s.mu.Unlock()
	if ok {
		go e.failover(s, live, prev)
	}
}

func slotHealth(g *group) strategy.SlotHealth {
	healthy, _, exited := g.counts()
	return strategy.SlotHealth{Instances: len(g.members) - exited, Healthy: healthy}
}

// failover switches the record of s back to the warm group prev, as a
// rollback by teal itself, and says so in an event. A service held by
// another operation is tried again shortly.
func (e *Engine) failover(s *service, live, prev *group) {
	if err := s.lock("fail over to the warm slot", "teal", e.now()); err != nil {
		time.AfterFunc(time.Second, func() { e.checkFailover(s.name) })
		return
	}
	defer s.unlock()
	s.mu.Lock()
	still := s.live == live && s.previous == prev && strategy.Failover(slotHealth(live), slotHealth(prev))
	applied := live.spec
	s.mu.Unlock()
	if !still {
		return
	}
	applied = applied.WithTemplate(prev.rev.Spec.Template())
	e.event(state.Event{Service: s.name, Type: "dns.failover", Actor: "teal",
		Message: fmt.Sprintf("revision %d in %s has no healthy instance; pointing %s back at revision %d in %s, which is warm and healthy",
			live.rev.Number, live.slot, applied.DNS.Name, prev.rev.Number, prev.slot)})
	if _, err := e.instantRollback(s, live, prev, applied, "teal (failover)", nil); err != nil {
		e.log.Error("fail over", "service", s.name, "err", err)
	}
}

// restoreDNS publishes again, as a server starts, where the record of a
// service that switches by DNS points: at the live slot the state
// records, so that a server killed between an update and its record puts
// the record back. A DNS server that does not take the update (it is
// restarting too) is tried again in the background.
func (e *Engine) restoreDNS(ctx context.Context, svc spec.Service, live spec.Slot) {
	e.serveLive(svc.Name, live)
	if err := e.publish(ctx, svc, live); err != nil {
		e.log.Error("publish the record", "service", svc.Name, "err", err)
		e.event(state.Event{Service: svc.Name, Type: "dns.publish_failed",
			Message: fmt.Sprintf("could not point %s at the %s slot again after a restart: %v; trying again", svc.DNS.Name, live, err)})
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			e.republish(svc.Name)
		}()
	}
}

// The waits between two tries of republish: the first, doubled after
// each failure up to the last.
var republishWait = [2]time.Duration{time.Second, time.Minute}

// republish points a service's record at its live slot until the DNS
// server takes it, the engine shuts down, or there is nothing to point
// at any more. Each try takes the service, as a deployment does, so that
// it never overwrites what a deployment publishes; a service taken by
// one is tried at the next turn.
func (e *Engine) republish(name string) {
	wait := republishWait[0]
	for tries := 1; ; tries++ {
		select {
		case <-e.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, republishWait[1])
		s := e.service(name)
		if s.lock("publish the record again", "teal", e.now()) != nil {
			continue
		}
		done, err := e.republishLive(s)
		s.unlock()
		if done {
			return
		}
		e.log.Warn("publish the record", "service", name, "try", tries, "err", err)
	}
}

// republishLive publishes the record of a service at its live slot; done
// is true when it did, or when there is no record to publish any more.
func (e *Engine) republishLive(s *service) (done bool, err error) {
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	svc := e.appliedSpec(s.name)
	if live == nil || !svc.ByDNS() {
		return true, nil // destroyed, or switched by a load balancer now
	}
	if err := e.publish(e.ctx, svc, live.slot); err != nil {
		return false, err
	}
	e.event(state.Event{Service: s.name, Type: "dns.published", Actor: "teal",
		Message: fmt.Sprintf("pointed %s at the %s slot again", svc.DNS.Name, live.slot)})
	return true, nil
}

// applyZones makes the DNS zones what an apply leaves, records them, and
// publishes again the records of live services in the zones that changed
// (a zone that moves from teal's server to a BIND needs them there).
func (e *Engine) applyZones(desired []spec.DNSZone, changed []string, targets []string, actor string) error {
	var recorded []spec.DNSZone
	var svcs []state.Service
	if err := e.store.View(func(tx *state.Tx) error {
		var err error
		if recorded, err = tx.DNSZones(); err != nil {
			return err
		}
		svcs, err = tx.Services()
		return err
	}); err != nil {
		return err
	}
	zones := targeted(desired, recorded, func(z spec.DNSZone) string { return "dns_zone." + z.Name }, targets)
	if len(zones) > 0 && e.dns == nil {
		return fmt.Errorf("dns_zone %q: %w", zones[0].Name, ErrNoDNS)
	}
	if e.dns != nil {
		if err := e.dns.SetZones(e.ctx, zones); err != nil {
			return err
		}
	}
	err := e.store.Update(func(tx *state.Tx) error {
		if err := tx.SetDNSZones(zones); err != nil {
			return err
		}
		_, err := tx.AppendEvent(state.Event{Type: "dns_zones.applied", Actor: actor, Message: fmt.Sprintf("%d DNS zones", len(zones))})
		return err
	})
	if err != nil {
		return fmt.Errorf("record dns zones: %w", err)
	}
	var errs []error
	for _, svc := range svcs {
		if !svc.Spec.ByDNS() || svc.Live == nil {
			continue
		}
		z, ok := spec.ZoneOf(zones, svc.Spec.DNS.Name)
		if !ok || !contains(changed, z.Name) {
			continue
		}
		if err := e.publish(e.ctx, svc.Spec, svc.Live.Slot); err != nil {
			errs = append(errs, fmt.Errorf("service %q: publish %s in the changed zone: %w", svc.Name, svc.Spec.DNS.Name, err))
		}
	}
	return errors.Join(errs...)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// DNSStatus is what `teal status` shows of a service that switches by
// DNS: where its record points, and what reaches each slot's listener.
type DNSStatus struct {
	Name   string           `json:"name"`
	TTL    spec.Duration    `json:"ttl"`
	Points string           `json:"points_at,omitempty"` // the live slot's address
	Slots  []SlotTrafficRow `json:"slots"`
}

// SlotTrafficRow is one slot listener's traffic.
type SlotTrafficRow struct {
	Slot spec.Slot `json:"slot"`
	proxy.SlotTraffic
}

// dnsStatus fills in the DNS part of a service's status.
func (e *Engine) dnsStatus(svc state.Service) *DNSStatus {
	if !svc.Spec.ByDNS() {
		return nil
	}
	d := svc.Spec.DNS
	st := &DNSStatus{Name: d.Name, TTL: d.TTL}
	if svc.Live != nil {
		if a, err := d.Addr(svc.Live.Slot); err == nil {
			st.Points = a.String()
		}
	}
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		st.Slots = append(st.Slots, SlotTrafficRow{Slot: slot, SlotTraffic: e.sw.SlotTraffic(svc.Name, slot)})
	}
	return st
}

// appliedSpec returns a service as last applied, or the zero service.
func (e *Engine) appliedSpec(name string) spec.Service {
	var svc state.Service
	_ = e.store.View(func(tx *state.Tx) error {
		var err error
		svc, err = tx.Service(name)
		return err
	})
	return svc.Spec
}
