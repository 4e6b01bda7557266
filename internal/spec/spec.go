// Package spec holds teal's desired-state types: what the configuration asks
// for, after variables are resolved and defaults are filled in. It does no
// I/O; the CLI builds a Desired from HCL and sends it to the server as JSON.
package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Desired is the whole desired state of one configuration: its load
// balancers and the services routed through them.
type Desired struct {
	LoadBalancers []LoadBalancer `json:"load_balancers"`
	Services      []Service      `json:"services"`
	// DNSZones are the zones that records of services with switch = "dns"
	// live in.
	DNSZones []DNSZone `json:"dns_zones,omitempty"`
	// Sensitive lists, sorted, the paths of every attribute whose value
	// comes from a sensitive variable or output, in the syntax Problem.Path
	// uses: "service.web.process.env.DB_PASSWORD",
	// "load_balancer.public.tls[0].key". A path covers everything below
	// it. Each service's own are also in its Service.Sensitive, relative
	// to it, which is what plans, logs and the API redact by.
	Sensitive []string `json:"sensitive,omitempty"`
}

// LoadBalancer is a named HTTP listener that routes requests to services.
type LoadBalancer struct {
	Name   string `json:"name"`
	Listen string `json:"listen"` // host:port
	// TLS holds the certificates to serve; with any, the listener speaks
	// HTTPS (and HTTP/2 by ALPN) and picks a certificate by SNI.
	TLS []TLSCertificate `json:"tls,omitempty"`
	// RedirectHTTP, with TLS, is a plain-HTTP address whose every request
	// is redirected to the same host and path on this listener.
	RedirectHTTP string `json:"redirect_http,omitempty"`
	// H2C accepts HTTP/2 without TLS (prior knowledge), for clients and
	// proxies in front that speak it.
	H2C bool `json:"h2c,omitempty"`
	// AccessLog writes one JSON line per request to the server's output.
	AccessLog bool `json:"access_log,omitempty"`
	// TrustedProxies are the addresses (IPs or CIDRs) of proxies in front
	// of teal whose X-Forwarded-* and Forwarded headers are believed.
	TrustedProxies []string         `json:"trusted_proxies,omitempty"`
	Timeouts       ListenerTimeouts `json:"timeouts"`
	Limits         Limits           `json:"limits"`
}

// TLSCertificate is one certificate and its key, as PEM files.
type TLSCertificate struct {
	Certificate string `json:"certificate"` // absolute path
	Key         string `json:"key"`         // absolute path
}

// ListenerTimeouts bound what a client may take.
type ListenerTimeouts struct {
	ReadHeader Duration `json:"read_header"` // to send the request's headers
	Idle       Duration `json:"idle"`        // between requests on a kept-alive connection
	Send       Duration `json:"send"`        // to take each write of a response
}

// Limits bound what a client may send.
type Limits struct {
	RequestBody ByteSize `json:"request_body"` // larger bodies get 413; 0: no limit
	Header      ByteSize `json:"header"`       // larger headers get 431
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
	// Timeouts bound how long the load balancer waits for an instance.
	Timeouts UpstreamTimeouts `json:"timeouts"`
	// Preview, when set, lets chosen requests reach the candidate slot
	// before the switch.
	Preview *Preview `json:"preview,omitempty"`
	// Sticky, when set, keeps a client on the slot it first got while
	// traffic is split between two.
	Sticky      *Sticky     `json:"sticky,omitempty"`
	Maintenance Maintenance `json:"maintenance"`
	// RevisionHistoryLimit is how many revisions are kept (besides the
	// live and the warm one); older ones are forgotten.
	RevisionHistoryLimit int `json:"revision_history_limit"`
	// Switch says what moves traffic between the slots: the load balancer
	// ("" or "load_balancer") or a DNS record ("dns", described by DNS).
	Switch SwitchKind `json:"switch,omitempty"`
	DNS    *DNS       `json:"dns,omitempty"`
	// Sensitive lists the attributes whose values come from sensitive
	// variables, as paths within the service ("process.env.DB_PASSWORD");
	// they are never shown, in plans, logs, events or the API.
	Sensitive []string `json:"sensitive,omitempty"`
}

