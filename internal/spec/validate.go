package spec

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a desired state. Path names where, in the
// shape the configuration is written: "service.web.health_check.interval",
// "service.web.route[1].priority". The configuration decoder turns Path
// back into a file, line and column.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) Error() string { return p.Path + ": " + p.Message }

// Limits on what a desired state may ask for.
const (
	MaxDesiredCount = 1000
	MaxPriority     = 50000 // as for ALB rules
	MaxThreshold    = 10
	maxPatternLen   = 128
)

var (
	namePattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
	hostPattern    = regexp.MustCompile(`^[A-Za-z0-9.*?-]+$`)
	pathPattern    = regexp.MustCompile(`^/[A-Za-z0-9_\-.$/~"'@:+*?&=%!,;]*$`)
	envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	tokenPattern   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$") // RFC 9110 token: header and cookie names
)

// ReservedEnv names the environment variables teal sets for each instance;
// a configuration may not set them itself.
var ReservedEnv = []string{"PORT", "TEAL_SERVICE", "TEAL_REVISION", "TEAL_SLOT", "TEAL_INSTANCE"}

// Validate checks d as the server receives it, with every default filled
// in. It returns every problem it finds, not only the first.
func (d Desired) Validate() []Problem {
	v := &validator{}
	lbs := map[string]bool{}
	listens := map[string]string{} // address -> what listens there
	for _, lb := range d.LoadBalancers {
		at := "load_balancer." + lb.Name
		v.name(at, "load balancer", lb.Name)
		if lbs[lb.Name] {
			v.add(at, "load balancer %q is declared twice", lb.Name)
		}
		lbs[lb.Name] = true
		v.listen(at+".listen", lb.Listen, fmt.Sprintf("load balancer %q", lb.Name), listens)
		v.loadBalancer(at, lb, listens)
	}

	v.dnsZones(d.DNSZones, listens)
	dnsNames := map[string]string{} // record name -> the service that has it

	services := map[string]bool{}
	priorities := map[string]string{} // "lb/priority" -> where
	automatic := map[string]string{}  // "lb host path" -> where, for routes without a priority
	for _, s := range d.Services {
		at := "service." + s.Name
		v.name(at, "service", s.Name)
		if services[s.Name] {
			v.add(at, "service %q is declared twice", s.Name)
			continue
		}
		services[s.Name] = true
		v.service(at, s)
		v.serviceSwitch(at, s, d.DNSZones, dnsNames, listens)
		if p := s.Preview; p != nil && p.Listen != "" {
			v.listen(at+".preview.listen", p.Listen, fmt.Sprintf("the preview listener of service %q", s.Name), listens)
		}
		for i, r := range s.Routes {
			rat := fmt.Sprintf("%s.route[%d]", at, i)
			v.route(rat, r, lbs)
			where := fmt.Sprintf("service %q route %d", s.Name, i+1)
			if r.Priority != 0 {
				key := fmt.Sprintf("%s/%d", r.LoadBalancer, r.Priority)
				if other, dup := priorities[key]; dup {
					v.add(rat+".priority", "priority %d on load balancer %q is already taken by %s; every route on a load balancer needs its own priority", r.Priority, r.LoadBalancer, other)
				}
				priorities[key] = where
			} else {
				key := r.LoadBalancer + " " + strings.ToLower(r.Host) + " " + r.Path
				if other, dup := automatic[key]; dup {
					v.add(rat, "matches exactly what %s matches; set a priority on one of them to say which wins", other)
				}
				automatic[key] = where
			}
		}
	}
	return v.problems
}

type validator struct{ problems []Problem }

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) name(at, kind, name string) {
	if !namePattern.MatchString(name) {
		v.add(at, "%s name %q must start with a letter and hold only letters, digits, '-' and '_' (at most 63)", kind, name)
	}
}

