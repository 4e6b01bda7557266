// Package plan works out what an apply would do: a pure diff of the
// desired state against what is recorded, attribute by attribute, with
// what each change does to traffic. It does no I/O.
package plan

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

// Action is what happens to one object or attribute.
type Action int

// The actions, as Terraform names them.
const (
	NoOp Action = iota
	Create
	Update
	Delete
)

func (a Action) String() string {
	switch a {
	case Create:
		return "create"
	case Update:
		return "update"
	case Delete:
		return "delete"
	default:
		return "no-op"
	}
}

// Symbol returns the mark a plan shows for a: + ~ -.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	default:
		return " "
	}
}

// MarshalText writes a as its name.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText reads an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for _, x := range []Action{NoOp, Create, Update, Delete} {
		if x.String() == string(b) {
			*a = x
			return nil
		}
	}
	return fmt.Errorf("unknown plan action %q", b)
}

// Current is what the server has recorded, as the diff needs it.
type Current struct {
	Serial        uint64
	Lineage       string
	LoadBalancers []spec.LoadBalancer
	Services      []CurrentService
	DNSZones      []spec.DNSZone
}

// CurrentService is one recorded service.
type CurrentService struct {
	Spec         spec.Service // as last applied
	LiveRevision int          // 0 when no revision is live
	LiveSlot     spec.Slot
	NextRevision int // the number a new revision would get
	// LiveImported says the live revision was imported: what runs is not
	// known to match the configuration, so the next apply replaces it.
	LiveImported bool
	// Running is how many instances of the live revision run; fewer than
	// desired is drift, which an apply repairs.
	Running int
	// Drift says, for people, what changed outside teal: instances that
	// died, instances failing their checks.
	Drift []string
}

// Plan is the set of changes an apply would make.
type Plan struct {
	// Serial and Lineage are the state's the plan was made against; an
	// apply of the plan refuses to run when the state has moved on, or
	// is another state.
	Serial  uint64 `json:"serial"`
	Lineage string `json:"lineage"`
	// Targets, when set, are the only addresses the plan changes.
	Targets []string `json:"targets,omitempty"`
	Changes []Change `json:"changes"`
}

// Target keeps only the changes to the objects at addrs ("service.web",
// "load_balancer.public"), as Terraform's -target does.
func (p Plan) Target(addrs []string) Plan {
	if len(addrs) == 0 {
		return p
	}
	out := Plan{Serial: p.Serial, Lineage: p.Lineage, Targets: addrs}
	for _, c := range p.Changes {
		if slices.Contains(addrs, c.Address()) {
			out.Changes = append(out.Changes, c)
		}
	}
	return out
}

// Change is what happens to one load balancer or service.
type Change struct {
	Type   string `json:"type"` // "load_balancer", "dns_zone" or "service"
	Name   string `json:"name"`
	Action Action `json:"action"`
	Attrs  []Attr `json:"attributes,omitempty"` // the attributes that change
	// Unchanged counts the attributes that stay as they are.
	Unchanged int `json:"unchanged_attributes"`
	// Revision is the number of the revision this change deploys; 0 when
	// it deploys none.
	Revision int           `json:"revision,omitempty"`
	Strategy spec.Strategy `json:"strategy,omitempty"`
	// Traffic says, for people, what the change does to traffic.
	Traffic []string `json:"traffic"`
	// Drift lists what changed outside teal; Repair is how many instances
	// an apply starts to replace those that died.
	Drift  []string `json:"drift,omitempty"`
	Repair int      `json:"repair,omitempty"`
}

// Address names the object as a plan shows it: service.web.
func (c Change) Address() string { return c.Type + "." + c.Name }

// Attr is one attribute that changes.
type Attr struct {
	Path   string `json:"path"`
	Action Action `json:"action"`
	Before string `json:"before,omitempty"` // rendered as in HCL
	After  string `json:"after,omitempty"`
	// NewRevision is true when changing the attribute needs a new revision.
	NewRevision bool `json:"new_revision,omitempty"`
}

// HasChanges reports whether applying p would change anything.
func (p Plan) HasChanges() bool { return len(p.Changes) > 0 }

// Counts returns how many objects p creates, updates and deletes.
func (p Plan) Counts() (add, change, destroy int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			destroy++
		}
	}
	return
}

// Change returns the change to the object at address, or false.
func (p Plan) Change(typ, name string) (Change, bool) {
	for _, c := range p.Changes {
		if c.Type == typ && c.Name == name {
			return c, true
		}
	}
	return Change{}, false
}

// Diff returns the plan that takes cur to desired. Load balancers come
// first, then DNS zones, then services, each sorted by name.
func Diff(desired spec.Desired, cur Current) Plan {
	p := Plan{Serial: cur.Serial, Lineage: cur.Lineage}
	p.Changes = append(p.Changes, diffLoadBalancers(desired.LoadBalancers, cur.LoadBalancers)...)
	p.Changes = append(p.Changes, diffZones(desired.DNSZones, cur.DNSZones)...)
	p.Changes = append(p.Changes, diffServices(desired.Services, cur.Services)...)
	return p
}

