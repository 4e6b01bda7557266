package proxy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"/*", "/", true},
		{"/*", "/anything/at/all", true},
		{"*", "", true},
		{"/reporting*", "/reporting", true},
		{"/reporting*", "/reporting/q1", true},
		{"/reporting*", "/reportingx", true},
		{"/reporting*", "/report", false},
		{"/api/*", "/api/", true},
		{"/api/*", "/api/users/1", true},
		{"/api/*", "/api", false},
		{"/api/*/items", "/api/7/items", true},
		{"/api/*/items", "/api/7/8/items", true},
		{"/api/*/items", "/api/7/item", false},
		{"/v?/x", "/v1/x", true},
		{"/v?/x", "/v10/x", false},
		{"/exact", "/exact", true},
		{"/exact", "/exact/", false},
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"www.*.com", "www.shop.com", true},
		{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tt := range tests {
		if got := compilePattern(tt.pattern).match(tt.s); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM:8080": "example.com",
		"example.com":      "example.com",
		"example.com.":     "example.com",
		"[::1]:80":         "[::1]",
		"[::1]":            "[::1]",
		"127.0.0.1:80":     "127.0.0.1",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

// Routes are tried by priority, lowest first, then those without one,
// most specific first: what an ALB user and an nginx user both expect.
func TestRouteOrder(t *testing.T) {
	routes := map[string]spec.Route{
		"catchall":  {Path: "/*"},
		"reporting": {Path: "/reporting*"},
		"api":       {Path: "/api/*"},
		"apiv2":     {Path: "/api/v2/*"},
		"shop":      {Host: "shop.example.com", Path: "/*"},
		"wild":      {Host: "*.example.com", Path: "/*"},
		"exact":     {Path: "/health"},
		"first":     {Path: "/*", Priority: 1},
		"tenth":     {Path: "/api/*", Priority: 10},
	}
	var rs []*route
	for name, r := range routes {
		rs = append(rs, compileRoute(name, 0, r))
	}
	orderRoutes(rs)
	var got []string
	for _, r := range rs {
		got = append(got, r.service)
	}
	want := []string{"first", "tenth", "shop", "wild", "reporting", "apiv2", "exact", "api", "catchall"}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v\nwant    %v", got, want)
		}
	}
}

func TestTableMatch(t *testing.T) {
	p := New(Options{Log: discard()})
	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
	p.SetService(service("reporting", spec.Route{LoadBalancer: "public", Path: "/reporting*"}))
	p.SetService(service("admin", spec.Route{LoadBalancer: "public", Host: "admin.example.com", Path: "/*", Priority: 5}))
	p.SetService(service("internal", spec.Route{LoadBalancer: "internal", Path: "/*"}))
	tests := []struct{ lb, host, path, want string }{
		{"public", "example.com", "/", "web"},
		{"public", "example.com", "/reporting/q1", "reporting"},
		{"public", "admin.example.com", "/reporting/q1", "admin"},
		{"internal", "admin.example.com", "/", "internal"},
		{"nope", "example.com", "/", ""},
	}
	for _, tt := range tests {
		r := p.table.Load().match(tt.lb, tt.host, tt.path)
		got := ""
		if r != nil {
			got = r.service
		}
		if got != tt.want {
			t.Errorf("%s %s%s went to %q, want %q", tt.lb, tt.host, tt.path, got, tt.want)
		}
	}
}

// The route index answers as trying every route in order would, for
// random tables of every kind of pattern.
func TestRouteIndexAgreesWithOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hosts := []string{"", "*", "a.test", "b.test", "*.test", "*.a.test", "a.*", "?.test", "*a*", "A.TEST"}
	paths := []string{"", "/*", "/", "/a", "/a/*", "/a*", "/ab", "/ab/*", "/*/b", "/a?", "/b/*", "/b"}
	reqHosts := []string{"a.test", "b.test", "x.a.test", "a.other", "c.test", "test", ""}
	reqPaths := []string{"/", "/a", "/a/", "/ab", "/ab/c", "/a/b", "/b", "/b/c", "/c", "/ax"}
	for round := range 200 {
		var rs []*route
		for i := range 1 + rng.IntN(30) {
			rs = append(rs, compileRoute(fmt.Sprintf("s%02d", i), i, spec.Route{
				Host: hosts[rng.IntN(len(hosts))], Path: paths[rng.IntN(len(paths))], Priority: rng.IntN(3) * 5,
			}))
		}
		orderRoutes(rs)
		ix := newRouteIndex(rs)
		for _, h := range reqHosts {
			for _, p := range reqPaths {
				var want *route
				for _, r := range rs {
					if r.match(h, p) {
						want = r
						break
					}
				}
				if got := ix.match(h, p); got != want {
					t.Fatalf("round %d: %s%s: index found %+v, order says %+v", round, h, p, got, want)
				}
			}
		}
	}
}