func (v *validator) service(at string, s Service) {
	if s.DesiredCount < 1 || s.DesiredCount > MaxDesiredCount {
		v.add(at+".desired_count", "must be between 1 and %d, got %d", MaxDesiredCount, s.DesiredCount)
	}
	switch {
	case s.Process == nil && s.Container == nil:
		v.add(at, "a service needs a process block or a container block that says how to run it")
	case s.Process != nil && s.Container != nil:
		v.add(at+".container", "a service runs as a process or as a container, not both; remove the process block or this one")
	case s.Process != nil:
		v.process(at+".process", *s.Process)
	default:
		v.container(at+".container", *s.Container, s.Build)
	}
	if s.Build != nil {
		if s.Container == nil {
			v.add(at+".build", "builds an image, so the service needs a container block that runs it")
		}
		v.build(at+".build", *s.Build)
	}
	v.healthCheck(at+".health_check", s.HealthCheck)
	v.deploy(at+".deploy", s.Deploy)
	if s.RevisionHistoryLimit < 1 {
		v.add(at+".revision_history_limit", "must be at least 1, got %d", s.RevisionHistoryLimit)
	}
	if d := s.Deploy; d.Strategy == Rolling && d.BatchSize == 0 && (!d.MaxUnavailable.IsZero() || !d.MaxSurge.IsZero()) &&
		d.MaxUnavailable.Of(s.DesiredCount, false) == 0 && d.MaxSurge.Of(s.DesiredCount, true) == 0 {
		v.add(at+".deploy.max_unavailable", "with %d instances, max_unavailable and max_surge both come to 0: the deployment could not move", s.DesiredCount)
	}
	v.positive(at+".timeouts.connect", s.Timeouts.Connect)
	v.positive(at+".timeouts.response_header", s.Timeouts.ResponseHeader)
	if p := s.Preview; p != nil {
		if p.Header == "" && p.Cookie == "" && p.Listen == "" {
			v.add(at+".preview", "say how to reach the candidate: a header, a cookie or a listen address")
		}
		if p.Header != "" && !tokenPattern.MatchString(p.Header) {
			v.add(at+".preview.header", "%q is not a header name", p.Header)
		}
		if p.Cookie != "" && !tokenPattern.MatchString(p.Cookie) {
			v.add(at+".preview.cookie", "%q is not a cookie name", p.Cookie)
		}
	}
	if st := s.Sticky; st != nil {
		if !tokenPattern.MatchString(st.Cookie) {
			v.add(at+".sticky.cookie", "%q is not a cookie name", st.Cookie)
		}
		if st.MaxAge < 0 {
			v.add(at+".sticky.max_age", "must not be negative")
		}
	}
	if s.Maintenance.MaxPause < 0 {
		v.add(at+".maintenance.max_pause", "must not be negative")
	}
}

func (v *validator) loadBalancer(at string, lb LoadBalancer, listens map[string]string) {
	for i, c := range lb.TLS {
		cat := fmt.Sprintf("%s.tls[%d]", at, i)
		v.pemPath(cat+".certificate", c.Certificate)
		v.pemPath(cat+".key", c.Key)
	}
	if lb.RedirectHTTP != "" {
		if len(lb.TLS) == 0 {
			v.add(at+".redirect_http", "redirects to HTTPS, so the load balancer needs a tls block")
		}
		v.listen(at+".redirect_http", lb.RedirectHTTP, fmt.Sprintf("the HTTP redirect of load balancer %q", lb.Name), listens)
	}
	for _, p := range lb.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.add(at+".trusted_proxies", "%v", err)
		}
	}
	v.positive(at+".timeouts.read_header", lb.Timeouts.ReadHeader)
	v.positive(at+".timeouts.idle", lb.Timeouts.Idle)
	v.positive(at+".timeouts.send", lb.Timeouts.Send)
	if lb.Limits.RequestBody < 0 {
		v.add(at+".limits.request_body", "must not be negative")
	}
	if lb.Limits.Header < 1<<10 {
		v.add(at+".limits.header", "must be at least 1KiB, got %s", lb.Limits.Header)
	}
}

func (v *validator) pemPath(path, file string) {
	switch {
	case file == "":
		v.add(path, "is required: the path to a PEM file")
	case !filepath.IsAbs(file):
		v.add(path, "must be a path to a PEM file, got %q", file)
	}
}

