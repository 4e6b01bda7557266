package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// The configuration of DESIGN.md's DNS example decodes to zones and a
// service with switch = "dns", with defaults filled in; the TSIG secret is
// recorded as sensitive even though the variable it came from is not.
func TestDNSConfiguration(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "tsig_secret" {
  default = "c2VjcmV0LXRzaWcta2V5"
}
dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}
dns_zone "Corp.Example." {
  update {
    server     = "127.0.0.1:53"
    key_name   = "teal-key."
    key_secret = var.tsig_secret
  }
}
service "app" {
  switch = "dns"
  process {
    command = ["./app"]
  }
  dns {
    name   = "App.Example.Test."
    ttl    = "30s"
    blue   = "127.0.0.2:8080"
    green  = "127.0.0.3:8080"
    linger = "60s"
  }
}
service "api" {
  switch = "dns"
  process {
    command = ["./api"]
  }
  dns {
    name     = "api.corp.example"
    blue     = "[::1]:9090"
    green    = "127.0.0.4:9090"
    failover = true
  }
}
service "web" {
  switch = "load_balancer"
  process {
    command = ["./web"]
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	d, diags := Load(dir, Vars{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wantZones := []spec.DNSZone{
		{Name: "example.test", Listen: "127.0.0.1:5353"},
		{Name: "corp.example", Update: &spec.DNSUpdate{Server: "127.0.0.1:53", KeyName: "teal-key", KeySecret: "c2VjcmV0LXRzaWcta2V5", Algorithm: "hmac-sha256"}},
	}
	if len(d.DNSZones) != 2 || d.DNSZones[0] != wantZones[0] || d.DNSZones[1].Name != wantZones[1].Name || *d.DNSZones[1].Update != *wantZones[1].Update {
		t.Errorf("zones %+v, want %+v", d.DNSZones, wantZones)
	}
	app, _ := d.Service("app")
	want := spec.DNS{Name: "app.example.test", TTL: spec.Duration(30 * time.Second), Blue: "127.0.0.2:8080", Green: "127.0.0.3:8080", Linger: spec.Duration(time.Minute)}
	if !app.ByDNS() || *app.DNS != want {
		t.Errorf("app: switch %q, dns %+v; want %+v", app.Switch, app.DNS, want)
	}
	api, _ := d.Service("api")
	if !api.DNS.Failover || api.DNS.TTL != spec.DefaultDNSTTL || api.DNS.Linger != spec.DefaultDNSLinger {
		t.Errorf("api's dns %+v: want failover and the default ttl and linger", api.DNS)
	}
	web, _ := d.Service("web")
	if web.Switch != "" || web.ByDNS() {
		t.Errorf("web: switch %q; \"load_balancer\" is the default, recorded as \"\"", web.Switch)
	}
	if !slices.Contains(d.Sensitive, "dns_zone.corp.example.update.key_secret") {
		t.Errorf("the key secret is not among the sensitive paths %v", d.Sensitive)
	}
}

// A TSIG secret written in the file itself, not through a variable, is
// not shown by an error about it, with its source line or without.
func TestDNSSecretNotShown(t *testing.T) {
	dir := t.TempDir()
	secret := "plain secret that is not base64"
	src := `dns_zone "example.test" {
  update {
    server     = "127.0.0.1:53"
    key_name   = "teal-key"
    key_secret = "` + secret + `"
    algorithm  = "hmac-sha257"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := Load(dir, Vars{})
	if !diags.HasErrors() {
		t.Fatal("loaded without errors")
	}
	var out bytes.Buffer
	diags.Write(&out)
	if strings.Contains(out.String(), secret) {
		t.Errorf("the secret is shown:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Invalid key_secret") || !strings.Contains(out.String(), `Did you mean "hmac-sha256"?`) {
		t.Errorf("expected errors about key_secret and algorithm:\n%s", out.String())
	}
}
