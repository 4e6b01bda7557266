package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

// globRegexp is the obvious, slow meaning of an ALB pattern, to check the
// fast matcher against. An empty pattern (a route without a host) matches
// everything.
func globRegexp(p string) *regexp.Regexp {
	if p == "" {
		p = "*"
	}
	var b strings.Builder
	b.WriteString(`^(?s)`)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func FuzzPatternMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"/*", "/a"}, {"/api/*", "/api"}, {"/reporting*", "/reporting/q"}, {"*.example.com", "a.example.com"},
		{"/v?/x", "/v1/x"}, {"*a*a*b", "aaaaaaaaaaaa"}, {"", ""}, {"?", ""}, {"**", "x"}, {"/a*b?c*", "/axxbyczz"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		if len(pattern) > 64 || len(s) > 256 || !ascii(pattern) || !ascii(s) {
			return
		}
		got := compilePattern(pattern).match(s)
		if want := globRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("pattern %q on %q: matcher says %v, its meaning says %v", pattern, s, got, want)
		}
	})
}

// The routing table, built from any routes, answers any request without
// panicking, and with the first route, in priority order, that matches.
func FuzzRouter(f *testing.F) {
	f.Add("/api/*", "*.example.com", 10, "/*", "", 0, "shop.example.com", "/api/x")
	f.Add("/reporting*", "", 0, "/*", "", 0, "x", "/reporting")
	f.Add("", "", 0, "?", "??", 3, "ab", "/")
	f.Fuzz(func(t *testing.T, p1, h1 string, pr1 int, p2, h2 string, pr2 int, host, path string) {
		p := New(Options{Log: discard()})
		p.SetService(service("one", spec.Route{LoadBalancer: "lb", Path: p1, Host: h1, Priority: pr1}))
		p.SetService(service("two", spec.Route{LoadBalancer: "lb", Path: p2, Host: h2, Priority: pr2}))
		tb := p.table.Load()
		got := tb.match("lb", hostOnly(host), path)
		var want *route
		for _, r := range tb.routes.lbs["lb"].all {
			if r.host.match(hostOnly(host)) && r.path.match(path) {
				want = r
				break
			}
		}
		if got != want {
			t.Fatalf("match = %v, want %v", got, want)
		}
		if got != nil {
			tb.backend(got).pick(nil, false) // no pools: must not panic
		}
	})
}

// Whatever the fast path forwards, net/http reads the same way: the same
// method, target, host, body length and wish to close. A request the fast
// path is not sure of is marked slow and left to net/http, so this is
// the whole of its defence against request smuggling.
func FuzzRequestHead(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /x?y=1 HTTP/1.1\r\nHost: a.test:8080\r\nContent-Length: 3\r\nConnection: keep-alive, close\r\n\r\nabc"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 01\r\nX: y\r\n\r\n"))
	f.Add([]byte("GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\nHost: a\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r h1Request
		n := parseRequestHead(raw, &r)
		if n == 0 || r.slow != "" {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw[:n])))
		if err != nil {
			t.Fatalf("the fast path forwards %q, which net/http refuses: %v", raw[:n], err)
		}
		cl := r.contentLength
		if cl < 0 {
			cl = 0
		}
		if req.Method != string(r.method) || req.RequestURI != string(r.target) || req.Host != string(r.host) ||
			req.ContentLength != cl || req.Close != r.close || len(req.TransferEncoding) != 0 {
			t.Fatalf("%q: fast path read %s %s host %q length %d close %v; net/http %s %s host %q length %d close %v",
				raw[:n], r.method, r.target, r.host, r.contentLength, r.close,
				req.Method, req.RequestURI, req.Host, req.ContentLength, req.Close)
		}
		if req.URL.Path != string(r.path) {
			t.Fatalf("%q: fast path routes on %q, net/http on %q", raw[:n], r.path, req.URL.Path)
		}
	})
}

// A response head the fast path accepts is one net/http reads the same
// way: status, and how its body is framed.
func FuzzResponseHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 204 No Content\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r h1Response
		n := parseResponseHead(raw, &r)
		if n <= 0 {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw[:n])), nil)
		if err != nil {
			t.Fatalf("the fast path accepts %q, which net/http refuses: %v", raw[:n], err)
		}
		chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
		if resp.StatusCode != r.status || chunked != r.chunked ||
			(!r.chunked && !bodiless(nil, r.status) && r.contentLength >= 0 && resp.ContentLength != r.contentLength) {
			t.Fatalf("%q: fast path read %d chunked %v length %d; net/http %d %v length %d",
				raw[:n], r.status, r.chunked, r.contentLength, resp.StatusCode, resp.TransferEncoding, resp.ContentLength)
		}
	})
}