// listen checks an address to listen on and that nothing else listens there.
func (v *validator) listen(path, addr, what string, listens map[string]string) {
	if err := checkListen(addr); err != nil {
		v.add(path, "%v", err)
		return
	}
	if other, dup := listens[addr]; dup {
		v.add(path, "%s is also the address of %s", addr, other)
		return
	}
	listens[addr] = what
}

func (v *validator) positive(path string, d Duration) {
	if d <= 0 {
		v.add(path, "must be longer than zero")
	}
}

// ParsePrefix reads an IP address or a CIDR block, as trusted proxies
// are written.
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR block like \"10.0.0.0/8\"", s)
}

func (v *validator) process(at string, p Process) {
	if len(p.Command) == 0 || p.Command[0] == "" {
		v.add(at+".command", "must name a program to run, like [\"./bin/web\", \"-flag\"]")
	}
	if !filepath.IsAbs(p.Dir) {
		v.add(at+".dir", "must be an absolute path, got %q", p.Dir)
	}
	v.env(at+".env", p.Env)
}

func (v *validator) env(at string, env map[string]string) {
	for k := range env {
		switch {
		case !envNamePattern.MatchString(k):
			v.add(at, "%q is not a valid environment variable name", k)
		case isReserved(k):
			v.add(at, "%s is set by teal for each instance and cannot be set here", k)
		}
	}
}

func isReserved(k string) bool {
	for _, r := range ReservedEnv {
		if r == k {
			return true
		}
	}
	return false
}

func (v *validator) route(at string, r Route, lbs map[string]bool) {
	switch {
	case r.LoadBalancer == "":
		v.add(at+".load_balancer", "must name a load balancer")
	case !lbs[r.LoadBalancer]:
		v.add(at+".load_balancer", "no load balancer named %q is declared", r.LoadBalancer)
	}
	if len(r.Path) > maxPatternLen || !pathPattern.MatchString(r.Path) {
		v.add(at+".path", "%q is not a path pattern; expected one that starts with '/', like \"/*\", \"/api/*\" or \"/reporting*\" (at most %d characters)", r.Path, maxPatternLen)
	}
	if r.Host != "" && (len(r.Host) > maxPatternLen || !hostPattern.MatchString(r.Host)) {
		v.add(at+".host", "%q is not a host pattern; expected a name like \"example.com\" or \"*.example.com\"", r.Host)
	}
	if r.Priority < 0 || r.Priority > MaxPriority {
		v.add(at+".priority", "must be between 1 and %d, got %d", MaxPriority, r.Priority)
	}
}

func (v *validator) healthCheck(at string, h HealthCheck) {
	if !strings.HasPrefix(h.Path, "/") {
		v.add(at+".path", "must start with '/', got %q", h.Path)
	}
	if h.Interval <= 0 {
		v.add(at+".interval", "must be longer than zero")
	}
	if h.Timeout <= 0 {
		v.add(at+".timeout", "must be longer than zero")
	}
	if h.HealthyThreshold < 1 || h.HealthyThreshold > MaxThreshold {
		v.add(at+".healthy_threshold", "must be between 1 and %d, got %d", MaxThreshold, h.HealthyThreshold)
	}
	if h.UnhealthyThreshold < 1 || h.UnhealthyThreshold > MaxThreshold {
		v.add(at+".unhealthy_threshold", "must be between 1 and %d, got %d", MaxThreshold, h.UnhealthyThreshold)
	}
	if h.GracePeriod < 0 {
		v.add(at+".grace_period", "must not be negative")
	}
	if h.Consecutive5xx < 0 {
		v.add(at+".consecutive_5xx", "must not be negative")
	}
}

