package dns

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/dns/bindtest"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", "example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// query asks s over net ("udp" or "tcp") and returns the answer.
func query(t *testing.T, addr, net, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	c := &mdns.Client{Net: net, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", net, name, mdns.TypeToString[qtype], err)
	}
	return r
}

// Real queries, over UDP and over TCP, get what an authoritative server
// answers: the record with its TTL, NODATA and NXDOMAIN with the SOA,
// REFUSED outside the zone, the SOA and NS at the apex.
func TestServerAnswers(t *testing.T) {
	s := startServer(t)
	if err := s.Set(Record{Name: "app.example.test", Addr: netip.MustParseAddr("127.0.0.2"), TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(Record{Name: "v6.deep.example.test.", Addr: netip.MustParseAddr("::1"), TTL: 0}); err != nil {
		t.Fatal(err)
	}
	for _, net := range []string{"udp", "tcp"} {
		t.Run(net, func(t *testing.T) {
			tests := []struct {
				name      string
				qtype     uint16
				rcode     int
				answer    string // the first answer, as miekg/dns prints it with tabs made spaces; "" for none
				authority bool   // the SOA in the authority section
			}{
				{"app.example.test.", mdns.TypeA, mdns.RcodeSuccess, "app.example.test. 30 IN A 127.0.0.2", false},
				{"APP.Example.TEST.", mdns.TypeA, mdns.RcodeSuccess, "APP.Example.TEST. 30 IN A 127.0.0.2", false}, // 0x20: the case asked
				{"app.example.test.", mdns.TypeAAAA, mdns.RcodeSuccess, "", true},                                  // NODATA
				{"app.example.test.", mdns.TypeMX, mdns.RcodeSuccess, "", true},
				{"v6.deep.example.test.", mdns.TypeAAAA, mdns.RcodeSuccess, "v6.deep.example.test. 0 IN AAAA ::1", false},
				{"deep.example.test.", mdns.TypeA, mdns.RcodeSuccess, "", true}, // an empty non-terminal is NODATA (RFC 8020)
				{"nope.example.test.", mdns.TypeA, mdns.RcodeNameError, "", true},
				{"a.nope.example.test.", mdns.TypeAAAA, mdns.RcodeNameError, "", true},
				{"other.test.", mdns.TypeA, mdns.RcodeRefused, "", false},
				{"example.test.", mdns.TypeA, mdns.RcodeSuccess, "", true},
				{"example.test.", mdns.TypeNS, mdns.RcodeSuccess, "example.test. 300 IN NS ns.example.test.", false},
				{"ns.example.test.", mdns.TypeA, mdns.RcodeSuccess, "ns.example.test. 300 IN A 127.0.0.1", false},
				{"example.test.", mdns.TypeAXFR, mdns.RcodeRefused, "", false},
			}
			for _, tt := range tests {
				r := query(t, s.Addr(), net, tt.name, tt.qtype)
				what := tt.name + " " + mdns.TypeToString[tt.qtype]
				if r.Rcode != tt.rcode {
					t.Errorf("%s: rcode %s, want %s", what, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tt.rcode])
				}
				if r.RecursionAvailable {
					t.Errorf("%s: RA set; teal does not recurse", what)
				}
				if tt.rcode != mdns.RcodeRefused && !r.Authoritative {
					t.Errorf("%s: AA not set", what)
				}
				got := ""
				if len(r.Answer) > 0 {
					got = strings.Join(strings.Fields(r.Answer[0].String()), " ")
				}
				if got != tt.answer {
					t.Errorf("%s: answer %q, want %q", what, got, tt.answer)
				}
				hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == mdns.TypeSOA
				if hasSOA != tt.authority {
					t.Errorf("%s: authority %v, want the SOA: %v", what, r.Ns, tt.authority)
				}
				if hasSOA && r.Ns[0].Header().Ttl != negativeTTL {
					t.Errorf("%s: the SOA's TTL in a negative answer is %d, want the negative TTL %d", what, r.Ns[0].Header().Ttl, negativeTTL)
				}
			}
			r := query(t, s.Addr(), net, "example.test.", mdns.TypeSOA)
			if len(r.Answer) != 1 {
				t.Fatalf("SOA: %v", r)
			}
			if soa := r.Answer[0].(*mdns.SOA); soa.Ns != "ns.example.test." || soa.Minttl != negativeTTL {
				t.Errorf("SOA %v", soa)
			}
		})
	}
}

// A change is seen by the next query and moves the SOA serial on; a
// deleted name is NXDOMAIN again; an update to teal's own server is not
// implemented: it is changed only by deployments.
func TestServerChanges(t *testing.T) {
	s := startServer(t)
	serial := func() uint32 {
		r := query(t, s.Addr(), "udp", "example.test.", mdns.TypeSOA)
		return r.Answer[0].(*mdns.SOA).Serial
	}
	first := serial()
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "::2"} {
		if err := s.Set(Record{Name: "app.example.test", Addr: netip.MustParseAddr(ip), TTL: time.Duration(i+1) * time.Second}); err != nil {
			t.Fatal(err)
		}
		qtype := mdns.TypeA
		if strings.Contains(ip, ":") {
			qtype = mdns.TypeAAAA
			if r := query(t, s.Addr(), "udp", "app.example.test.", mdns.TypeA); len(r.Answer) != 0 {
				t.Errorf("the A record is still there after the name moved to IPv6: %v", r.Answer)
			}
		}
		r := query(t, s.Addr(), "udp", "app.example.test.", qtype)
		if len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), ip) || r.Answer[0].Header().Ttl != uint32(i+1) {
			t.Fatalf("after setting %s: %v", ip, r.Answer)
		}
	}
	if now := serial(); now <= first {
		t.Errorf("serial %d after three changes, was %d", now, first)
	}
	if err := s.Delete("app.example.test"); err != nil {
		t.Fatal(err)
	}
	if r := query(t, s.Addr(), "tcp", "app.example.test.", mdns.TypeAAAA); r.Rcode != mdns.RcodeNameError {
		t.Errorf("after delete: %s", mdns.RcodeToString[r.Rcode])
	}
	if err := s.Set(Record{Name: "app.other.test", Addr: netip.MustParseAddr("127.0.0.2")}); err == nil {
		t.Error("a name outside the zone was accepted")
	}

	up := new(mdns.Msg)
	up.SetUpdate("example.test.")
	up.Insert([]mdns.RR{Record{Addr: netip.MustParseAddr("10.0.0.1"), TTL: time.Second}.rr("evil.example.test.")})
	r, _, err := (&mdns.Client{Timeout: 5 * time.Second}).Exchange(up, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("an update to teal's own server: %s, want NOTIMP", mdns.RcodeToString[r.Rcode])
	}
	if _, ok := s.Lookup("evil.example.test"); ok {
		t.Error("the update changed the zone")
	}
}

