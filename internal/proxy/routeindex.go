package proxy

import (
	"math"
	"slices"
	"strings"
)

// routeIndex finds a load balancer's first matching route, in priority
// order, without trying every route: routes are grouped by host pattern,
// and within a group exact paths and literal prefixes are looked up in
// maps, one lookup per distinct prefix length. Only glob patterns (and
// "match anything") are tried one by one. With 1,000 services of 10
// routes each on hosts of their own, a match costs a few map lookups
// whatever the number of routes (BenchmarkRouteMatch).
type routeIndex struct {
	all []*route // in the order they are tried

	exactHosts  map[string]*hostGroup
	suffixHosts map[string]*hostGroup // "*.example.com" by ".example.com"
	suffixLens  []int                 // the distinct lengths of those keys
	otherHosts  []*hostGroup          // any host, and other wildcard patterns
}

// hostGroup is the routes of one host pattern.
type hostGroup struct {
	host       pattern
	exact      map[string]int // path → the first route's position in all
	prefix     map[string]int // literal prefix → ditto
	prefixLens []int
	others     []int // positions of routes with other path patterns, ascending
}

func newRouteIndex(rs []*route) *routeIndex {
	ix := &routeIndex{all: rs, exactHosts: map[string]*hostGroup{}, suffixHosts: map[string]*hostGroup{}}
	groups := map[string]*hostGroup{}
	for i, r := range rs {
		g := groups[r.host.raw]
		if g == nil {
			g = &hostGroup{host: r.host, exact: map[string]int{}, prefix: map[string]int{}}
			groups[r.host.raw] = g
			switch key, suffix := suffixKey(r.host); {
			case r.host.kind == matchExact:
				ix.exactHosts[r.host.literal] = g
			case suffix:
				ix.suffixHosts[key] = g
				if !slices.Contains(ix.suffixLens, len(key)) {
					ix.suffixLens = append(ix.suffixLens, len(key))
				}
			default:
				ix.otherHosts = append(ix.otherHosts, g)
			}
		}
		g.add(i, r.path)
	}
	return ix
}

// suffixKey returns the literal of a pattern that is '*' followed by a
// literal, like "*.example.com".
func suffixKey(p pattern) (string, bool) {
	if p.kind != matchGlob || len(p.raw) < 2 || p.raw[0] != '*' || strings.ContainsAny(p.raw[1:], "*?") {
		return "", false
	}
	return p.raw[1:], true
}

func (g *hostGroup) add(i int, p pattern) {
	switch p.kind {
	case matchExact:
		if _, ok := g.exact[p.literal]; !ok { // positions only grow: the first stays
			g.exact[p.literal] = i
		}
	case matchPrefix:
		if _, ok := g.prefix[p.literal]; !ok {
			g.prefix[p.literal] = i
		}
		if !slices.Contains(g.prefixLens, len(p.literal)) {
			g.prefixLens = append(g.prefixLens, len(p.literal))
		}
	default:
		g.others = append(g.others, i)
	}
}

// first returns the position of the group's first route matching path
// that is before best, or best.
func (g *hostGroup) first(path string, best int, all []*route) int {
	if i, ok := g.exact[path]; ok && i < best {
		best = i
	}
	for _, n := range g.prefixLens {
		if n <= len(path) {
			if i, ok := g.prefix[path[:n]]; ok && i < best {
				best = i
			}
		}
	}
	for _, i := range g.others {
		if i >= best {
			break
		}
		if all[i].path.match(path) {
			return i
		}
	}
	return best
}

// match returns the first route, in order, that matches host and path.
func (ix *routeIndex) match(host, path string) *route {
	best := math.MaxInt
	if g := ix.exactHosts[host]; g != nil {
		best = g.first(path, best, ix.all)
	}
	for _, n := range ix.suffixLens {
		if n <= len(host) {
			if g := ix.suffixHosts[host[len(host)-n:]]; g != nil {
				best = g.first(path, best, ix.all)
			}
		}
	}
	for _, g := range ix.otherHosts {
		if g.host.match(host) {
			best = g.first(path, best, ix.all)
		}
	}
	if best == math.MaxInt {
		return nil
	}
	return ix.all[best]
}
