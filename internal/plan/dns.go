package plan

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

// diffZones compares the DNS zones, as diffLoadBalancers does the load
// balancers. A zone's TSIG secret is compared but never shown.
func diffZones(want, have []spec.DNSZone) []Change {
	return kind[spec.DNSZone]{
		typ:     "dns_zone",
		name:    func(z spec.DNSZone) string { return z.Name },
		flatten: flattenZone,
		created: publishes,
		updated: func(_, z spec.DNSZone) string {
			return publishes(z) + "; the records of its services are published there again"
		},
		deleted: func(z spec.DNSZone) string {
			if z.Listen != "" {
				return "stops answering for " + z.Name + " on " + z.Listen
			}
			return "stops updating " + z.Name + " at " + z.Update.Server + "; the records there stay as they are"
		},
	}.diff(want, have)
}

func publishes(z spec.DNSZone) string {
	if z.Listen != "" {
		return fmt.Sprintf("teal answers for %s on %s (UDP and TCP)", z.Name, z.Listen)
	}
	return fmt.Sprintf("records in %s are sent to %s as RFC 2136 updates signed with the TSIG key %s", z.Name, z.Update.Server, z.Update.KeyName)
}

// flattenZone lists a zone's attributes; key_secret is always shown as
// sensitive, and compared by its value.
func flattenZone(z spec.DNSZone) []attr {
	var out []attr
	add := func(path, value string) { out = append(out, attr{path: path, value: value, raw: value}) }
	if z.Listen != "" {
		add("listen", quote(z.Listen))
	}
	if u := z.Update; u != nil {
		add("update.server", quote(u.Server))
		add("update.key_name", quote(u.KeyName))
		out = append(out, attr{path: "update.key_secret", value: spec.RedactedValue, raw: u.KeySecret})
		add("update.algorithm", quote(u.Algorithm))
	}
	return out
}

// flattenDNS adds a service's switch and dns block, when it has them.
func flattenDNS(s spec.Service, add func(path, value string, template bool)) {
	if s.Switch != "" {
		add("switch", quote(string(s.Switch)), false)
	}
	if d := s.DNS; d != nil {
		add("dns.name", quote(d.Name), false)
		add("dns.ttl", quote(d.TTL.String()), false)
		add("dns.blue", quote(d.Blue), false)
		add("dns.green", quote(d.Green), false)
		add("dns.linger", quote(d.Linger.String()), false)
		add("dns.failover", strconv.FormatBool(d.Failover), false)
	}
}

// pointsAt says where a service's record points while slot is live.
func pointsAt(s spec.Service, slot spec.Slot) string {
	addr := s.DNS.Listen(slot)
	if a, err := s.DNS.Addr(slot); err == nil {
		addr = a.String()
	}
	return fmt.Sprintf("points %s at %s (ttl %s)", s.DNS.Name, addr, s.DNS.TTL)
}

// dnsDeployTraffic says what a deployment of a service that switches by
// DNS does: the candidate is checked through its own listener, the record
// changes, and the old slot keeps serving until its clients have moved.
func dnsDeployTraffic(s spec.Service, revision int, why string, slot spec.Slot, liveRevision int, liveSlot spec.Slot) []string {
	lines := []string{fmt.Sprintf("deploys revision %d%s by blue_green: starts %s in the %s slot, and once %s healthy and answer%s through %s, %s",
		revision, why, instances(s.DesiredCount), slot, are(s.DesiredCount), plural1(s.DesiredCount), s.DNS.Listen(slot), pointsAt(s, slot))}
	if liveRevision != 0 {
		lines = append(lines, fmt.Sprintf("then revision %d in %s keeps serving %s for at least %s (ttl + linger) and until its requests stop, is drained (up to %s) and kept warm for %s for an instant rollback",
			liveRevision, liveSlot, s.DNS.Listen(liveSlot), spec.Duration(s.DNS.TTL+s.DNS.Linger), s.Deploy.DrainTimeout, s.Deploy.KeepPrevious))
	}
	return lines
}

// dnsChanged says what a change of a live service's switch or dns block
// does in place, or "" when neither changed.
func dnsChanged(old, s spec.Service, liveSlot spec.Slot) string {
	if old.Switch == s.Switch && (old.DNS == nil) == (s.DNS == nil) && (old.DNS == nil || *old.DNS == *s.DNS) {
		return ""
	}
	var parts []string
	if old.ByDNS() && (!s.ByDNS() || old.DNS.Name != s.DNS.Name) {
		parts = append(parts, "removes the record "+old.DNS.Name)
	}
	if s.ByDNS() {
		parts = append(parts, "opens or moves the slot listeners ("+s.DNS.Blue+", "+s.DNS.Green+")")
		if liveSlot != "" {
			parts = append(parts, pointsAt(s, liveSlot))
		}
	}
	if len(parts) == 0 {
		return "changes how the next deployment switches; nothing restarts"
	}
	return "changes DNS in place: " + strings.Join(parts, ", ")
}

func plural1(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

// RenderDNSZone writes a DNS zone's attributes; its TSIG secret is not
// shown.
func RenderDNSZone(w io.Writer, z spec.DNSZone) {
	renderAttrs(w, "dns_zone", z.Name, flattenZone(z))
}
