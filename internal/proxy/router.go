package proxy

import (
	"sort"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

// pattern is a compiled ALB-style pattern: '*' matches any run of
// characters (including none) and '?' exactly one. Most patterns are a
// literal or a literal followed by one '*', and match without the general
// matcher.
type pattern struct {
	raw     string
	kind    patternKind
	literal string // for exact and prefix
}

type patternKind uint8

const (
	matchAny    patternKind = iota // "*" or empty: everything
	matchExact                     // no wildcard
	matchPrefix                    // literal then a single trailing '*'
	matchGlob                      // anything else
)

func compilePattern(raw string) pattern {
	switch {
	case raw == "" || raw == "*":
		return pattern{raw: raw, kind: matchAny}
	case !strings.ContainsAny(raw, "*?"):
		return pattern{raw: raw, kind: matchExact, literal: raw}
	case strings.IndexAny(raw, "*?") == len(raw)-1 && raw[len(raw)-1] == '*':
		return pattern{raw: raw, kind: matchPrefix, literal: raw[:len(raw)-1]}
	default:
		return pattern{raw: raw, kind: matchGlob}
	}
}

func (p pattern) match(s string) bool {
	switch p.kind {
	case matchAny:
		return true
	case matchExact:
		return s == p.literal
	case matchPrefix:
		return strings.HasPrefix(s, p.literal)
	default:
		return globMatch(p.raw, s)
	}
}

// specificity ranks patterns for routes without an explicit priority:
// more literal characters first, an exact pattern before a wildcard one.
func (p pattern) specificity() int {
	if p.kind == matchAny {
		return 0
	}
	n := 2 * (len(p.raw) - strings.Count(p.raw, "*") - strings.Count(p.raw, "?"))
	if p.kind == matchExact {
		n++
	}
	return n
}

// globMatch matches s against a pattern with '*' and '?' wildcards. It
// backtracks only to the last '*', so it runs in O(len(p)·len(s)) at worst
// and needs no allocation.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*': // before the literal case: '*' in s must not match it as a literal
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// route is one compiled route of a load balancer.
type route struct {
	service  string
	host     pattern // lower-cased
	path     pattern
	priority int
	svc      int // the service's number in the table
}

func (r *route) match(host, path string) bool {
	return r.host.match(host) && r.path.match(path)
}

// orderRoutes sorts routes the way they are tried: explicit priorities
// first, lowest first, as ALB rule numbers; then routes without a priority,
// most specific host, then most specific path, first; the service name
// breaks what ties are left so that the order never depends on map order.
func orderRoutes(rs []*route) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if (a.priority == 0) != (b.priority == 0) {
			return a.priority != 0
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		if sa, sb := a.host.specificity(), b.host.specificity(); sa != sb {
			return sa > sb
		}
		if sa, sb := a.path.specificity(), b.path.specificity(); sa != sb {
			return sa > sb
		}
		return a.service < b.service
	})
}

func compileRoute(service string, svc int, r spec.Route) *route {
	return &route{
		service:  service,
		host:     compilePattern(strings.ToLower(r.Host)),
		path:     compilePattern(r.Path),
		priority: r.Priority,
		svc:      svc,
	}
}

// hostOnly returns the host of a Host header without its port, lower-cased.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}
