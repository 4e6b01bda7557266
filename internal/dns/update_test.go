package dns_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/dns"
	"github.com/teal-deploy/teal/internal/dns/bindtest"
	"github.com/teal-deploy/teal/internal/spec"
)

func zoneFor(b *bindtest.BIND) spec.DNSZone {
	return spec.DNSZone{Name: b.Zone, Update: &spec.DNSUpdate{Server: b.Addr, KeyName: b.KeyName, KeySecret: b.KeySecret, Algorithm: b.Algorithm}}
}

// answerOf returns the one address record BIND has for name, or "".
func answerOf(t *testing.T, b *bindtest.BIND, name string, qtype uint16) string {
	t.Helper()
	r := b.Lookup(t, name, qtype)
	if len(r.Answer) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(r.Answer[0].String()), " ")
}

// Against a real BIND 9: a signed update sets the record (replacing the
// one before, A or AAAA), with its TTL; a delete removes it. A wrong
// secret, an unknown key and a name the key may not change are refused,
// the error says what BIND answered and never shows the secret, and the
// record stays as it was.
func TestUpdaterAgainstBIND(t *testing.T) {
	b := bindtest.Start(t, "example.test")
	ctx := context.Background()
	pub := dns.NewPublisher(nil)
	t.Cleanup(pub.Close)
	if err := pub.SetZones(ctx, []spec.DNSZone{zoneFor(b)}); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "app.example.test", netip.MustParseAddr("127.0.0.2"), 30*time.Second); err != nil {
		t.Fatalf("publish: %v\n%s", err, b.Output())
	}
	if got, want := answerOf(t, b, "app.example.test", mdns.TypeA), "app.example.test. 30 IN A 127.0.0.2"; got != want {
		t.Fatalf("after the first update: %q, want %q", got, want)
	}
	if err := pub.Publish(ctx, "app.example.test", netip.MustParseAddr("127.0.0.3"), 7*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, want := answerOf(t, b, "app.example.test", mdns.TypeA), "app.example.test. 7 IN A 127.0.0.3"; got != want {
		t.Fatalf("after the switch: %q, want %q", got, want)
	}
	if r := b.Lookup(t, "app.example.test", mdns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("the old address was not replaced: %v", r.Answer)
	}

	wrong := make([]byte, 32)
	_, _ = rand.Read(wrong)
	badSecret := base64.StdEncoding.EncodeToString(wrong)
	refusals := []struct {
		name   string
		update spec.DNSUpdate
		target string
		want   string
	}{
		{"wrong secret", spec.DNSUpdate{Server: b.Addr, KeyName: b.KeyName, KeySecret: badSecret, Algorithm: b.Algorithm}, "app.example.test", "NOTAUTH, TSIG error BADSIG"},
		{"unknown key", spec.DNSUpdate{Server: b.Addr, KeyName: "other-key", KeySecret: b.KeySecret, Algorithm: b.Algorithm}, "app.example.test", "NOTAUTH, TSIG error BADKEY"},
		{"wrong algorithm", spec.DNSUpdate{Server: b.Addr, KeyName: b.KeyName, KeySecret: b.KeySecret, Algorithm: "hmac-sha512"}, "app.example.test", "TSIG error BADKEY"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			u := dns.NewUpdater(b.Zone, tt.update)
			err := u.Set(ctx, dns.Record{Name: tt.target, Addr: netip.MustParseAddr("127.0.0.9"), TTL: time.Second})
			var ue *dns.UpdateError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want an UpdateError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, secret := range []string{badSecret, b.KeySecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %s", err)
				}
			}
			if got := answerOf(t, b, "app.example.test", mdns.TypeA); !strings.HasSuffix(got, "127.0.0.3") {
				t.Errorf("the refused update changed the record: %q", got)
			}
		})
	}

	// An update outside the zone BIND serves: NOTAUTH (or NOTZONE).
	other := dns.NewUpdater("other.test", *zoneFor(b).Update)
	if err := other.Set(ctx, dns.Record{Name: "app.other.test", Addr: netip.MustParseAddr("127.0.0.9"), TTL: time.Second}); err == nil {
		t.Error("an update of a zone BIND does not serve succeeded")
	} else {
		t.Logf("update of another zone: %v", err)
	}

	if err := pub.Publish(ctx, "v6.example.test", netip.MustParseAddr("::1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, want := answerOf(t, b, "v6.example.test", mdns.TypeAAAA), "v6.example.test. 60 IN AAAA ::1"; got != want {
		t.Errorf("AAAA: %q, want %q", got, want)
	}
	if err := pub.Unpublish(ctx, "app.example.test"); err != nil {
		t.Fatal(err)
	}
	if r := b.Lookup(t, "app.example.test", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Errorf("after unpublish: %s %v", mdns.RcodeToString[r.Rcode], r.Answer)
	}
}

// A server that does not answer fails the update within its timeout with
// a message that says so.
func TestUpdaterNoServer(t *testing.T) {
	u := dns.NewUpdater("example.test", spec.DNSUpdate{Server: "127.0.0.1:1", KeyName: "k", KeySecret: "c2VjcmV0", Algorithm: "hmac-sha256"})
	err := u.Set(context.Background(), dns.Record{Name: "app.example.test", Addr: netip.MustParseAddr("127.0.0.2"), TTL: time.Second})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("got %v", err)
	}
}
