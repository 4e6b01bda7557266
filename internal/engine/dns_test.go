package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/dns/bindtest"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// Services that switch by DNS, on real processes behind the real load
// balancer's slot listeners, with their record in teal's own DNS server or
// in a real BIND, looked up with real DNS queries.

const dnsName = "web.example.test"

func newDNSHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), lbAddr: tcptest.FreeAddr(t), withDNS: true, quiet: 3 * time.Second}
	h.boot()
	t.Cleanup(h.shutdown)
	return h
}

// dnsDesired is h.desired's service, switched by DNS: the record
// web.example.test in zone, blue on 127.0.0.2:port and green on
// 127.0.0.3:port, ttl 1s and linger 1s.
func (h *harness) dnsDesired(b runtimetest.Behaviour, zone spec.DNSZone, port int) spec.Desired {
	d := h.desired(1, b)
	s := &d.Services[0]
	s.Routes = nil
	s.Switch = spec.SwitchDNS
	s.DNS = &spec.DNS{Name: dnsName, TTL: spec.Duration(time.Second), Linger: spec.Duration(time.Second),
		Blue: fmt.Sprintf("127.0.0.2:%d", port), Green: fmt.Sprintf("127.0.0.3:%d", port)}
	s.Deploy.KeepPrevious = spec.Duration(time.Minute)
	d.DNSZones = []spec.DNSZone{zone}
	return d
}

// lookup asks server for name's A record, as a stub resolver does, and
// returns the address and TTL; "" when there is none.
func lookup(t *testing.T, server, name string) (string, uint32) {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, server)
	if err != nil {
		t.Fatalf("lookup %s at %s: %v", name, server, err)
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			return a.A.String(), a.Hdr.Ttl
		}
	}
	return "", 0
}

// resolver caches an answer for as long as its TTL says, as a stub
// resolver or a browser that honours it does.
type resolver struct {
	server string
	mu     sync.Mutex
	addr   string
	until  time.Time
}

func (r *resolver) resolve(name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.addr != "" && time.Now().Before(r.until) {
		return r.addr, nil
	}
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	resp, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, r.server)
	if err != nil {
		return "", err
	}
	for _, rr := range resp.Answer {
		if a, ok := rr.(*mdns.A); ok {
			r.addr, r.until = a.A.String(), time.Now().Add(time.Duration(a.Hdr.Ttl)*time.Second)
			return r.addr, nil
		}
	}
	return "", fmt.Errorf("no A record for %s", name)
}

// client sends a request every 20ms to wherever addr says, as a browser
// would to web.example.test, and keeps what it got, in order.
type client struct {
	mu       sync.Mutex
	versions []string // of each answer, in order
	failures []string
	stopped  chan struct{}
	cancel   context.CancelFunc
}

