package spec

import (
	"encoding/base64"
	"fmt"
	"math"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// SwitchKind names what moves a service's traffic from one slot to the
// other.
type SwitchKind string

// The switches teal knows. The empty value means the load balancer, so
// that a service recorded before switches existed reads as it ran.
const (
	// SwitchLoadBalancer changes the load balancer's routing table: the
	// next request goes to the new slot.
	SwitchLoadBalancer SwitchKind = "load_balancer"
	// SwitchDNS changes a DNS record that points at one of the service's
	// two slot listeners; clients move as their caches expire.
	SwitchDNS SwitchKind = "dns"
)

// Switches lists the switches a configuration may name.
var Switches = []SwitchKind{SwitchLoadBalancer, SwitchDNS}

// ByDNS reports whether the service switches by a DNS record.
func (s Service) ByDNS() bool { return s.Switch == SwitchDNS && s.DNS != nil }

// DNS is how a service with switch = "dns" is published: each slot has a
// listener of its own on the load balancer, and the record Name points at
// the live one's address.
type DNS struct {
	// Name is the record's name, in a declared dns_zone: lower case,
	// without the final dot ("app.example.test").
	Name string `json:"name"`
	// TTL is how long resolvers may cache the record: whole seconds.
	TTL Duration `json:"ttl"`
	// Blue and Green are the slots' listeners, IP:port, with the same
	// port: the record carries an address, not a port.
	Blue  string `json:"blue"`
	Green string `json:"green"`
	// Linger is how long after TTL the old slot keeps serving, for clients
	// that cache longer than they are told; it also keeps serving until
	// the requests reaching it stop.
	Linger Duration `json:"linger"`
	// Failover switches the record back to the warm slot, by itself, when
	// the live slot has no healthy instance and the warm one is healthy.
	Failover bool `json:"failover,omitempty"`
}

// Listen returns the address of slot's listener.
func (d DNS) Listen(slot Slot) string {
	if slot == Green {
		return d.Green
	}
	return d.Blue
}

// Addr returns the IP address the record holds while slot is live.
func (d DNS) Addr(slot Slot) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(d.Listen(slot))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("the %s slot's address %q is not IP:port", slot, d.Listen(slot))
	}
	return ap.Addr().Unmap(), nil
}

// DNSZone is a DNS zone that records of services live in. Either teal
// answers for it itself (Listen), or it sends RFC 2136 updates to the
// server that does (Update).
type DNSZone struct {
	// Name is the zone's apex, lower case, without the final dot.
	Name string `json:"name"`
	// Listen is where teal's own authoritative server for the zone
	// answers, over UDP and TCP.
	Listen string `json:"listen,omitempty"`
	// Update sends changes to an existing server instead.
	Update *DNSUpdate `json:"update,omitempty"`
}

// DNSUpdate says where RFC 2136 updates of a zone go and how they are
// signed (TSIG, RFC 8945).
type DNSUpdate struct {
	Server  string `json:"server"`   // host:port of the primary server
	KeyName string `json:"key_name"` // the TSIG key's name, as the server knows it, without the final dot
	// KeySecret is the key, base64, as tsig-keygen prints it. It is never
	// shown: plans, errors and logs leave it out.
	KeySecret string `json:"key_secret"`
	Algorithm string `json:"algorithm"` // hmac-sha256 …
}

// TSIGAlgorithms lists the TSIG algorithms teal signs updates with.
var TSIGAlgorithms = []string{"hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1"}

// Defaults of the dns block and the dns_zone update block.
const (
	DefaultDNSTTL        = Duration(30 * time.Second)
	DefaultDNSLinger     = Duration(60 * time.Second)
	DefaultTSIGAlgorithm = "hmac-sha256"
)

// NewDNS returns a dns block with its defaults: a 30s TTL and 60s of
// linger, for browsers that keep an answer about a minute.
func NewDNS() *DNS { return &DNS{TTL: DefaultDNSTTL, Linger: DefaultDNSLinger} }

