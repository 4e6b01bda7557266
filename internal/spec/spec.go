// Package spec holds teal's desired-state types: what the configuration asks
// for, after variables are resolved and defaults are filled in. It does no
// I/O; the CLI builds a Desired from HCL and sends it to the server as JSON.
package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Desired is the whole desired state of one configuration: its load
// balancers and the services routed through them.
type Desired struct {
	LoadBalancers []LoadBalancer `json:"load_balancers"`
	Services      []Service      `json:"services"`
}

// LoadBalancer is a named HTTP listener that routes requests to services.
type LoadBalancer struct {
	Name   string `json:"name"`
	Listen string `json:"listen"` // host:port
}

// Service is a named thing that is deployed: how to run it, route to it,
// check it and deploy it.
type Service struct {
	Name         string      `json:"name"`
	Version      string      `json:"version"`
	DesiredCount int         `json:"desired_count"`
	Process      *Process    `json:"process,omitempty"`
	Container    *Container  `json:"container,omitempty"`
	Build        *Build      `json:"build,omitempty"`
	Routes       []Route     `json:"routes,omitempty"`
	HealthCheck  HealthCheck `json:"health_check"`
	Deploy       Deploy      `json:"deploy"`
}

// Process says how the process driver runs one instance. The command gets a
// free loopback port in $PORT.
type Process struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir"` // absolute; the configuration's directory by default
}

// Route sends requests that match Host and Path on a load balancer to the
// service's live slot. Patterns follow AWS ALB rules: '*' matches any run of
// characters and '?' exactly one; hosts match case-insensitively.
type Route struct {
	LoadBalancer string `json:"load_balancer"`
	Host         string `json:"host,omitempty"` // empty: any host
	Path         string `json:"path"`
	// Priority orders routes on one load balancer; lower wins. Zero means
	// automatic: after every explicit priority, most specific pattern first.
	Priority int `json:"priority,omitempty"`
}

// HealthCheck is the active HTTP check that decides whether an instance may
// take traffic.
type HealthCheck struct {
	Path               string   `json:"path"`
	Interval           Duration `json:"interval"`
	Timeout            Duration `json:"timeout"`
	HealthyThreshold   int      `json:"healthy_threshold"`   // consecutive passes to become healthy
	UnhealthyThreshold int      `json:"unhealthy_threshold"` // consecutive failures to become unhealthy
	GracePeriod        Duration `json:"grace_period"`        // failures this soon after start are not counted
}

// Deploy says how a new revision replaces the live one.
type Deploy struct {
	Strategy     Strategy `json:"strategy"`
	ReadyTimeout Duration `json:"ready_timeout"`
	DrainTimeout Duration `json:"drain_timeout"`
	KeepPrevious Duration `json:"keep_previous"`
}

// Strategy names a way of moving traffic from one revision to the next.
type Strategy string

// The strategies teal knows.
const (
	BlueGreen Strategy = "blue_green"
)

// Strategies lists the strategies a configuration may name.
var Strategies = []Strategy{BlueGreen}

// Slot is one of the two places a service's revisions live in.
type Slot string

// The two slots.
const (
	Blue  Slot = "blue"
	Green Slot = "green"
)

// Other returns the slot that is not s; the other of no slot is Blue, so
// that a service's first revision lands in blue.
func (s Slot) Other() Slot {
	if s == Blue {
		return Green
	}
	return Blue
}

// Template is the part of a service that a running instance is made from.
// A change to it needs a new revision and a deployment; every other
// attribute (routes, health check, count, deploy settings) is applied in
// place.
//
// Build is part of it: a revision is deployed from the image its build
// made, so a changed build is a new revision; a changed source tree under
// an unchanged build is not (change the version, which tags the image).
type Template struct {
	Version   string     `json:"version"`
	Process   *Process   `json:"process,omitempty"`
	Container *Container `json:"container,omitempty"`
	Build     *Build     `json:"build,omitempty"`
}

// Template returns the part of s that makes a revision.
func (s Service) Template() Template {
	return Template{Version: s.Version, Process: s.Process, Container: s.Container, Build: s.Build}
}

// WithTemplate returns s running t: s's routes, count, checks and deploy
// settings with t's version and how to run it, as for a rollback to an
// earlier revision.
func (s Service) WithTemplate(t Template) Service {
	s.Version, s.Process, s.Container, s.Build = t.Version, t.Process, t.Container, t.Build
	return s
}

// Hash returns a short, stable fingerprint of t, shown in history so that
// two revisions with the same template are easy to spot.
func (t Template) Hash() string {
	b, err := json.Marshal(t) // maps marshal with sorted keys, so this is canonical
	if err != nil {
		panic(err) // a Template always marshals: strings, numbers (validated, never NaN), slices and maps
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Service returns the service named name, or false.
func (d Desired) Service(name string) (Service, bool) {
	for _, s := range d.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// LoadBalancer returns the load balancer named name, or false.
func (d Desired) LoadBalancer(name string) (LoadBalancer, bool) {
	for _, lb := range d.LoadBalancers {
		if lb.Name == name {
			return lb, true
		}
	}
	return LoadBalancer{}, false
}
