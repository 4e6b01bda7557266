// Package dns publishes the records of services that switch by DNS: teal's
// own authoritative server for a zone (UDP and TCP, built on
// github.com/miekg/dns), or RFC 2136 updates signed with TSIG to a server
// that already answers for it, such as BIND. A Publisher puts both behind
// one small interface: point this name at that address, with this TTL.
package dns

import (
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Record is one name's address: an A record for an IPv4 address, AAAA
// for IPv6.
type Record struct {
	Name string // fully qualified, with or without the final dot
	Addr netip.Addr
	TTL  time.Duration
}

// rr returns the record as miekg/dns writes it, owned by name.
func (r Record) rr(name string) mdns.RR {
	hdr := mdns.RR_Header{Name: name, Class: mdns.ClassINET, Ttl: seconds(r.TTL)}
	if r.Addr.Unmap().Is4() {
		hdr.Rrtype = mdns.TypeA
		return &mdns.A{Hdr: hdr, A: r.Addr.Unmap().AsSlice()}
	}
	hdr.Rrtype = mdns.TypeAAAA
	return &mdns.AAAA{Hdr: hdr, AAAA: r.Addr.AsSlice()}
}

// qtype is the type of the record's RRset.
func (r Record) qtype() uint16 {
	if r.Addr.Unmap().Is4() {
		return mdns.TypeA
	}
	return mdns.TypeAAAA
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

// fqdn writes name as DNS messages compare it: lower case, with the final
// dot.
func fqdn(name string) string { return mdns.Fqdn(strings.ToLower(strings.TrimSpace(name))) }

// The zone's own records. Their TTLs are not configurable: the SOA and NS
// records never change while teal serves the zone, and the negative TTL
// is short so that a name queried before its first deployment is not
// remembered as missing for long (RFC 2308: a negative answer is cached
// for the SOA's TTL or its minimum, whichever is lower).
const (
	zoneTTL     = 300 // SOA, NS and the name server's address
	negativeTTL = 5   // SOA minimum
)

// zoneData is one immutable state of a zone: its records by name. A change
// makes a new one, swapped in atomically, so queries take no lock.
type zoneData struct {
	apex    string            // fully qualified, lower case
	ns      netip.Addr        // the address of teal's own server, for ns.<zone>
	serial  uint32            // grows with every change
	records map[string]Record // by fully qualified lower-case name
}

// soa is the zone's SOA record.
func (z *zoneData) soa() *mdns.SOA {
	return &mdns.SOA{
		Hdr:     mdns.RR_Header{Name: z.apex, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: zoneTTL},
		Ns:      "ns." + z.apex,
		Mbox:    "hostmaster." + z.apex,
		Serial:  z.serial,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  negativeTTL,
	}
}

// rrsets returns every record owned by name (fully qualified, lower case).
func (z *zoneData) rrsets(name string) []mdns.RR {
	var out []mdns.RR
	if name == z.apex {
		out = append(out, z.soa(), &mdns.NS{
			Hdr: mdns.RR_Header{Name: z.apex, Rrtype: mdns.TypeNS, Class: mdns.ClassINET, Ttl: zoneTTL},
			Ns:  "ns." + z.apex,
		})
	}
	if r, ok := z.records[name]; ok {
		out = append(out, r.rr(name))
	} else if name == "ns."+z.apex && z.ns.IsValid() {
		out = append(out, Record{Addr: z.ns, TTL: zoneTTL * time.Second}.rr(name))
	}
	return out
}

// exists reports whether name owns records or lies above a name that does
// (an empty non-terminal, which RFC 8020 says is NODATA, not NXDOMAIN).
func (z *zoneData) exists(name string) bool {
	if len(z.rrsets(name)) > 0 {
		return true
	}
	for n := range z.records {
		if strings.HasSuffix(n, "."+name) {
			return true
		}
	}
	return strings.HasSuffix("ns."+z.apex, "."+name) && z.ns.IsValid()
}

// answer makes the reply to a query, as an authoritative-only server does:
// the records asked for with AA set; NODATA (NOERROR with no answer) or
// NXDOMAIN with the SOA in the authority section when there are none;
// REFUSED for a name outside the zone or a zone transfer; NOTIMP for
// anything but a query; FORMERR for a message that is not one question.
func answer(z *zoneData, req *mdns.Msg) *mdns.Msg {
	m := new(mdns.Msg)
	if req.Opcode != mdns.OpcodeQuery {
		return m.SetRcode(req, mdns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 || req.Response {
		return m.SetRcodeFormatError(req)
	}
	m.SetReply(req)
	m.RecursionAvailable = false
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		m.Rcode = mdns.RcodeRefused
		return m
	}
	if !mdns.IsSubDomain(z.apex, name) {
		m.Rcode = mdns.RcodeRefused // not ours, and teal does not recurse
		return m
	}
	if q.Qtype == mdns.TypeAXFR || q.Qtype == mdns.TypeIXFR {
		m.Rcode = mdns.RcodeRefused // the zone is not offered for transfer
		return m
	}
	m.Authoritative = true
	for _, rr := range z.rrsets(name) {
		if q.Qtype == mdns.TypeANY || rr.Header().Rrtype == q.Qtype {
			rr.Header().Name = q.Name // as asked: resolvers may randomise the case (DNS 0x20)
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(m.Answer) > 0 {
		if q.Qtype == mdns.TypeNS && z.ns.IsValid() {
			m.Extra = append(m.Extra, z.rrsets("ns."+z.apex)...) // glue
		}
		return m
	}
	if !z.exists(name) {
		m.Rcode = mdns.RcodeNameError
	}
	soa := z.soa()
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	m.Ns = append(m.Ns, soa)
	return m
}