func diffLoadBalancers(want, have []spec.LoadBalancer) []Change {
	return kind[spec.LoadBalancer]{
		typ:     "load_balancer",
		name:    func(lb spec.LoadBalancer) string { return lb.Name },
		flatten: flattenLB,
		created: func(lb spec.LoadBalancer) string { return "starts listening on " + lb.Listen },
		updated: func(prev, lb spec.LoadBalancer) string {
			if prev.Listen != lb.Listen {
				return fmt.Sprintf("moves from %s to %s: the new address serves before the old one closes, whose requests in flight finish first", prev.Listen, lb.Listen)
			}
			return "changes the listener in place: new connections get the new settings on the same socket, open ones finish"
		},
		deleted: func(lb spec.LoadBalancer) string {
			return "stops listening on " + lb.Listen + " once requests in flight finish"
		},
	}.diff(want, have)
}

// kind says how to diff one type of named object that is changed in
// place (load balancers, DNS zones): its attributes, and what creating,
// changing and destroying one does to traffic.
type kind[T any] struct {
	typ              string
	name             func(T) string
	flatten          func(T) []attr
	created, deleted func(T) string
	updated          func(prev, cur T) string
}

func (k kind[T]) diff(want, have []T) []Change {
	var out []Change
	old := map[string]T{}
	for _, x := range have {
		old[k.name(x)] = x
	}
	for _, x := range want {
		prev, existed := old[k.name(x)]
		delete(old, k.name(x))
		c := Change{Type: k.typ, Name: k.name(x)}
		if !existed {
			c.Action = Create
			for _, a := range k.flatten(x) {
				c.Attrs = append(c.Attrs, Attr{Path: a.path, Action: Create, After: a.value})
			}
			c.Traffic = []string{k.created(x)}
			out = append(out, c)
			continue
		}
		c.Attrs, c.Unchanged = diffAttrs(k.flatten(prev), k.flatten(x))
		if len(c.Attrs) == 0 {
			continue
		}
		c.Action = Update
		c.Traffic = []string{k.updated(prev, x)}
		out = append(out, c)
	}
	for _, x := range have {
		if _, gone := old[k.name(x)]; gone {
			c := Change{Type: k.typ, Name: k.name(x), Action: Delete, Traffic: []string{k.deleted(x)}}
			for _, a := range k.flatten(x) {
				c.Attrs = append(c.Attrs, Attr{Path: a.path, Action: Delete, Before: a.value})
			}
			out = append(out, c)
		}
	}
	sortChanges(out)
	return out
}

func diffServices(want []spec.Service, have []CurrentService) []Change {
	var out []Change
	old := map[string]CurrentService{}
	for _, s := range have {
		old[s.Spec.Name] = s
	}
	for _, s := range want {
		cur, existed := old[s.Name]
		delete(old, s.Name)
		if !existed {
			out = append(out, createService(s, 1))
			continue
		}
		if c, changed := updateService(s, cur); changed {
			out = append(out, c)
		}
	}
	for _, s := range have {
		if _, gone := old[s.Spec.Name]; gone {
			out = append(out, deleteService(s))
		}
	}
	sortChanges(out)
	return out
}

func createService(s spec.Service, revision int) Change {
	c := Change{Type: "service", Name: s.Name, Action: Create, Revision: revision, Strategy: s.Deploy.Strategy}
	for _, a := range flatten(s) {
		c.Attrs = append(c.Attrs, Attr{Path: a.path, Action: Create, After: a.value, NewRevision: a.template})
	}
	c.Traffic = []string{fmt.Sprintf("deploys revision %d: starts %s in the blue slot and routes to %s once %s healthy",
		revision, instances(s.DesiredCount), them(s.DesiredCount), are(s.DesiredCount))}
	if s.ByDNS() {
		c.Traffic = dnsDeployTraffic(s, revision, "", spec.Blue, 0, "")
	}
	return c
}