func startClient(port int, addr func() (string, error)) *client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{stopped: make(chan struct{}), cancel: cancel}
	hc := &http.Client{Timeout: 10 * time.Second}
	go func() {
		defer close(c.stopped)
		for ctx.Err() == nil {
			ip, err := addr()
			if err == nil {
				var req *http.Request
				req, err = http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/", ip, port), nil)
				req.Host = fmt.Sprintf("%s:%d", dnsName, port)
				var resp *http.Response
				if resp, err = hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					c.mu.Lock()
					if resp.StatusCode != 200 {
						c.failures = append(c.failures, fmt.Sprintf("%s: %s", ip, resp.Status))
					}
					c.versions = append(c.versions, resp.Header.Get("X-Version"))
					c.mu.Unlock()
				}
			}
			if err != nil && ctx.Err() == nil {
				c.mu.Lock()
				c.failures = append(c.failures, err.Error())
				c.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return c
}

func (c *client) stop() {
	c.cancel()
	<-c.stopped
}

func (c *client) saw(version string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.versions {
		if v == version {
			return true
		}
	}
	return false
}

func stepNamed(d state.Deployment, name string) state.Step {
	for _, s := range d.Steps {
		if s.Name == name {
			return s
		}
	}
	return state.Step{}
}

// A blue-green deployment by DNS with teal's own DNS server: the record
// points at blue, then, once green's instances are healthy and answer
// through green's listener, at green, with the TTL configured. A client
// that honours the TTL moves to v2 within it; a client that resolved once
// and never again keeps being served by v1 at blue's address for as long
// as it sends requests, and the old slot is drained only after it stops
// and after ttl + linger. Not one request fails. A rollback points the
// record back; a restarted server answers with the record the state says.
func TestDNSBlueGreen(t *testing.T) {
	h := newDNSHarness(t)
	port, zoneAddr := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3"), tcptest.FreeAddr(t)
	zone := spec.DNSZone{Name: "example.test", Listen: zoneAddr}

	d := h.mustApply(h.dnsDesired(runtimetest.Behaviour{Version: "v1"}, zone, port))
	if stepNames(*d) != "start,health,verify,switch" {
		t.Errorf("first deployment: %s", stepNames(*d))
	}
	if ip, ttl := lookup(t, zoneAddr, dnsName); ip != "127.0.0.2" || ttl != 1 {
		t.Fatalf("after v1 the record is %q with ttl %d, want 127.0.0.2 with ttl 1", ip, ttl)
	}

	res := &resolver{server: zoneAddr}
	honest := startClient(port, func() (string, error) { return res.resolve(dnsName) })
	defer honest.stop()
	stale := startClient(port, func() (string, error) { return "127.0.0.2", nil }) // resolved before the switch, never again
	defer stale.stop()
	waitFor(t, func() bool { return honest.saw("v1") && stale.saw("v1") })

	type applied struct {
		results []engine.Result
		err     error
	}
	done := make(chan applied, 1)
	go func() {
		_, rs, err := h.eng.Apply(h.dnsDesired(runtimetest.Behaviour{Version: "v2"}, zone, port), engine.ApplyOptions{Actor: "test"}, nil)
		done <- applied{rs, err}
	}()
	waitFor(t, func() bool { ip, _ := lookup(t, zoneAddr, dnsName); return ip == "127.0.0.3" })
	if ip, ttl := lookup(t, zoneAddr, dnsName); ip != "127.0.0.3" || ttl != 1 {
		t.Errorf("after the switch the record is %q with ttl %d", ip, ttl)
	}
	waitFor(t, func() bool { return honest.saw("v2") })

	// The stale client goes on past ttl + linger (2s): the old slot must
	// keep serving it, and the deployment must not end, however long.
	time.Sleep(3 * time.Second)
	select {
	case a := <-done:
		t.Fatalf("the deployment ended while the old address still had traffic: %+v", a)
	default:
	}
	stoppedAt := time.Now()
	stale.stop()
	var a applied
	select {
	case a = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the deployment did not end after the old slot's traffic stopped")
	}
	if a.err != nil || len(a.results) != 1 || a.results[0].Error != "" {
		t.Fatalf("apply v2: %v %+v", a.err, a.results)
	}
	dep := *a.results[0].Deployment
	if stepNames(dep) != "start,health,verify,switch,linger,drain" {
		t.Errorf("second deployment: %s", stepNames(dep))
	}
	sw, linger := stepNamed(dep, "switch"), stepNamed(dep, "linger")
	stayed := linger.EndedAt.Sub(sw.EndedAt)
	t.Logf("the old slot served %s after the switch; the stale client stopped %s after it; linger: %s",
		stayed.Round(time.Millisecond), stoppedAt.Sub(sw.EndedAt).Round(time.Millisecond), linger.Outcome)
	if stayed < 2*time.Second {
		t.Errorf("the old slot was drained %s after the switch, before ttl + linger (2s)", stayed)
	}
	if linger.EndedAt.Before(stoppedAt) {
		t.Errorf("the old slot was drained at %s, before its last client stopped at %s", linger.EndedAt, stoppedAt)
	}
	if !strings.Contains(linger.Outcome, "its clients have moved") {
		t.Errorf("linger outcome: %q", linger.Outcome)
	}

	honest.stop()
	for name, c := range map[string]*client{"honest": honest, "stale": stale} {
		if len(c.failures) > 0 {
			t.Errorf("%s client: %d failed requests: %v", name, len(c.failures), c.failures[:min(5, len(c.failures))])
		}
	}
	for _, v := range stale.versions {
		if v != "v1" {
			t.Fatalf("the stale client got %q before the old slot was drained", v)
		}
	}
	moved := false
	for _, v := range honest.versions {
		if moved && v != "v2" {
			t.Fatalf("the honest client went back to %q after it had v2", v)
		}
		moved = moved || v == "v2"
	}
	t.Logf("requests: stale client %d (all v1), honest client %d", len(stale.versions), len(honest.versions))

	st := h.status()
	if st.DNS == nil || st.DNS.Points != "127.0.0.3" || len(st.DNS.Slots) != 2 {
		t.Fatalf("status DNS: %+v", st.DNS)
	}
	blue := st.DNS.Slots[0]
	if blue.Serves != spec.Green || blue.Requests < uint64(len(stale.versions)) {
		t.Errorf("blue's listener after the drain: %+v; want it to serve green, with at least the stale client's %d requests", blue, len(stale.versions))
	}
	if st.Previous == nil || st.Previous.Version != "v1" {
		t.Errorf("v1 is not warm: %+v", st.Previous)
	}
	// A client whose cache is older than anything teal waited for is
	// served by the live revision.
	if v := getVia(t, fmt.Sprintf("127.0.0.2:%d", port)); v != "v2" {
		t.Errorf("blue's address after the drain answers %q, want v2", v)
	}

	rb, err := h.eng.Rollback("web", 0, "test", nil)
	if err != nil || stepNames(rb) != "switch,linger,drain" {
		t.Fatalf("rollback: %s %v", stepNames(rb), err)
	}
	if ip, _ := lookup(t, zoneAddr, dnsName); ip != "127.0.0.2" {
		t.Errorf("after the rollback the record is %q", ip)
	}
	if v := getVia(t, fmt.Sprintf("127.0.0.2:%d", port)); v != "v1" {
		t.Errorf("after the rollback blue answers %q", v)
	}

	// teal's DNS server keeps its records in memory: a restarted server
	// answers with what the state says is live.
	h.crash()
	h.boot()
	if ip, ttl := lookup(t, zoneAddr, dnsName); ip != "127.0.0.2" || ttl != 1 {
		t.Errorf("after a restart the record is %q with ttl %d", ip, ttl)
	}
	if v := getVia(t, fmt.Sprintf("127.0.0.3:%d", port)); v != "v1" {
		t.Errorf("after a restart green's address answers %q, want the live v1", v)
	}
}

func getVia(t *testing.T, addr string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = dnsName
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET via %s: %v", addr, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET via %s: %s", addr, resp.Status)
	}
	return resp.Header.Get("X-Version")
}