// dig, the tool people use, sees the record and its TTL over UDP and TCP.
func TestServerWithDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		bindtest.Missing(t, "dig")
	}
	s := startServer(t)
	if err := s.Set(Record{Name: "app.example.test", Addr: netip.MustParseAddr("127.0.0.3"), TTL: 42 * time.Second}); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, s.Addr())
	for _, transport := range []string{"+notcp", "+tcp"} {
		out, err := exec.Command(dig, "@"+host, "-p", port, transport, "+norecurse", "+noall", "+answer", "+comments", "app.example.test", "A").CombinedOutput()
		if err != nil {
			t.Fatalf("dig %s: %v\n%s", transport, err, out)
		}
		text := string(out)
		if !strings.Contains(text, "status: NOERROR") || !strings.Contains(text, "flags: qr aa") {
			t.Errorf("dig %s: not an authoritative NOERROR:\n%s", transport, text)
		}
		found := false
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			found = found || len(f) == 5 && f[0] == "app.example.test." && f[1] == "42" && f[3] == "A" && f[4] == "127.0.0.3"
		}
		if !found {
			t.Errorf("dig %s: no answer app.example.test. 42 IN A 127.0.0.3:\n%s", transport, text)
		}
	}
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr().String(), strings.TrimPrefix(addr, ap.Addr().String()+":")
}