func updateService(s spec.Service, cur CurrentService) (Change, bool) {
	c := Change{Type: "service", Name: s.Name, Action: Update}
	before, after := flatten(cur.Spec), flatten(s)
	c.Attrs, c.Unchanged = diffAttrs(before, after)
	templateChanged := slices.ContainsFunc(c.Attrs, func(a Attr) bool { return a.NewRevision })
	c.Drift = cur.Drift
	if cur.LiveRevision != 0 && !templateChanged && cur.Spec.DesiredCount == s.DesiredCount && cur.Running < s.DesiredCount {
		c.Repair = s.DesiredCount - cur.Running
		c.Traffic = append(c.Traffic, fmt.Sprintf("repairs drift: starts %s of revision %d to replace those no longer running",
			instances(c.Repair), cur.LiveRevision))
	}
	if len(c.Attrs) == 0 && cur.LiveRevision != 0 && c.Repair == 0 && !cur.LiveImported {
		return c, false
	}
	old := cur.Spec
	if cur.LiveImported {
		c.Traffic = append(c.Traffic, fmt.Sprintf("revision %d was imported: what runs is not known to match the configuration", cur.LiveRevision))
	}
	if templateChanged || cur.LiveRevision == 0 || cur.LiveImported {
		c.Revision = cur.NextRevision
		c.Strategy = s.Deploy.Strategy
		slot := cur.LiveSlot.Other()
		why := ""
		if cur.LiveRevision == 0 {
			why = " (no revision is live)"
		}
		if s.ByDNS() {
			c.Traffic = append(c.Traffic, dnsDeployTraffic(s, c.Revision, why, slot, cur.LiveRevision, cur.LiveSlot)...)
		} else {
			c.Traffic = append(c.Traffic, fmt.Sprintf("deploys revision %d%s by %s: starts %s in the %s slot, switches traffic when all are healthy",
				c.Revision, why, s.Deploy.Strategy, instances(s.DesiredCount), slot))
		}
		if cur.LiveRevision != 0 && !s.ByDNS() {
			c.Traffic = append(c.Traffic, fmt.Sprintf("then drains revision %d in %s (up to %s) and keeps it warm for %s for an instant rollback",
				cur.LiveRevision, cur.LiveSlot, s.Deploy.DrainTimeout, s.Deploy.KeepPrevious))
		}
		if len(c.Attrs) == 0 {
			c.Attrs = nil
		}
	} else if old.DesiredCount != s.DesiredCount {
		verb := "starts"
		n := s.DesiredCount - old.DesiredCount
		if n < 0 {
			verb, n = "drains and stops", -n
		}
		c.Traffic = append(c.Traffic, fmt.Sprintf("scales revision %d from %d to %d: %s %s; no new revision",
			cur.LiveRevision, old.DesiredCount, s.DesiredCount, verb, instances(n)))
	}
	if !slices.Equal(old.Routes, s.Routes) || !reflect.DeepEqual(old.Preview, s.Preview) || !reflect.DeepEqual(old.Sticky, s.Sticky) {
		c.Traffic = append(c.Traffic, "changes routing on the load balancer in place, with no restart")
	}
	if t := dnsChanged(old, s, cur.LiveSlot); t != "" && !templateChanged {
		c.Traffic = append(c.Traffic, t)
	}
	if (old.HealthCheck != s.HealthCheck || old.Timeouts != s.Timeouts) && !templateChanged {
		c.Traffic = append(c.Traffic, "changes health checks and timeouts of the running instances in place")
	}
	if !reflect.DeepEqual(old.Deploy, s.Deploy) && !templateChanged {
		c.Traffic = append(c.Traffic, "changes how the next deployment runs; nothing restarts")
	}
	return c, true
}

func deleteService(cur CurrentService) Change {
	c := Change{Type: "service", Name: cur.Spec.Name, Action: Delete}
	for _, a := range flatten(cur.Spec) {
		c.Attrs = append(c.Attrs, Attr{Path: a.path, Action: Delete, Before: a.value})
	}
	if cur.LiveRevision != 0 {
		c.Traffic = []string{fmt.Sprintf("removes its routes, drains revision %d (up to %s), stops its instances; its history is kept",
			cur.LiveRevision, cur.Spec.Deploy.DrainTimeout)}
		if cur.Spec.ByDNS() {
			c.Traffic = []string{fmt.Sprintf("removes the record %s and the slot listeners, drains revision %d (up to %s), stops its instances; its history is kept",
				cur.Spec.DNS.Name, cur.LiveRevision, cur.Spec.Deploy.DrainTimeout)}
		}
	} else {
		c.Traffic = []string{"forgets the service; nothing of it runs"}
	}
	return c
}

// diffAttrs compares two flattened services, path by path.
func diffAttrs(before, after []attr) (changed []Attr, unchanged int) {
	old := map[string]attr{}
	for _, a := range before {
		old[a.path] = a
	}
	for _, a := range after {
		b, ok := old[a.path]
		delete(old, a.path)
		switch {
		case !ok:
			changed = append(changed, Attr{Path: a.path, Action: Create, After: a.value, NewRevision: a.template})
		case b.raw != a.raw:
			changed = append(changed, Attr{Path: a.path, Action: Update, Before: b.value, After: a.value, NewRevision: a.template})
		default:
			unchanged++
		}
	}
	for _, b := range before {
		if _, gone := old[b.path]; gone {
			changed = append(changed, Attr{Path: b.path, Action: Delete, Before: b.value, NewRevision: b.template})
		}
	}
	return changed, unchanged
}

func sortChanges(cs []Change) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
}

func instances(n int) string {
	if n == 1 {
		return "1 instance"
	}
	return fmt.Sprintf("%d instances", n)
}

func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func are(n int) string {
	if n == 1 {
		return "it is"
	}
	return "all are"
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// joinQuoted renders a list of strings as HCL does.
func joinQuoted(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