// Against a real BIND 9: the record is changed by signed RFC 2136 updates.
// When BIND refuses the update (its key was rotated, teal's was not), the
// deployment fails at the switch with BIND's answer, and nothing changes:
// the record, what serves either address, the live revision. With the new
// key, the next apply publishes again and deploys.
func TestDNSUpdatesToBIND(t *testing.T) {
	b := bindtest.Start(t, "example.test")
	h := newDNSHarness(t)
	port := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3")
	zone := func() spec.DNSZone {
		return spec.DNSZone{Name: "example.test", Update: &spec.DNSUpdate{Server: b.Addr, KeyName: b.KeyName, KeySecret: b.KeySecret, Algorithm: b.Algorithm}}
	}
	h.mustApply(h.dnsDesired(runtimetest.Behaviour{Version: "v1"}, zone(), port))
	if ip, ttl := lookup(t, b.Addr, dnsName); ip != "127.0.0.2" || ttl != 1 {
		t.Fatalf("BIND has %q ttl %d after v1", ip, ttl)
	}

	oldKey := zone()
	b.RotateKey(t)
	r := h.apply(h.dnsDesired(runtimetest.Behaviour{Version: "v2"}, oldKey, port))
	if !strings.Contains(r.Error, "the record web.example.test was not changed") || !strings.Contains(r.Error, "NOTAUTH, TSIG error BADSIG") {
		t.Errorf("refused update: %q", r.Error)
	}
	if strings.Contains(r.Error, oldKey.Update.KeySecret) || strings.Contains(r.Error, b.KeySecret) {
		t.Errorf("the error shows a secret: %s", r.Error)
	}
	if r.Deployment == nil || stepNames(*r.Deployment) != "start,health,verify,switch,roll back" || stepNamed(*r.Deployment, "switch").Status != state.Failed {
		t.Errorf("refused deployment: %+v", r.Deployment)
	}
	if ip, _ := lookup(t, b.Addr, dnsName); ip != "127.0.0.2" {
		t.Errorf("BIND has %q after the refused update", ip)
	}
	st := h.status()
	if st.Live == nil || st.Live.Version != "v1" || st.Candidate != nil || st.DNS.Points != "127.0.0.2" {
		t.Errorf("after the refused update: live %+v candidate %+v dns %+v", st.Live, st.Candidate, st.DNS)
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)} {
		if v := getVia(t, addr); v != "v1" {
			t.Errorf("%s answers %q after the refused update, want v1", addr, v)
		}
	}

	d := h.mustApply(h.dnsDesired(runtimetest.Behaviour{Version: "v2"}, zone(), port))
	if d.ToRevision != 3 || stepNames(*d) != "start,health,verify,switch,linger,drain" {
		t.Errorf("v2 with the new key: %+v", d)
	}
	if ip, ttl := lookup(t, b.Addr, dnsName); ip != "127.0.0.3" || ttl != 1 {
		t.Errorf("BIND has %q ttl %d after v2", ip, ttl)
	}
}

