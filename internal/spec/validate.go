package spec

import (
	"fmt"
	"net"
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
)

// ReservedEnv names the environment variables teal sets for each instance;
// a configuration may not set them itself.
var ReservedEnv = []string{"PORT", "TEAL_SERVICE", "TEAL_REVISION", "TEAL_SLOT", "TEAL_INSTANCE"}

// Validate checks d as the server receives it, with every default filled
// in. It returns every problem it finds, not only the first.
func (d Desired) Validate() []Problem {
	v := &validator{}
	lbs := map[string]bool{}
	listens := map[string]string{}
	for _, lb := range d.LoadBalancers {
		at := "load_balancer." + lb.Name
		v.name(at, "load balancer", lb.Name)
		if lbs[lb.Name] {
			v.add(at, "load balancer %q is declared twice", lb.Name)
		}
		lbs[lb.Name] = true
		if err := checkListen(lb.Listen); err != nil {
			v.add(at+".listen", "%v", err)
		} else if other, dup := listens[lb.Listen]; dup {
			v.add(at+".listen", "%s is also the address of load balancer %q", lb.Listen, other)
		}
		listens[lb.Listen] = lb.Name
	}

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
