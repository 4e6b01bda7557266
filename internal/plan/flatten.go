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
	value    string // as shown: a sensitive value is not
	raw      string // as compared
	template bool   // part of the revision: changing it deploys
}

// flatten lists a service's attributes in the order a configuration writes
// them, with a path for each ("health_check.interval", "route[1].path").
func flatten(s spec.Service) []attr {
	var out []attr
	add := func(path, value string, template bool) {
		shown := value
		if s.IsSensitive(path) {
			shown = spec.RedactedValue
		}
		out = append(out, attr{path: path, value: shown, raw: value, template: template})
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
	add("health_check.consecutive_5xx", strconv.Itoa(h.Consecutive5xx), false)
	d := s.Deploy
	add("deploy.strategy", quote(string(d.Strategy)), false)
	add("deploy.ready_timeout", quote(d.ReadyTimeout.String()), false)
	add("deploy.drain_timeout", quote(d.DrainTimeout.String()), false)
	add("deploy.keep_previous", quote(d.KeepPrevious.String()), false)
	add("deploy.auto_promote", strconv.FormatBool(d.AutoPromote), false)
	add("deploy.progress_deadline", quote(d.ProgressDeadline.String()), false)
	add("deploy.hook_timeout", quote(d.HookTimeout.String()), false)
	for _, h := range []struct {
		name string
		cmd  []string
	}{{"before_switch", d.BeforeSwitch}, {"after_switch", d.AfterSwitch}, {"on_rollback", d.OnRollback}, {"after_bake", d.AfterBake}} {
		if h.cmd != nil {
			add("deploy."+h.name, joinQuoted(h.cmd), false)
		}
	}
	for i, st := range d.Steps {
		add(fmt.Sprintf("deploy.step[%d].weight", i), strconv.Itoa(st.Weight), false)
		if st.Pause != nil {
			add(fmt.Sprintf("deploy.step[%d].pause", i), quote(st.Pause.String()), false)
		}
	}
	if a := d.Analysis; a != nil {
		add("deploy.analysis.max_error_rate", strconv.FormatFloat(a.MaxErrorRate, 'g', -1, 64), false)
		add("deploy.analysis.max_p99", quote(a.MaxP99.String()), false)
		add("deploy.analysis.min_requests", strconv.Itoa(a.MinRequests), false)
		add("deploy.analysis.interval", quote(a.Interval.String()), false)
	}
	if d.BatchSize != 0 {
		add("deploy.batch_size", strconv.Itoa(d.BatchSize), false)
	}
	if !d.MaxUnavailable.IsZero() {
		add("deploy.max_unavailable", quote(d.MaxUnavailable.String()), false)
	}
	if !d.MaxSurge.IsZero() {
		add("deploy.max_surge", quote(d.MaxSurge.String()), false)
	}
	add("timeouts.connect", quote(s.Timeouts.Connect.String()), false)
	add("timeouts.response_header", quote(s.Timeouts.ResponseHeader.String()), false)
	if p := s.Preview; p != nil {
		addSet := func(path, v string) {
			if v != "" {
				add(path, quote(v), false)
			}
		}
		addSet("preview.header", p.Header)
		addSet("preview.cookie", p.Cookie)
		addSet("preview.listen", p.Listen)
	}
	if st := s.Sticky; st != nil {
		add("sticky.cookie", quote(st.Cookie), false)
		add("sticky.max_age", quote(st.MaxAge.String()), false)
	}
	add("maintenance.max_pause", quote(s.Maintenance.MaxPause.String()), false)
	add("revision_history_limit", strconv.Itoa(s.RevisionHistoryLimit), false)
	flattenDNS(s, add)
	return out
}

// flattenLB lists a load balancer's attributes as flatten does a service's.
func flattenLB(lb spec.LoadBalancer) []attr {
	var out []attr
	add := func(path, value string) { out = append(out, attr{path: path, value: value, raw: value}) }
	add("listen", quote(lb.Listen))
	for i, c := range lb.TLS {
		add(fmt.Sprintf("tls[%d].certificate", i), quote(c.Certificate))
		add(fmt.Sprintf("tls[%d].key", i), quote(c.Key))
	}
	if lb.RedirectHTTP != "" {
		add("redirect_http", quote(lb.RedirectHTTP))
	}
	add("h2c", strconv.FormatBool(lb.H2C))
	add("access_log", strconv.FormatBool(lb.AccessLog))
	if len(lb.TrustedProxies) > 0 {
		add("trusted_proxies", joinQuoted(lb.TrustedProxies))
	}
	add("timeouts.read_header", quote(lb.Timeouts.ReadHeader.String()))
	add("timeouts.idle", quote(lb.Timeouts.Idle.String()))
	add("timeouts.send", quote(lb.Timeouts.Send.String()))
	add("limits.request_body", quote(lb.Limits.RequestBody.String()))
	add("limits.header", quote(lb.Limits.Header.String()))
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
