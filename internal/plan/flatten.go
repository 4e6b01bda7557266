package plan

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/teal-deploy/teal/internal/spec"
)

// attr is one attribute of a service, rendered as HCL writes it.
type attr struct {
	path     string
	value    string
	template bool // part of the revision: changing it deploys
}

// flatten lists a service's attributes in the order a configuration writes
// them, with a path for each ("health_check.interval", "route[1].path").
func flatten(s spec.Service) []attr {
	var out []attr
	add := func(path, value string, template bool) {
		out = append(out, attr{path: path, value: value, template: template})
	}
	add("version", quote(s.Version), true)
	add("desired_count", strconv.Itoa(s.DesiredCount), false)
	if p := s.Process; p != nil {
		add("process.command", joinQuoted(p.Command), true)
		addMap(add, "process.env.", p.Env)
		add("process.dir", quote(p.Dir), true)
	}
	if c := s.Container; c != nil {
		add("container.image", quote(c.Image), true)
		if c.Entrypoint != nil {
			add("container.entrypoint", joinQuoted(c.Entrypoint), true)
		}
		if c.Command != nil {
			add("container.command", joinQuoted(c.Command), true)
		}
		addMap(add, "container.env.", c.Env)
		if c.Port != 0 {
			add("container.port", strconv.Itoa(c.Port), true)
		}
		if c.Memory != 0 {
			add("container.memory", quote(c.Memory.String()), true)
		}
		if c.CPUs != 0 {
			add("container.cpus", strconv.FormatFloat(c.CPUs, 'g', -1, 64), true)
		}
		if c.Volumes != nil {
			add("container.volumes", joinQuoted(c.Volumes), true)
		}
		if c.Network != "" {
			add("container.network", quote(c.Network), true)
		}
		add("container.pull", quote(string(c.Pull)), true)
	}
	if b := s.Build; b != nil {
		add("build.context", quote(b.Context), true)
		add("build.dockerfile", quote(b.Dockerfile), true)
		addMap(add, "build.args.", b.Args)
	}
	for i, r := range s.Routes {
		at := fmt.Sprintf("route[%d].", i)
		add(at+"load_balancer", quote(r.LoadBalancer), false)
		if r.Host != "" {
			add(at+"host", quote(r.Host), false)
		}
		add(at+"path", quote(r.Path), false)
		if r.Priority != 0 {
			add(at+"priority", strconv.Itoa(r.Priority), false)
		}
	}
	h := s.HealthCheck
	add("health_check.path", quote(h.Path), false)
	add("health_check.interval", quote(h.Interval.String()), false)
	add("health_check.timeout", quote(h.Timeout.String()), false)
	add("health_check.healthy_threshold", strconv.Itoa(h.HealthyThreshold), false)
	add("health_check.unhealthy_threshold", strconv.Itoa(h.UnhealthyThreshold), false)
	add("health_check.grace_period", quote(h.GracePeriod.String()), false)
	d := s.Deploy
	add("deploy.strategy", quote(string(d.Strategy)), false)
	add("deploy.ready_timeout", quote(d.ReadyTimeout.String()), false)
	add("deploy.drain_timeout", quote(d.DrainTimeout.String()), false)
	add("deploy.keep_previous", quote(d.KeepPrevious.String()), false)
	return out
}

// addMap adds one attribute per key of m, in key order.
func addMap(add func(path, value string, template bool), prefix string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(prefix+k, quote(m[k]), true)
	}
}
