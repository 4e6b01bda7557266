package proxy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/tcptest"
)

func dnsService(name string, port int) spec.Service {
	s := spec.NewService(name)
	s.Switch = spec.SwitchDNS
	s.DNS = spec.NewDNS()
	s.DNS.Name = name + ".example.test"
	s.DNS.Blue = fmt.Sprintf("127.0.0.2:%d", port)
	s.DNS.Green = fmt.Sprintf("127.0.0.3:%d", port)
	return s
}

// Each slot of a service that switches by DNS has a listener that serves
// that slot's pool whatever the weights say, until ServeSlot points it at
// the other slot's pool, which the next request on the same connection
// sees. Each listener counts the requests that reach it.
func TestSlotListeners(t *testing.T) {
	p := New(Options{Log: discard()})
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	port := tcptest.FreePortOn(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	svc := dnsService("web", port)
	if err := p.SetService(svc); err != nil {
		t.Fatal(err)
	}
	blue := healthyTarget(t, p, "blue-1", backendServer(t, "blue"))
	green := healthyTarget(t, p, "green-1", backendServer(t, "green"))
	p.SetPool("web", spec.Blue, []*Target{blue})
	p.SetPool("web", spec.Green, []*Target{green})
	p.SetWeights("web", Weights{spec.Blue: 100}) // weights do not concern slot listeners

	c := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	blueURL, greenURL := "http://"+svc.DNS.Blue+"/", "http://"+svc.DNS.Green+"/"
	for range 3 {
		if code, body := get(t, c, blueURL); code != 200 || !strings.HasPrefix(body, "blue") {
			t.Fatalf("blue listener: %d %q", code, body)
		}
	}
	if code, body := get(t, c, greenURL); code != 200 || !strings.HasPrefix(body, "green") {
		t.Fatalf("green listener: %d %q", code, body)
	}
	p.ServeSlot("web", spec.Green, spec.Blue)
	if code, body := get(t, c, greenURL); code != 200 || !strings.HasPrefix(body, "blue") {
		t.Fatalf("green listener after ServeSlot(green → blue): %d %q", code, body)
	}
	if got := p.SlotTraffic("web", spec.Green); got.Requests != 2 || got.Serves != spec.Blue || got.Listen != svc.DNS.Green {
		t.Errorf("green's traffic %+v: want 2 requests, serving blue, at %s", got, svc.DNS.Green)
	}
	if got := p.SlotTraffic("web", spec.Blue); got.Requests != 3 || got.Serves != spec.Blue {
		t.Errorf("blue's traffic %+v: want 3 requests, serving blue", got)
	}

	// A moved listener opens at the new address; its count goes on.
	moved := svc
	dns := *svc.DNS
	dns.Green = fmt.Sprintf("127.0.0.4:%d", port)
	moved.DNS = &dns
	if err := p.SetService(moved); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, c, "http://"+dns.Green+"/"); code != 200 || !strings.HasPrefix(body, "blue") {
		t.Fatalf("moved green listener: %d %q", code, body)
	}
	if got := p.SlotTraffic("web", spec.Green); got.Requests != 3 || got.Listen != dns.Green {
		t.Errorf("after the move, green's traffic %+v", got)
	}

	// A slot address that is taken is an error, and says which slot; the
	// other slot serves.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	other := dnsService("api", port)
	other.DNS.Green = taken.Addr().String()
	err = p.SetService(other)
	if err == nil || !strings.Contains(err.Error(), `service "api": the green slot's listener`) {
		t.Errorf("SetService with a taken address: %v", err)
	}
	if got := p.SlotTraffic("api", spec.Green); got.Listen != "" || got.Error == "" {
		t.Errorf("api's green slot: %+v, want an error and no address", got)
	}

	p.RemoveService("web")
	if _, err := c.Get(blueURL); err == nil {
		t.Error("the blue listener still answers after RemoveService")
	}
}

// The rate is what arrived in the last ten whole seconds.
func TestSlotCounterRate(t *testing.T) {
	var c slotCounter
	base := int64(1_000_000)
	at := func(sec int64) time.Time { return time.Unix(sec, 0) }
	for s := base; s < base+20; s++ {
		for range 5 {
			c.add(at(s))
		}
	}
	if got := c.rate(at(base + 20)); got != 5 {
		t.Errorf("steady 5/s: rate %v", got)
	}
	if got := c.rate(at(base + 25)); got != 2.5 {
		t.Errorf("5 quiet seconds later: rate %v, want 2.5", got)
	}
	if got := c.rate(at(base + 40)); got != 0 {
		t.Errorf("20 quiet seconds later: rate %v, want 0", got)
	}
	if c.total.Load() != 100 {
		t.Errorf("total %d", c.total.Load())
	}
}
