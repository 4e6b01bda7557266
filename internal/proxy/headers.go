package proxy

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

// RequestIDHeader carries the ID that ties a request's log lines together
// across teal and the instance.
const RequestIDHeader = "X-Request-Id"

// reqInfo is what the listener learned about a request, for the rewrite
// of its headers and for the access log.
type reqInfo struct {
	peer      netip.Addr // the address the connection came from
	client    string     // the client, believed from X-Forwarded-For only through trusted proxies
	trusted   bool       // the peer is a trusted proxy: keep its X-Forwarded-* and Forwarded
	proto     string     // "http" or "https", as the client spoke to the first proxy
	requestID string
	retried   bool      // a retry on another instance has been made
	target    *Target   // the instance the request went to (last)
	backend   *backend  // the service's pools, for a retry
	failed    []*Target // instances that gave no answer
	body      *clientBody
}

type reqInfoKey struct{}

func withInfo(r *http.Request, info *reqInfo) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
}

func infoOf(r *http.Request) *reqInfo {
	info, _ := r.Context().Value(reqInfoKey{}).(*reqInfo)
	return info
}

// inspect works out who sent r, how, and under which request ID.
func inspect(r *http.Request, trusted []netip.Prefix) *reqInfo {
	info := &reqInfo{proto: "http"}
	if r.TLS != nil {
		info.proto = "https"
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		info.peer = ap.Addr().Unmap()
	}
	info.client = info.peer.String()
	info.trusted = isTrusted(info.peer, trusted)
	if info.trusted {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			info.proto = p
		}
		info.client = clientFrom(r.Header.Values("X-Forwarded-For"), trusted, info.client)
	}
	info.requestID = r.Header.Get(RequestIDHeader)
	if !validRequestID(info.requestID) {
		info.requestID = newRequestID()
	}
	return info
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientFrom walks X-Forwarded-For from the right, past the trusted
// proxies, to the first address that is not one: the client as far as
// anyone trustworthy can tell.
func clientFrom(xff []string, trusted []netip.Prefix, peer string) string {
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break // not an address: stop believing what is left of it
		}
		client = a.Unmap().String()
		if !isTrusted(a.Unmap(), trusted) {
			break
		}
	}
	return client
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 200 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// validRequestIDBytes is validRequestID for the fast path.
func validRequestIDBytes(id []byte) bool { return validRequestID(bstr(id)) }

func newRequestID() string { return string(appendRequestID(nil)) }

// appendRequestID appends a new request ID: 128 random bits in hex. They
// come from the runtime's ChaCha8 generator, seeded by the system's, which
// needs no system call per request as crypto/rand may; an ID must be
// unique, not secret.
func appendRequestID(b []byte) []byte {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	return hex.AppendEncode(b, raw[:])
}

// setForwarded writes X-Forwarded-For, -Host, -Proto and Forwarded on
// the request to the instance. httputil.ReverseProxy has already dropped
// what the client sent: from a trusted proxy it is put back and extended;
// from anyone else it is not believed, since a client could claim any
// address.
func setForwarded(pr *httputil.ProxyRequest) {
	info := infoOf(pr.In)
	if info == nil {
		pr.SetXForwarded()
		return
	}
	peer := info.peer.String()
	in, out := pr.In.Header, pr.Out.Header
	xff, host, proto, fwd := peer, pr.In.Host, info.proto, forwardedElement(info.peer, pr.In.Host, info.proto)
	if info.trusted {
		if prior := strings.Join(in.Values("X-Forwarded-For"), ", "); prior != "" {
			xff = prior + ", " + peer
		}
		if h := in.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
		if prior := strings.Join(in.Values("Forwarded"), ", "); prior != "" {
			fwd = prior + ", " + fwd
		}
	}
	out.Set("X-Forwarded-For", xff)
	out.Set("X-Forwarded-Host", host)
	out.Set("X-Forwarded-Proto", proto)
	out.Set("Forwarded", fwd)
	out.Set(RequestIDHeader, info.requestID)
}

// forwardedElement is one element of an RFC 7239 Forwarded header.
func forwardedElement(peer netip.Addr, host, proto string) string {
	var b strings.Builder
	b.WriteString("for=")
	if peer.Is6() {
		b.WriteString(`"[` + peer.String() + `]"`)
	} else {
		b.WriteString(peer.String())
	}
	if host != "" {
		b.WriteString(";host=")
		if strings.ContainsAny(host, ":[]") {
			b.WriteString(`"` + host + `"`)
		} else {
			b.WriteString(host)
		}
	}
	b.WriteString(";proto=" + proto)
	return b.String()
}

// trustedPrefixes parses what spec.Validate has checked.
func trustedPrefixes(ss []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := spec.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// hostPort splits a Host header; the port is "" when there is none.
func hostPort(h string) (string, string) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		return h, ""
	}
	return host, port
}
