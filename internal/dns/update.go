package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/spec"
)

// updateTimeout bounds one update, sent over TCP.
const updateTimeout = 10 * time.Second

// Updater changes the records of a zone on a server that takes RFC 2136
// dynamic updates, each signed with a TSIG key (RFC 8945). One update is
// one message, which the server applies whole or not at all.
type Updater struct {
	zone   string // fully qualified
	server string
	key    string // fully qualified key name
	secret string // base64; never put in an error or a log
	algo   string // fully qualified algorithm name, as TSIG writes it
}

// NewUpdater returns an updater of zone as u says.
func NewUpdater(zone string, u spec.DNSUpdate) *Updater {
	return &Updater{zone: fqdn(zone), server: u.Server, key: fqdn(u.KeyName), secret: u.KeySecret, algo: fqdn(u.Algorithm)}
}

// UpdateError is an update that the server answered with something other
// than success, or that could not be sent; it says what the server said.
// It never holds the key's secret.
type UpdateError struct {
	Zone, Server string
	What         string // what was asked: "set app.example.test. A 127.0.0.2 (ttl 30)"
	Rcode        int    // -1 when no answer came
	TSIG         string // the server's TSIG error (BADSIG, BADKEY, BADTIME), if any
	Err          error  // when no answer came
}

func (e *UpdateError) Error() string {
	s := fmt.Sprintf("dns update of zone %s at %s (%s)", e.Zone, e.Server, e.What)
	switch {
	case e.Err != nil:
		return s + ": " + e.Err.Error()
	case e.TSIG != "":
		return fmt.Sprintf("%s: the server answered %s, TSIG error %s: check key_name, key_secret and algorithm", s, mdns.RcodeToString[e.Rcode], e.TSIG)
	case e.Rcode == mdns.RcodeRefused:
		return s + ": the server answered REFUSED: it does not allow this key to update this name"
	case e.Rcode == mdns.RcodeNotAuth:
		return s + ": the server answered NOTAUTH: it is not authoritative for the zone, or did not accept the key"
	default:
		return fmt.Sprintf("%s: the server answered %s", s, mdns.RcodeToString[e.Rcode])
	}
}

func (e *UpdateError) Unwrap() error { return e.Err }

// Set makes r the only address record of its name: the A and AAAA RRsets
// of the name are removed and r added, in one update.
func (u *Updater) Set(ctx context.Context, r Record) error {
	name := fqdn(r.Name)
	m := new(mdns.Msg)
	m.SetUpdate(u.zone)
	m.RemoveRRset([]mdns.RR{rrset(name, mdns.TypeA), rrset(name, mdns.TypeAAAA)})
	m.Insert([]mdns.RR{r.rr(name)})
	return u.send(ctx, m, fmt.Sprintf("set %s %s %s, ttl %d", name, mdns.TypeToString[r.qtype()], r.Addr, seconds(r.TTL)))
}

// Delete removes the A and AAAA records of name.
func (u *Updater) Delete(ctx context.Context, name string) error {
	name = fqdn(name)
	m := new(mdns.Msg)
	m.SetUpdate(u.zone)
	m.RemoveRRset([]mdns.RR{rrset(name, mdns.TypeA), rrset(name, mdns.TypeAAAA)})
	return u.send(ctx, m, "delete "+name)
}

func rrset(name string, t uint16) mdns.RR {
	return &mdns.ANY{Hdr: mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassANY}}
}

// send signs m and sends it over TCP; it succeeds only when the server
// answers NOERROR with a signature that checks out.
func (u *Updater) send(ctx context.Context, m *mdns.Msg, what string) error {
	fail := &UpdateError{Zone: u.zone, Server: u.server, What: what, Rcode: -1}
	m.SetTsig(u.key, u.algo, 300, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", Timeout: updateTimeout, TsigSecret: map[string]string{u.key: u.secret}}
	ctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	r, _, err := c.ExchangeContext(ctx, m, u.server)
	if r != nil {
		if t := r.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
			fail.TSIG = mdns.RcodeToString[int(t.Error)]
		}
		if r.Rcode != mdns.RcodeSuccess || fail.TSIG != "" {
			fail.Rcode = r.Rcode
			return fail
		}
	}
	if err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, mdns.ErrSig), errors.Is(err, mdns.ErrSecret), errors.Is(err, mdns.ErrTime):
			fail.Err = fmt.Errorf("the answer's TSIG signature does not check out (%w): is key_secret the server's?", err)
		case errors.As(err, &ne) && ne.Timeout():
			fail.Err = fmt.Errorf("no answer within %s", updateTimeout)
		default:
			fail.Err = err
		}
		return fail
	}
	return nil
}
