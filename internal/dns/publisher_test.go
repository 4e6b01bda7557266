package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// A publisher serves its zones: a record is answered at once; a zone that
// moves answers at its new address with the records it had, and the old
// address stops; a zone no longer declared stops; an address that cannot
// be bound is an error that names the zone; a name in no zone is refused.
func TestPublisherZones(t *testing.T) {
	ctx := context.Background()
	p := NewPublisher(nil)
	t.Cleanup(p.Close)
	first := tcptest.FreeAddr(t)
	if err := p.SetZones(ctx, []spec.DNSZone{{Name: "example.test", Listen: first}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, "app.example.test", netip.MustParseAddr("127.0.0.2"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if r := query(t, first, "udp", "app.example.test.", mdns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("at %s: %v", first, r)
	}
	if err := p.Publish(ctx, "app.other.test", netip.MustParseAddr("127.0.0.2"), time.Second); err == nil || !strings.Contains(err.Error(), "no dns_zone") {
		t.Errorf("a name in no zone: %v", err)
	}

	second := tcptest.FreeAddr(t)
	if err := p.SetZones(ctx, []spec.DNSZone{{Name: "example.test", Listen: second}}); err != nil {
		t.Fatal(err)
	}
	if p.Addr("example.test") != second {
		t.Errorf("the zone answers at %q, want %s", p.Addr("example.test"), second)
	}
	if r := query(t, second, "tcp", "app.example.test.", mdns.TypeA); len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "127.0.0.2") {
		t.Fatalf("after the move: %v", r)
	}
	c := &mdns.Client{Net: "tcp", Timeout: time.Second}
	m := new(mdns.Msg)
	m.SetQuestion("app.example.test.", mdns.TypeA)
	if _, _, err := c.Exchange(m, first); err == nil {
		t.Error("the old address still answers after the move")
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = p.SetZones(ctx, []spec.DNSZone{{Name: "example.test", Listen: second}, {Name: "other.test", Listen: taken.Addr().String()}})
	if err == nil || !strings.Contains(err.Error(), `dns_zone "other.test"`) {
		t.Errorf("a taken address: %v", err)
	}
	if r := query(t, second, "udp", "app.example.test.", mdns.TypeA); len(r.Answer) != 1 {
		t.Errorf("the zone that could be served stopped: %v", r)
	}

	if err := p.SetZones(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Exchange(m, second); err == nil {
		t.Error("a zone no longer declared still answers")
	}
}