// IsSensitive reports whether the attribute at path (within the service)
// holds, or is within, a sensitive value.
func (s Service) IsSensitive(path string) bool {
	for _, p := range s.Sensitive {
		if p == path || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// Redacted returns s with every sensitive value replaced, for showing.
func (s Service) Redacted() Service {
	r, err := s.MapSensitive(func(string, string) (string, error) { return RedactedValue, nil })
	if err != nil {
		panic(err) // a Service always encodes; the function never fails
	}
	return r
}

// MapSensitive returns s with each sensitive text replaced by what f
// returns for it and its path: the state seals them with it, Redacted
// hides them. Every attribute is reached, whatever block it is in
// (process, container, build, hooks), by its path in s's JSON, which is
// its path in the configuration.
func (s Service) MapSensitive(f func(path, value string) (string, error)) (Service, error) {
	if len(s.Sensitive) == 0 {
		return s, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return s, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return s, err
	}
	var walk func(path string, v any) (any, error)
	walk = func(path string, v any) (any, error) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				} else if k == "sensitive" {
					continue // the paths themselves
				}
				nv, err := walk(p, e)
				if err != nil {
					return nil, err
				}
				x[k] = nv
			}
		case []any:
			for i, e := range x {
				nv, err := walk(path+"["+strconv.Itoa(i)+"]", e)
				if err != nil {
					return nil, err
				}
				x[i] = nv
			}
		case string:
			if s.IsSensitive(path) {
				return f(path, x)
			}
		}
		return v, nil
	}
	if _, err := walk("", tree); err != nil {
		return s, err
	}
	if b, err = json.Marshal(tree); err != nil {
		return s, err
	}
	var out Service
	if err := json.Unmarshal(b, &out); err != nil {
		return s, err
	}
	return out, nil
}

// RedactedValue stands for a sensitive value wherever one would be shown.
const RedactedValue = "(sensitive value)"

// UpstreamTimeouts bound how long the load balancer waits for an
// instance; past them the client gets 502 or 504.
type UpstreamTimeouts struct {
	Connect        Duration `json:"connect"`
	ResponseHeader Duration `json:"response_header"`
}

// Preview sends requests that carry a header or cookie, or that arrive on
// a listener of their own, to the candidate slot: a way to try the new
// revision before it takes traffic. Without a candidate they reach the
// live slot.
type Preview struct {
	Header string `json:"header,omitempty"` // "Header: candidate" reaches the candidate
	Cookie string `json:"cookie,omitempty"` // "Cookie: name=candidate" reaches the candidate
	Listen string `json:"listen,omitempty"` // a listener that serves only this service's candidate
}

// Sticky keeps a client on one slot with a cookie naming it.
type Sticky struct {
	Cookie string   `json:"cookie"`
	MaxAge Duration `json:"max_age"` // 0: for the browser session
}

// Maintenance says how `teal pause` and `teal maintenance` behave.
type Maintenance struct {
	// MaxPause is how long a paused service holds a request before it
	// answers 503.
	MaxPause Duration `json:"max_pause"`
}

// PreviewValue is the header or cookie value that asks for the candidate.
const PreviewValue = "candidate"

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
	// Consecutive5xx takes an instance out of rotation after this many
	// 5xx answers in a row to real requests, until the active check
	// passes again; 0 never does. A refused connection always does.
	Consecutive5xx int `json:"consecutive_5xx"`
}

