package config

import (
	"encoding/base64"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/teal-deploy/teal/internal/spec"
)

var (
	dnsZoneSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "listen"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "update"}},
	}
	dnsUpdateSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "server", Required: true}, {Name: "key_name", Required: true},
			{Name: "key_secret", Required: true}, {Name: "algorithm"},
		},
	}
	serviceDNSSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "name", Required: true}, {Name: "ttl"}, {Name: "blue", Required: true},
			{Name: "green", Required: true}, {Name: "linger"}, {Name: "failover"},
		},
	}
)

// dnsZones decodes the dns_zone blocks of m. A zone is named by its label,
// the zone's apex, in every module: DNS names are global, so two modules
// that declare one zone are an error, not two zones.
func (d *decoder) dnsZones(m *module) []spec.DNSZone {
	if d.zones == nil {
		d.zones = map[string]hcl.Range{}
	}
	var out []spec.DNSZone
	for _, b := range m.dnsZones {
		name := spec.CanonicalName(b.Labels[0])
		if prev, dup := d.zones[name]; dup {
			d.add(errorAt(b.LabelRanges[0], "Duplicate dns_zone",
				"The zone %q is already declared at %s.", name, prev))
			continue
		}
		d.zones[name] = b.DefRange
		z := spec.DNSZone{Name: name}
		at := "dns_zone." + name
		c := d.content(at, b, dnsZoneSchema)
		d.stringInto(at, c, "listen", &z.Listen)
		if ub := d.unique(c.Blocks.OfType("update"), fmt.Sprintf("dns_zone %q", b.Labels[0])); ub != nil {
			z.Update = d.dnsUpdate(at+".update", ub)
		}
		out = append(out, z)
	}
	return out
}

// dnsUpdate decodes an update block. Its key_secret is sensitive whether
// or not the variable it came from says so: it is recorded as such, and
// no message quotes it or shows its line.
func (d *decoder) dnsUpdate(at string, b *hcl.Block) *spec.DNSUpdate {
	u := spec.NewDNSUpdate()
	c := d.content(at, b, dnsUpdateSchema)
	d.stringInto(at, c, "server", &u.Server)
	if a := c.Attributes["key_name"]; a != nil {
		if v, ok := d.string(at+".key_name", a); ok {
			u.KeyName = spec.CanonicalName(v)
		}
	}
	if a := c.Attributes["key_secret"]; a != nil {
		path := at + ".key_secret"
		if v, _, ok := d.text(path, a); ok {
			d.sensitive.record(path, cty.StringVal(v))
			u.KeySecret = v
			if raw, err := base64.StdEncoding.DecodeString(v); err != nil || len(raw) == 0 {
				diag := errorAt(a.Expr.Range(), "Invalid key_secret",
					"The value given is not a TSIG secret; expected base64, as tsig-keygen prints it (the value is not shown).")
				diag.Extra = secretSource{}
				d.add(diag)
				d.failed[path] = true
			}
		}
	}
	if a := c.Attributes["algorithm"]; a != nil {
		if v, ok := d.oneOf(at+".algorithm", a, spec.TSIGAlgorithms); ok {
			u.Algorithm = v
		}
	}
	return u
}

// serviceSwitch decodes a service's switch attribute and dns block.
func (d *decoder) serviceSwitch(at, where string, c *hcl.BodyContent, s *spec.Service) {
	if a := c.Attributes["switch"]; a != nil {
		options := make([]string, len(spec.Switches))
		for i, k := range spec.Switches {
			options[i] = string(k)
		}
		if v, ok := d.oneOf(at+".switch", a, options); ok {
			s.Switch = spec.SwitchKind(v)
			if s.Switch == spec.SwitchLoadBalancer {
				s.Switch = "" // the default, as every service recorded before switches existed has it
			}
		}
	}
	b := d.unique(c.Blocks.OfType("dns"), where)
	if b == nil {
		return
	}
	dns := spec.NewDNS()
	dat := at + ".dns"
	dc := d.content(dat, b, serviceDNSSchema)
	if a := dc.Attributes["name"]; a != nil {
		if v, ok := d.string(dat+".name", a); ok {
			dns.Name = spec.CanonicalName(v)
		}
	}
	d.durationInto(dat, dc, "ttl", &dns.TTL)
	d.stringInto(dat, dc, "blue", &dns.Blue)
	d.stringInto(dat, dc, "green", &dns.Green)
	d.durationInto(dat, dc, "linger", &dns.Linger)
	d.boolInto(dat, dc, "failover", &dns.Failover)
	s.DNS = dns
}
