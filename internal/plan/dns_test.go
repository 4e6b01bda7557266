package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

func app(version string) spec.Service {
	s := web(version)
	s.Name, s.Routes = "app", nil
	s.Switch = spec.SwitchDNS
	s.DNS = spec.NewDNS()
	s.DNS.Name, s.DNS.Blue, s.DNS.Green = "app.example.test", "127.0.0.2:8080", "127.0.0.3:8080"
	return s
}

var (
	ownZone   = spec.DNSZone{Name: "example.test", Listen: "127.0.0.1:5353"}
	bindZone  = spec.DNSZone{Name: "corp.test", Update: &spec.DNSUpdate{Server: "127.0.0.1:53", KeyName: "teal-key", KeySecret: "c2VjcmV0LW9uZQ==", Algorithm: "hmac-sha256"}}
	bindZone2 = spec.DNSZone{Name: "corp.test", Update: &spec.DNSUpdate{Server: "127.0.0.1:53", KeyName: "teal-key", KeySecret: "c2VjcmV0LXR3bw==", Algorithm: "hmac-sha256"}}
)

// Plans of services that switch by DNS say what the record does and how
// long the old slot stays; a zone's TSIG secret is never shown, though a
// change of it is a change.
func TestDiffDNS(t *testing.T) {
	moved := app("1.0")
	dns := *moved.DNS
	dns.TTL, dns.Green = spec.Duration(10e9), "127.0.0.4:8080"
	moved.DNS = &dns
	liveApp := func(s spec.Service, rev int) CurrentService {
		c := live(s, rev)
		c.LiveSlot = spec.Blue
		return c
	}
	tests := []struct {
		name    string
		desired spec.Desired
		current Current
	}{
		{"dns_create", spec.Desired{DNSZones: []spec.DNSZone{ownZone, bindZone}, Services: []spec.Service{app("1.0")}}, Current{}},
		{"dns_new_version", spec.Desired{DNSZones: []spec.DNSZone{ownZone}, Services: []spec.Service{app("2.0")}},
			Current{DNSZones: []spec.DNSZone{ownZone}, Services: []CurrentService{liveApp(app("1.0"), 3)}}},
		{"dns_in_place", spec.Desired{DNSZones: []spec.DNSZone{ownZone, bindZone2}, Services: []spec.Service{moved}},
			Current{DNSZones: []spec.DNSZone{ownZone, bindZone}, Services: []CurrentService{liveApp(app("1.0"), 3)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.desired, tt.current)
			var text bytes.Buffer
			Render(&text, p)
			golden(t, tt.name+".txt", text.Bytes())
			js, _ := json.Marshal(p)
			for _, secret := range []string{bindZone.Update.KeySecret, bindZone2.Update.KeySecret} {
				if strings.Contains(text.String()+string(js), secret) {
					t.Errorf("a TSIG secret is shown:\n%s\n%s", text.String(), js)
				}
			}
		})
	}
	p := Diff(spec.Desired{DNSZones: []spec.DNSZone{bindZone2}}, Current{DNSZones: []spec.DNSZone{bindZone}})
	if c, ok := p.Change("dns_zone", "corp.test"); !ok || len(c.Attrs) != 1 || c.Attrs[0].Path != "update.key_secret" {
		t.Errorf("a changed secret: %+v", p)
	}
}