// Deploy says how a new revision replaces the live one.
type Deploy struct {
	Strategy     Strategy `json:"strategy"`
	ReadyTimeout Duration `json:"ready_timeout"`
	DrainTimeout Duration `json:"drain_timeout"`
	KeepPrevious Duration `json:"keep_previous"`

	// AutoPromote switches as soon as the candidate is healthy (and its
	// hooks passed); false holds it, reachable by preview, until
	// `teal promote`.
	AutoPromote bool `json:"auto_promote"`
	// ProgressDeadline fails a deployment that makes no progress for this
	// long, except while it waits for an operator.
	ProgressDeadline Duration `json:"progress_deadline"`

	// Steps are a canary's shares of traffic, in order; the switch to 100%
	// follows the last.
	Steps []CanaryStep `json:"steps,omitempty"`
	// Analysis judges a canary from the load balancer's own metrics.
	Analysis *Analysis `json:"analysis,omitempty"`

	// BatchSize, MaxUnavailable and MaxSurge shape a rolling deployment.
	// BatchSize n is MaxUnavailable n with no surge: take n out, replace
	// them, put them back, as with ten servers behind a load balancer.
	BatchSize      int      `json:"batch_size,omitempty"`
	MaxUnavailable Quantity `json:"max_unavailable,omitzero"`
	MaxSurge       Quantity `json:"max_surge,omitzero"`

	// Hooks are commands run at points of a deployment (no shell unless
	// the command asks for one), each for at most HookTimeout.
	HookTimeout  Duration `json:"hook_timeout"`
	BeforeSwitch []string `json:"before_switch,omitempty"` // a failure rolls back
	AfterSwitch  []string `json:"after_switch,omitempty"`  // a failure switches back
	OnRollback   []string `json:"on_rollback,omitempty"`   // its failure is recorded, nothing more
	AfterBake    []string `json:"after_bake,omitempty"`    // once keep_previous has passed: the "contract" step
}

// CanaryStep is one share of traffic for the candidate, held for Pause,
// or until `teal promote` when Pause is nil.
type CanaryStep struct {
	Weight int       `json:"weight"` // percent, 1 to 99
	Pause  *Duration `json:"pause,omitempty"`
}

// Analysis thresholds for a canary, over the requests its instances got
// since the current step began.
type Analysis struct {
	MaxErrorRate float64  `json:"max_error_rate"` // share of 5xx answers and failures
	MaxP99       Duration `json:"max_p99"`        // 0: latency is not judged
	MinRequests  int      `json:"min_requests"`   // fewer: hold, and say so
	Interval     Duration `json:"interval"`       // how often to judge
}

// Quantity is a count of instances or a percentage of desired_count,
// written 2 or "25%".
type Quantity struct {
	N       int
	Percent bool
}

// Of returns the count q means for total instances; a percentage rounds
// down, or up when roundUp (as Kubernetes rounds a surge).
func (q Quantity) Of(total int, roundUp bool) int {
	if !q.Percent {
		return q.N
	}
	n := q.N * total
	if roundUp {
		return (n + 99) / 100
	}
	return n / 100
}

// IsZero reports whether q was left out.
func (q Quantity) IsZero() bool { return q.N == 0 }

func (q Quantity) String() string {
	if q.Percent {
		return strconv.Itoa(q.N) + "%"
	}
	return strconv.Itoa(q.N)
}

// MarshalText writes q as "2" or "25%".
func (q Quantity) MarshalText() ([]byte, error) { return []byte(q.String()), nil }

// UnmarshalText reads "2" or "25%".
func (q *Quantity) UnmarshalText(b []byte) error {
	v, err := ParseQuantity(string(b))
	if err != nil {
		return err
	}
	*q = v
	return nil
}

// ParseQuantity reads a count ("2") or a percentage ("25%").
func ParseQuantity(s string) (Quantity, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || (pct && n > 100) {
		return Quantity{}, fmt.Errorf("%q is not a count or a percentage; expected a number like 2 or \"25%%\"", s)
	}
	return Quantity{N: n, Percent: pct}, nil
}

// Strategy names a way of moving traffic from one revision to the next.
type Strategy string

// The strategies teal knows.
const (
	BlueGreen Strategy = "blue_green"
	Canary    Strategy = "canary"
	Rolling   Strategy = "rolling"
)

// Strategies lists the strategies a configuration may name.
var Strategies = []Strategy{BlueGreen, Canary, Rolling}

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

// IsSensitive reports whether the attribute at path holds a sensitive
// value: whether path is one of d.Sensitive or lies below one of them
// ("service.web.process.env.DB" below "service.web.process.env").
func (d Desired) IsSensitive(path string) bool {
	for _, s := range d.Sensitive {
		if path == s || strings.HasPrefix(path, s) && (path[len(s)] == '.' || path[len(s)] == '[') {
			return true
		}
	}
	return false
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