func (v *validator) deploy(at string, d Deploy) {
	known := false
	for _, s := range Strategies {
		known = known || d.Strategy == s
	}
	if !known {
		v.add(at+".strategy", "%q is not a strategy teal knows; expected %s", d.Strategy, quoteList(Strategies))
	}
	if d.ReadyTimeout <= 0 {
		v.add(at+".ready_timeout", "must be longer than zero")
	}
	if d.DrainTimeout < 0 {
		v.add(at+".drain_timeout", "must not be negative")
	}
	if d.KeepPrevious < 0 {
		v.add(at+".keep_previous", "must not be negative")
	}
	v.positive(at+".progress_deadline", d.ProgressDeadline)
	v.positive(at+".hook_timeout", d.HookTimeout)
	v.strategySettings(at, d)
	for _, h := range []struct {
		name string
		cmd  []string
	}{{"before_switch", d.BeforeSwitch}, {"after_switch", d.AfterSwitch}, {"on_rollback", d.OnRollback}, {"after_bake", d.AfterBake}} {
		if h.cmd != nil && (len(h.cmd) == 0 || h.cmd[0] == "") {
			v.add(at+"."+h.name, "must name a program to run, like [\"./migrate\", \"up\"]")
		}
	}
}

// strategySettings checks that the settings of a strategy are given only
// with it, and make sense.
func (v *validator) strategySettings(at string, d Deploy) {
	if d.Strategy != Canary {
		if len(d.Steps) > 0 {
			v.add(at+".step[0]", "steps are for strategy = \"canary\", not %q", d.Strategy)
		}
		if d.Analysis != nil {
			v.add(at+".analysis", "analysis is for strategy = \"canary\", not %q", d.Strategy)
		}
	}
	if d.Strategy != Rolling {
		for _, s := range []struct {
			name string
			set  bool
		}{{"batch_size", d.BatchSize != 0}, {"max_unavailable", !d.MaxUnavailable.IsZero()}, {"max_surge", !d.MaxSurge.IsZero()}} {
			if s.set {
				v.add(at+"."+s.name, "%s is for strategy = \"rolling\", not %q", s.name, d.Strategy)
			}
		}
	}
	switch d.Strategy {
	case Canary:
		if len(d.Steps) == 0 {
			v.add(at, "a canary needs at least one step { weight = … }")
		}
		prev := 0
		for i, s := range d.Steps {
			sat := fmt.Sprintf("%s.step[%d]", at, i)
			if s.Weight < 1 || s.Weight > 99 {
				v.add(sat+".weight", "must be between 1 and 99 (the switch to 100 follows the last step), got %d", s.Weight)
			} else if s.Weight <= prev {
				v.add(sat+".weight", "must be more than the step before it (%d), got %d", prev, s.Weight)
			}
			prev = s.Weight
			if s.Pause != nil && *s.Pause < 0 {
				v.add(sat+".pause", "must not be negative")
			}
		}
		if a := d.Analysis; a != nil {
			if a.MaxErrorRate < 0 || a.MaxErrorRate > 1 {
				v.add(at+".analysis.max_error_rate", "must be a share between 0 and 1, got %g", a.MaxErrorRate)
			}
			if a.MaxP99 < 0 {
				v.add(at+".analysis.max_p99", "must not be negative")
			}
			if a.MinRequests < 1 {
				v.add(at+".analysis.min_requests", "must be at least 1, got %d", a.MinRequests)
			}
			v.positive(at+".analysis.interval", a.Interval)
		}
	case Rolling:
		if d.BatchSize != 0 && (!d.MaxUnavailable.IsZero() || !d.MaxSurge.IsZero()) {
			v.add(at+".batch_size", "give batch_size, or max_unavailable and max_surge, not both")
		}
		if d.BatchSize < 0 {
			v.add(at+".batch_size", "must be at least 1, got %d", d.BatchSize)
		}
		if d.BatchSize == 0 && d.MaxUnavailable.IsZero() && d.MaxSurge.IsZero() {
			v.add(at, "a rolling deployment needs batch_size, or max_unavailable or max_surge above zero")
		}
	}
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not an address; expected host:port, like \"127.0.0.1:8080\"", addr)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("%q: host must be an IP address or localhost", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port must be a number from 1 to 65535", addr)
	}
	return nil
}

func quoteList[T ~string](xs []T) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(string(x))
	}
	return strings.Join(q, " or ")
}