// With failover, a live slot left with no healthy instance while the
// warm one is healthy points the record back at the warm one by itself,
// and says so in an event.
func TestDNSFailover(t *testing.T) {
	h := newDNSHarness(t)
	port, zoneAddr := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3"), tcptest.FreeAddr(t)
	zone := spec.DNSZone{Name: "example.test", Listen: zoneAddr}
	desired := func(v string) spec.Desired {
		d := h.dnsDesired(runtimetest.Behaviour{Version: v}, zone, port)
		d.Services[0].DNS.Failover = true
		d.Services[0].DNS.Linger = 0
		return d
	}
	h.mustApply(desired("v1"))
	h.mustApply(desired("v2"))
	if ip, _ := lookup(t, zoneAddr, dnsName); ip != "127.0.0.3" {
		t.Fatalf("after v2 the record is %q", ip)
	}

	// v2's only instance crashes.
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.3:%d/crash", port), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("crash v2: %v %v", resp, err)
	}
	waitFor(t, func() bool { ip, _ := lookup(t, zoneAddr, dnsName); return ip == "127.0.0.2" })
	evs, err := h.eng.LastEvents(100, "web")
	if err != nil {
		t.Fatal(err)
	}
	found := ""
	for _, ev := range evs {
		if ev.Type == "dns.failover" {
			found = ev.Message
		}
	}
	if !strings.Contains(found, "revision 2 in green has no healthy instance; pointing web.example.test back at revision 1 in blue") {
		t.Errorf("failover event: %q", found)
	}
	waitFor(t, func() bool {
		_, ds, _ := h.eng.History("web")
		last := ds[len(ds)-1]
		return last.Kind == state.KindRollback && last.Status == state.Succeeded
	})
	_, ds, _ := h.eng.History("web")
	if last := ds[len(ds)-1]; last.ToRevision != 1 || !strings.Contains(stepNamed(last, "linger").Outcome, "no healthy instance") {
		t.Errorf("failover deployment: %+v", last)
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)} {
		if v := getVia(t, addr); v != "v1" {
			t.Errorf("%s answers %q after the failover, want v1", addr, v)
		}
	}
}

