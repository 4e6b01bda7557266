package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// lb starts a proxy with one load balancer on a free port and a catch-all
// route to service "web".
func lb(t *testing.T) (*Proxy, string) {
	t.Helper()
	p := New(Options{Log: discard()})
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{testLB("public")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
	return p, "http://" + p.Addr("public")
}

// testLB is a load balancer with the defaults, on a free port.
func testLB(name string) spec.LoadBalancer {
	lb := spec.NewLoadBalancer(name)
	lb.Listen = "127.0.0.1:0"
	return lb
}

// service is a service with the defaults and the given routes.
func service(name string, routes ...spec.Route) spec.Service {
	s := spec.NewService(name)
	s.Routes = routes
	return s
}

// target makes a target of service web in slot blue for s.
func target(p *Proxy, id string, s *httptest.Server, slot spec.Slot) *Target {
	return p.NewTarget(TargetOptions{
		ID: id, Addr: strings.TrimPrefix(s.URL, "http://"), Service: "web", Slot: slot,
		Timeouts: spec.NewService("web").Timeouts, Consecutive5xx: spec.DefaultConsecutive5xx,
	})
}

// backendServer is a real HTTP server that answers with its name.
func backendServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		fmt.Fprintf(w, "%s host=%s xff=%s", name, r.Host, r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(s.Close)
	return s
}

// healthyTarget returns a target for s whose active checks have passed.
func healthyTarget(t *testing.T, p *Proxy, id string, s *httptest.Server) *Target {
	t.Helper()
	slot := spec.Blue
	if strings.HasPrefix(id, "green") || strings.HasPrefix(id, "g") {
		slot = spec.Green
	}
	tg := target(p, id, s, slot)
	became := make(chan Health, 4)
	tg.StartChecks(spec.HealthCheck{Path: "/", Interval: spec.Duration(10 * time.Millisecond), Timeout: spec.Duration(time.Second), HealthyThreshold: 2, UnhealthyThreshold: 2}, time.Now(), func(_ *Target, h Health) { became <- h })
	t.Cleanup(tg.StopChecks)
	select {
	case h := <-became:
		if h != Healthy {
			t.Fatalf("target %s became %s", id, h)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("target %s never became healthy: %s", id, tg.LastResult())
	}
	return tg
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// blueGreen sets up service web with one healthy target in each slot,
// blue live.
func blueGreen(t *testing.T) (p *Proxy, url string, blue, green *Target) {
	t.Helper()
	p, url = lb(t)
	blue = healthyTarget(t, p, "blue-1", backendServer(t, "blue"))
	green = healthyTarget(t, p, "green-1", backendServer(t, "green"))
	p.SetPool("web", spec.Blue, []*Target{blue})
	p.SetPool("web", spec.Green, []*Target{green})
	p.SetWeights("web", Weights{spec.Blue: 100})
	return p, url, blue, green
}

func TestSwitchOnOneKeepAliveConnection(t *testing.T) {
	p, url, _, _ := blueGreen(t)

	conns := 0
	c := &http.Client{Transport: &http.Transport{
		MaxConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conns++
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	for range 3 {
		if _, body := get(t, c, url+"/"); !strings.HasPrefix(body, "blue") {
			t.Fatalf("before the switch: %q", body)
		}
	}
	p.SetWeights("web", Weights{spec.Green: 100})
	for range 3 {
		if _, body := get(t, c, url+"/"); !strings.HasPrefix(body, "green") {
			t.Fatalf("after the switch: %q", body)
		}
	}
	if conns != 1 {
		t.Errorf("client opened %d connections; the switch must not need a new one", conns)
	}
}

func TestInFlightRequestFinishesOnItsTarget(t *testing.T) {
	p, url, blue, _ := blueGreen(t)

	slow := make(chan string)
	go func() {
		_, body := get(t, http.DefaultClient, url+"/?sleep=400ms")
		slow <- body
	}()
	deadline := time.Now().Add(5 * time.Second)
	for blue.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	p.SetWeights("web", Weights{spec.Green: 100})
	if _, body := get(t, http.DefaultClient, url+"/"); !strings.HasPrefix(body, "green") {
		t.Errorf("new request after the switch went to %q", body)
	}
	if blue.Drain(context.Background(), 10*time.Millisecond) {
		t.Error("Drain reported idle while the slow request was in flight")
	}
	if !blue.Drain(context.Background(), 5*time.Second) {
		t.Error("Drain did not see the slow request finish")
	}
	if body := <-slow; !strings.HasPrefix(body, "blue") {
		t.Errorf("slow request answered by %q, want blue", body)
	}
}

func TestErrors(t *testing.T) {
	p, url := lb(t)
	if code, body := get(t, http.DefaultClient, url+"/"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no healthy instance of service web") {
		t.Errorf("no pool: %d %q", code, body)
	}

	unhealthy := p.NewTarget(TargetOptions{ID: "sick", Addr: "127.0.0.1:1", Service: "web", Slot: spec.Blue, Timeouts: spec.NewService("web").Timeouts})
	p.SetPool("web", spec.Blue, []*Target{unhealthy})
	p.SetWeights("web", Weights{spec.Blue: 100})
	if code, _ := get(t, http.DefaultClient, url+"/"); code != http.StatusServiceUnavailable {
		t.Errorf("only an unknown-health target: %d, want 503", code)
	}

	gone := backendServer(t, "gone")
	dead := healthyTarget(t, p, "dead", gone)
	dead.StopChecks()
	gone.Close()
	p.SetPool("web", spec.Blue, []*Target{dead})
	if code, body := get(t, http.DefaultClient, url+"/"); code != http.StatusBadGateway || body != "teal: the instance failed to answer\n" {
		t.Errorf("refused upstream: %d %q, want 502 with a short plain body", code, body)
	}

	slow := healthyTarget(t, p, "slow", backendServer(t, "slow"))
	slow.Update(spec.UpstreamTimeouts{Connect: spec.Duration(time.Second), ResponseHeader: spec.Duration(50 * time.Millisecond)}, 0)
	p.SetPool("web", spec.Blue, []*Target{slow})
	if code, _ := get(t, http.DefaultClient, url+"/?sleep=500ms"); code != http.StatusGatewayTimeout {
		t.Errorf("slow upstream: %d, want 504", code)
	}

	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/api/*"}))
	if code, _ := get(t, http.DefaultClient, url+"/other"); code != http.StatusNotFound {
		t.Errorf("no route: %d, want 404", code)
	}
}

func TestForwardedHeaders(t *testing.T) {
	p, url := lb(t)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Host = "shop.example.com"
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // from an untrusted client: dropped
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := "blue host=shop.example.com xff=127.0.0.1"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func TestWeightsAndRoundRobin(t *testing.T) {
	p, url := lb(t)
	b1 := healthyTarget(t, p, "b1", backendServer(t, "b1"))
	b2 := healthyTarget(t, p, "b2", backendServer(t, "b2"))
	g1 := healthyTarget(t, p, "g1", backendServer(t, "g1"))
	p.SetPool("web", spec.Blue, []*Target{b1, b2})
	p.SetPool("web", spec.Green, []*Target{g1})
	p.SetWeights("web", Weights{spec.Blue: 80, spec.Green: 20})
	counts := map[string]int{}
	for range 100 {
		_, body := get(t, http.DefaultClient, url+"/")
		counts[strings.Fields(body)[0]]++
	}
	if counts["g1"] != 20 || counts["b1"] != 40 || counts["b2"] != 40 {
		t.Errorf("100 requests at 80/20 over b1,b2 | g1 went %v", counts)
	}
}

func TestClosedTargetTakesNoNewRequests(t *testing.T) {
	p, url := lb(t)
	a := healthyTarget(t, p, "a", backendServer(t, "a"))
	b := healthyTarget(t, p, "b", backendServer(t, "b"))
	p.SetPool("web", spec.Blue, []*Target{a, b})
	p.SetWeights("web", Weights{spec.Blue: 100})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		get(t, http.DefaultClient, url+"/?sleep=300ms")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for a.InFlight()+b.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	busy := a
	if b.InFlight() > 0 {
		busy = b
	}
	before := busy.Served()
	closed := make(chan bool)
	go func() { closed <- busy.Close(context.Background(), 5*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	for range 10 {
		get(t, http.DefaultClient, url+"/")
	}
	if !<-closed {
		t.Error("Close did not wait for the request in flight")
	}
	if n := busy.Served() - before; n != 1 {
		t.Errorf("a closed target answered %d requests after it was closed, want only the 1 in flight", n)
	}
	wg.Wait()
}

var dialer = &net.Dialer{}

// A listener that moves lets its requests in flight finish, and the new
// address serves at once.
func TestMoveListener(t *testing.T) {
	p, oldURL := lb(t)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	slow := make(chan int)
	go func() {
		code, _ := get(t, http.DefaultClient, oldURL+"/?sleep=300ms")
		slow <- code
	}()
	time.Sleep(50 * time.Millisecond)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	newAddr := ln.Addr().String()
	ln.Close()
	moved := testLB("public")
	moved.Listen = newAddr
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{moved}); err != nil {
		t.Fatal(err)
	}
	if code := <-slow; code != 200 {
		t.Errorf("request in flight on the old address: %d", code)
	}
	if code, body := get(t, http.DefaultClient, "http://"+newAddr+"/"); code != 200 || !strings.HasPrefix(body, "blue") {
		t.Errorf("new address: %d %q", code, body)
	}
	if _, err := http.Get(oldURL + "/"); err == nil {
		t.Error("the old address still answers")
	}
	clash := testLB("clash")
	clash.Listen = newAddr
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{moved, clash}); err == nil || !strings.Contains(err.Error(), `load balancer "clash"`) {
		t.Errorf("a second listener on a taken address: %v", err)
	}
}

// Pools shows each slot's weight and targets, and the targets' counters
// are the ones requests through the load balancer move.
func TestPools(t *testing.T) {
	p, url := lb(t)
	if got := p.Pools("nope"); got != nil {
		t.Errorf("unknown service: %+v", got)
	}
	b1 := healthyTarget(t, p, "b1", backendServer(t, "b1"))
	g1 := healthyTarget(t, p, "g1", backendServer(t, "g1"))
	p.SetPool("web", spec.Blue, []*Target{b1})
	p.SetWeights("web", Weights{spec.Blue: 100})
	if got := p.Pools("web"); len(got) != 1 || got[0].Slot != spec.Blue || got[0].Weight != 100 || len(got[0].Targets) != 1 || got[0].Targets[0] != b1 {
		t.Errorf("blue live, nothing in green: %+v", got)
	}
	p.SetPool("web", spec.Green, []*Target{g1})
	p.SetWeights("web", Weights{spec.Blue: 75, spec.Green: 25})
	for range 100 {
		get(t, http.DefaultClient, url+"/")
	}
	got := p.Pools("web")
	if len(got) != 2 || got[0].Weight != 75 || got[1].Slot != spec.Green || got[1].Weight != 25 {
		t.Fatalf("a canary at 25%%: %+v", got)
	}
	blue, green := got[0].Targets[0].Stats(), got[1].Targets[0].Stats()
	if blue.Requests != 75 || green.Requests != 25 || blue.Errors+green.Errors != 0 {
		t.Errorf("100 requests at 75/25: blue %+v, green %+v", blue, green)
	}
	p.SetWeights("web", Weights{spec.Green: 100})
	if got := p.Pools("web"); got[0].Weight != 0 || len(got[0].Targets) != 1 || got[1].Weight != 100 {
		t.Errorf("after the switch, blue is warm with no weight: %+v", got)
	}
}
