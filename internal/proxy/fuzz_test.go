package proxy

import (
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