// An abort while the old slot lingers points the record back and stops
// the candidate: both addresses serve the live revision again.
func TestDNSAbortWhileLingering(t *testing.T) {
	h := newDNSHarness(t)
	port, zoneAddr := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3"), tcptest.FreeAddr(t)
	zone := spec.DNSZone{Name: "example.test", Listen: zoneAddr}
	h.mustApply(h.dnsDesired(runtimetest.Behaviour{Version: "v1"}, zone, port))
	v2 := h.dnsDesired(runtimetest.Behaviour{Version: "v2"}, zone, port)
	v2.Services[0].DNS.Linger = spec.Duration(10 * time.Minute)
	done := make(chan []engine.Result, 1)
	go func() {
		_, rs, _ := h.eng.Apply(v2, engine.ApplyOptions{Actor: "test"}, nil)
		done <- rs
	}()
	waitFor(t, func() bool {
		st, err := h.eng.Status("web")
		if err != nil || len(st) != 1 || st[0].Deployment == nil {
			return false
		}
		steps := st[0].Deployment.Steps
		return len(steps) > 0 && steps[len(steps)-1].Name == "linger"
	})
	if ip, _ := lookup(t, zoneAddr, dnsName); ip != "127.0.0.3" {
		t.Fatalf("lingering, the record is %q", ip)
	}
	if err := h.eng.Abort("web", "test"); err != nil {
		t.Fatal(err)
	}
	var rs []engine.Result
	select {
	case rs = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the aborted deployment did not end")
	}
	if len(rs) != 1 || rs[0].Error != "aborted by test" || rs[0].Deployment == nil ||
		stepNames(*rs[0].Deployment) != "start,health,verify,switch,linger,switch,roll back" {
		t.Fatalf("aborted deployment: %+v", rs)
	}
	if ip, _ := lookup(t, zoneAddr, dnsName); ip != "127.0.0.2" {
		t.Errorf("after the abort the record is %q", ip)
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.2:%d", port), fmt.Sprintf("127.0.0.3:%d", port)} {
		if v := getVia(t, addr); v != "v1" {
			t.Errorf("%s answers %q after the abort, want v1", addr, v)
		}
	}
	if st := h.status(); st.Live.Version != "v1" || st.Candidate != nil {
		t.Errorf("after the abort: live %+v candidate %+v", st.Live, st.Candidate)
	}
}

// A DNS server that does not take the record as teal restarts (it is
// restarting too) is tried again until it does: the record points at the
// live slot again, and the events say what happened.
func TestDNSRepublishedAfterRestart(t *testing.T) {
	h := newDNSHarness(t)
	port, zoneAddr := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3"), tcptest.FreeAddr(t)
	zone := spec.DNSZone{Name: "example.test", Listen: zoneAddr}
	h.mustApply(h.dnsDesired(runtimetest.Behaviour{Version: "v1"}, zone, port))

	h.crash()
	refuse := &refusingRecords{left: 2}
	h.wrapDNS = func(r engine.Records) engine.Records { refuse.Records = r; return refuse }
	h.boot()
	began := time.Now()
	waitFor(t, func() bool { ip, _ := lookup(t, zoneAddr, dnsName); return ip == "127.0.0.2" })
	t.Logf("the record was back %v after the restart, at try %d", time.Since(began).Round(time.Millisecond), refuse.tries())
	if n := refuse.tries(); n != 3 {
		t.Errorf("%d tries to publish; want 3 (two refused, then taken)", n)
	}
	// The event is recorded just after the DNS server took the record.
	var types []string
	for deadline := time.Now().Add(10 * time.Second); len(types) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, err := h.eng.LastEvents(100, "web")
		if err != nil {
			t.Fatal(err)
		}
		types = types[:0]
		for _, ev := range evs {
			if strings.HasPrefix(ev.Type, "dns.publish") {
				types = append(types, ev.Type+": "+ev.Message)
			}
		}
	}
	if len(types) != 2 || !strings.HasPrefix(types[0], "dns.publish_failed") || !strings.Contains(types[0], "trying again") ||
		!strings.HasPrefix(types[1], "dns.published: pointed web.example.test at the blue slot again") {
		t.Errorf("events: %q", types)
	}
}

// refusingRecords refuses the first left records it is asked to publish,
// as a DNS server that is not up yet does, and passes the rest on to the
// real publisher.
type refusingRecords struct {
	engine.Records
	mu          sync.Mutex
	left, calls int
}

func (r *refusingRecords) Publish(ctx context.Context, name string, addr netip.Addr, ttl time.Duration) error {
	r.mu.Lock()
	r.calls++
	refuse := r.left > 0
	if refuse {
		r.left--
	}
	r.mu.Unlock()
	if refuse {
		return errors.New("SERVFAIL: the server is starting")
	}
	return r.Records.Publish(ctx, name, addr, ttl)
}

func (r *refusingRecords) tries() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}