// NewDNSUpdate returns an update block with its default algorithm.
func NewDNSUpdate() *DNSUpdate { return &DNSUpdate{Algorithm: DefaultTSIGAlgorithm} }

// CanonicalName writes a domain name as teal keeps it: lower case,
// without the final dot.
func CanonicalName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// InZone reports whether name is zone or lies below it.
func InZone(name, zone string) bool {
	name, zone = CanonicalName(name), CanonicalName(zone)
	return name == zone || strings.HasSuffix(name, "."+zone)
}

// ZoneOf returns the zone that name lies in: the longest of zones that
// holds it.
func ZoneOf(zones []DNSZone, name string) (DNSZone, bool) {
	var best DNSZone
	found := false
	for _, z := range zones {
		if InZone(name, z.Name) && (!found || len(z.Name) > len(best.Name)) {
			best, found = z, true
		}
	}
	return best, found
}

// DNSZone returns the zone named name, or false.
func (d Desired) DNSZone(name string) (DNSZone, bool) {
	for _, z := range d.DNSZones {
		if z.Name == name {
			return z, true
		}
	}
	return DNSZone{}, false
}

var domainPattern = regexp.MustCompile(`^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)

// checkDomain says what is wrong with a domain name, or nil.
func checkDomain(name string) error {
	if name != CanonicalName(name) || len(name) > 253 || !domainPattern.MatchString(name) {
		return fmt.Errorf("%q is not a domain name; expected lower-case labels of letters, digits and '-' joined by dots, like \"app.example.test\"", name)
	}
	return nil
}

// dnsZones checks the zones of a desired state.
func (v *validator) dnsZones(zones []DNSZone, listens map[string]string) {
	seen := map[string]bool{}
	for _, z := range zones {
		at := "dns_zone." + z.Name
		if err := checkDomain(z.Name); err != nil {
			v.add(at, "%v", err)
		}
		if seen[z.Name] {
			v.add(at, "dns_zone %q is declared twice", z.Name)
		}
		seen[z.Name] = true
		switch {
		case z.Listen == "" && z.Update == nil:
			v.add(at+".listen", "say how the zone is published: listen = \"127.0.0.1:5353\" for teal to answer for it, or an update { … } block for a server that takes RFC 2136 updates")
		case z.Listen != "" && z.Update != nil:
			v.add(at+".listen", "give listen (teal answers for the zone) or an update block (another server does), not both")
		case z.Listen != "":
			v.listen(at+".listen", z.Listen, fmt.Sprintf("the DNS server of zone %q", z.Name), listens)
		}
		if u := z.Update; u != nil {
			v.dnsUpdate(at+".update", *u)
		}
	}
}

func (v *validator) dnsUpdate(at string, u DNSUpdate) {
	if _, _, err := net.SplitHostPort(u.Server); err != nil || u.Server == "" {
		v.add(at+".server", "%q is not an address; expected host:port of the primary server, like \"127.0.0.1:53\"", u.Server)
	}
	if err := checkDomain(u.KeyName); err != nil || u.KeyName == "" {
		v.add(at+".key_name", "%q is not a key name; expected the name of the TSIG key as the server knows it, like \"teal-key.\"", u.KeyName)
	}
	// The message never quotes the secret.
	if b, err := base64.StdEncoding.DecodeString(u.KeySecret); err != nil || len(b) == 0 {
		v.add(at+".key_secret", "is not a TSIG secret; expected base64, as tsig-keygen prints it")
	}
	known := false
	for _, a := range TSIGAlgorithms {
		known = known || u.Algorithm == a
	}
	if !known {
		v.add(at+".algorithm", "%q is not a TSIG algorithm teal knows; expected %s", u.Algorithm, quoteList(TSIGAlgorithms))
	}
}

// serviceSwitch checks a service's switch and, with switch = "dns", its
// dns block against the zones declared and the names other services take.
func (v *validator) serviceSwitch(at string, s Service, zones []DNSZone, names map[string]string, listens map[string]string) {
	known := s.Switch == ""
	for _, k := range Switches {
		known = known || s.Switch == k
	}
	if !known {
		v.add(at+".switch", "%q is not a switch teal knows; expected %s", s.Switch, quoteList(Switches))
		return
	}
	if s.Switch != SwitchDNS {
		if s.DNS != nil {
			v.add(at+".dns", "a dns block is for switch = \"dns\"; this service switches by its load balancer")
		}
		return
	}
	d := s.DNS
	if d == nil {
		v.add(at+".switch", "switch = \"dns\" needs a dns block: the record's name, its ttl, and each slot's address (blue, green)")
		return
	}
	if len(s.Routes) > 0 {
		v.add(at+".route[0]", "a service with switch = \"dns\" is reached at its slots' own addresses (dns.blue, dns.green) by its DNS name; a route on a load balancer would switch at another moment than the record. Remove its route blocks, or use switch = \"load_balancer\"")
	}
	if s.Deploy.Strategy != BlueGreen {
		v.add(at+".deploy.strategy", "a DNS record points at one slot at a time, so switch = \"dns\" deploys by \"blue_green\", not %q", s.Deploy.Strategy)
	}
	if err := checkDomain(d.Name); err != nil {
		v.add(at+".dns.name", "%v", err)
	} else if _, ok := ZoneOf(zones, d.Name); !ok {
		v.add(at+".dns.name", "%q is in no declared dns_zone%s; declare its zone with a dns_zone block", d.Name, zoneList(zones))
	} else if other, dup := names[d.Name]; dup {
		v.add(at+".dns.name", "%q is already the record of %s", d.Name, other)
	} else {
		names[d.Name] = fmt.Sprintf("service %q", s.Name)
	}
	if d.TTL < 0 || d.TTL.D()%time.Second != 0 || d.TTL.D() > math.MaxInt32*time.Second {
		v.add(at+".dns.ttl", "must be whole seconds, from \"0s\" to about 68 years, got %s", d.TTL)
	}
	if d.Linger < 0 {
		v.add(at+".dns.linger", "must not be negative")
	}
	var addrs [2]netip.AddrPort
	for i, slot := range []Slot{Blue, Green} {
		path := at + ".dns." + string(slot)
		ap, err := netip.ParseAddrPort(d.Listen(slot))
		switch {
		case d.Listen(slot) == "":
			v.add(path, "is required: the address of the %s slot's own listener, like \"127.0.0.%d:8080\"", slot, i+2)
			continue
		case err != nil:
			v.add(path, "%q is not IP:port; the record holds the IP, so it must be one, like \"127.0.0.%d:8080\"", d.Listen(slot), i+2)
			continue
		case ap.Addr().IsUnspecified():
			v.add(path, "%q cannot be published: a client cannot connect to %s", d.Listen(slot), ap.Addr())
			continue
		}
		addrs[i] = ap
		v.listen(path, d.Listen(slot), fmt.Sprintf("the %s slot of service %q", slot, s.Name), listens)
	}
	if addrs[0].IsValid() && addrs[1].IsValid() {
		if addrs[0].Addr() == addrs[1].Addr() {
			v.add(at+".dns.green", "must be another IP than blue's (%s): the record tells the slots apart by address", addrs[0].Addr())
		}
		if addrs[0].Port() != addrs[1].Port() {
			v.add(at+".dns.green", "must have blue's port (%d): a DNS record carries an address, not a port, so clients keep the port they use", addrs[0].Port())
		}
	}
}

func zoneList(zones []DNSZone) string {
	if len(zones) == 0 {
		return " (none is declared)"
	}
	names := make([]string, len(zones))
	for i, z := range zones {
		names[i] = fmt.Sprintf("%q", z.Name)
	}
	return " (declared: " + strings.Join(names, ", ") + ")"
}
