package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/teal-deploy/teal/internal/spec"
)

var (
	loadBalancerSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "name"}, {Name: "listen"}, {Name: "redirect_http"}, {Name: "h2c"}, {Name: "access_log"}, {Name: "trusted_proxies"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}, {Type: "timeouts"}, {Type: "limits"}},
	}
	tlsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "certificate"}, {Name: "key"}},
	}
	listenerTimeoutsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "read_header"}, {Name: "idle"}, {Name: "send"}},
	}
	limitsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "request_body"}, {Name: "header"}},
	}
	serviceSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "name"}, {Name: "version"}, {Name: "desired_count"}, {Name: "revision_history_limit"}, {Name: "switch"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "process"}, {Type: "container"}, {Type: "build"},
			{Type: "route"}, {Type: "health_check"}, {Type: "deploy"},
			{Type: "timeouts"}, {Type: "preview"}, {Type: "sticky"}, {Type: "maintenance"},
			{Type: "dns"},
		},
	}
	upstreamTimeoutsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "connect"}, {Name: "response_header"}},
	}
	previewSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "header"}, {Name: "cookie"}, {Name: "listen"}},
	}
	stickySchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "cookie"}, {Name: "max_age"}},
	}
	maintenanceSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "max_pause"}},
	}
	processSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "command"}, {Name: "env"}, {Name: "dir"}},
	}
	containerSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "image"}, {Name: "command"}, {Name: "entrypoint"}, {Name: "env"},
			{Name: "port"}, {Name: "memory"}, {Name: "cpus"}, {Name: "volumes"}, {Name: "network"}, {Name: "pull"},
		},
	}
	buildSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "context"}, {Name: "dockerfile"}, {Name: "args"}},
	}
	routeSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "load_balancer"}, {Name: "host"}, {Name: "path"}, {Name: "priority"}},
	}
	healthCheckSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "path"}, {Name: "interval"}, {Name: "timeout"},
			{Name: "healthy_threshold"}, {Name: "unhealthy_threshold"}, {Name: "grace_period"}, {Name: "consecutive_5xx"},
		},
	}
	deploySchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "strategy"}, {Name: "ready_timeout"}, {Name: "drain_timeout"}, {Name: "keep_previous"},
			{Name: "auto_promote"}, {Name: "progress_deadline"}, {Name: "hook_timeout"},
			{Name: "before_switch"}, {Name: "after_switch"}, {Name: "on_rollback"}, {Name: "after_bake"},
			{Name: "batch_size"}, {Name: "max_unavailable"}, {Name: "max_surge"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "step"}, {Type: "analysis"}},
	}
	stepSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "weight", Required: true}, {Name: "pause"}},
	}
	analysisSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "max_error_rate"}, {Name: "max_p99"}, {Name: "min_requests"}, {Name: "interval"}},
	}
)

// content decodes a block's body against schema and records where the
// block is, under path.
func (d *decoder) content(path string, b *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	d.ranges[path] = b.DefRange
	content, diags := b.Body.Content(schema)
	d.add(diags...)
	return content
}

// unique reports a second block of a type that may appear once, and returns
// the first, or nil.
func (d *decoder) unique(blocks hcl.Blocks, where string) *hcl.Block {
	for _, extra := range blocks[min(1, len(blocks)):] {
		d.add(errorAt(extra.DefRange, "Duplicate "+extra.Type+" block",
			"%s takes one %s block; the first is at %s.", where, extra.Type, blocks[0].DefRange))
	}
	if len(blocks) == 0 {
		return nil
	}
	return blocks[0]
}

// named reports a label already used by an earlier block of the same type
// in the same module.
func (d *decoder) named(seen map[string]hcl.Range, b *hcl.Block) bool {
	name := b.Labels[0]
	if prev, dup := seen[name]; dup {
		d.add(errorAt(b.LabelRanges[0], "Duplicate "+b.Type,
			"A %s named %q is already declared at %s.", b.Type, name, prev))
		return false
	}
	seen[name] = b.DefRange
	return true
}

// declared is where a service or load balancer with a given final name is
// declared.
type declared struct {
	decl hcl.Range
	mod  *module
}

// finalName returns the name of the service or load balancer b, which
// must be unique in the whole configuration: its name attribute, else its
// label at the root, or "<module name>-<label>" in a module (the names of
// nested modules joined: "web-db-api"), so that two instances of a module
// do not collide.
func (d *decoder) finalName(b *hcl.Block, c *hcl.BodyContent, taken map[string]declared) (string, bool) {
	name, subject := d.mod.prefix+b.Labels[0], b.LabelRanges[0]
	if a := c.Attributes["name"]; a != nil {
		val, diags := d.eval(d.mod, a.Expr)
		d.add(diags...)
		if diags.HasErrors() || !val.IsWhollyKnown() {
			return "", false
		}
		if val.ContainsMarked() {
			d.add(errorAt(a.Expr.Range(), "Invalid name",
				"A name is shown everywhere, so it cannot come from a sensitive value."))
			return "", false
		}
		if !val.IsNull() {
			s, err := convert.Convert(val, cty.String)
			if err != nil {
				d.typeError(a, "a string", val, false)
				return "", false
			}
			name, subject = s.AsString(), a.Expr.Range()
		}
	}
	kind := strings.ReplaceAll(b.Type, "_", " ")
	if prev, dup := taken[name]; dup {
		in := ""
		if prev.mod.addr != "" {
			in = " in " + prev.mod.addr
		}
		d.add(errorAt(subject, "Duplicate "+kind+" name",
			"The name %q is already taken by the %s declared at %s%s; give one of them another with name = \"…\".",
			name, kind, prev.decl, in))
		return "", false
	}
	taken[name] = declared{decl: b.DefRange, mod: d.mod}
	return name, true
}

// begin records where the block at path is, and which module instance
// declared it.
func (d *decoder) begin(path string, b *hcl.Block, c *hcl.BodyContent) {
	d.ranges[path] = b.DefRange
	d.owner[path] = d.mod
	if a := c.Attributes["name"]; a != nil {
		d.ranges[path+".name"] = a.Expr.Range()
	}
}

func (d *decoder) loadBalancers(m *module) []spec.LoadBalancer {
	seen := map[string]hcl.Range{}
	var out []spec.LoadBalancer
	for _, b := range m.loadBalancers {
		if !d.named(seen, b) {
			continue
		}
		c, diags := b.Body.Content(loadBalancerSchema)
		d.add(diags...)
		if name, ok := d.finalName(b, c, d.lbs); ok {
			m.lbNames[b.Labels[0]] = name
			out = append(out, d.loadBalancer(name, b, c))
		}
	}
	return out
}

func (d *decoder) loadBalancer(name string, b *hcl.Block, c *hcl.BodyContent) spec.LoadBalancer {
	lb := spec.NewLoadBalancer(name)
	at := "load_balancer." + lb.Name
	where := fmt.Sprintf("load_balancer %q", b.Labels[0])
	d.begin(at, b, c)
	d.stringInto(at, c, "listen", &lb.Listen)
	d.stringInto(at, c, "redirect_http", &lb.RedirectHTTP)
	d.boolInto(at, c, "h2c", &lb.H2C)
	d.boolInto(at, c, "access_log", &lb.AccessLog)
	if a := c.Attributes["trusted_proxies"]; a != nil {
		if v, ok := d.stringList(at+".trusted_proxies", a); ok {
			lb.TrustedProxies = v
		}
	}
	for i, tb := range c.Blocks.OfType("tls") {
		tat := fmt.Sprintf("%s.tls[%d]", at, i)
		tc := d.content(tat, tb, tlsSchema)
		var cert spec.TLSCertificate
		d.pathInto(tat, tc, "certificate", &cert.Certificate)
		d.pathInto(tat, tc, "key", &cert.Key)
		lb.TLS = append(lb.TLS, cert)
	}
	if tb := d.unique(c.Blocks.OfType("timeouts"), where); tb != nil {
		tc := d.content(at+".timeouts", tb, listenerTimeoutsSchema)
		d.durationInto(at+".timeouts", tc, "read_header", &lb.Timeouts.ReadHeader)
		d.durationInto(at+".timeouts", tc, "idle", &lb.Timeouts.Idle)
		d.durationInto(at+".timeouts", tc, "send", &lb.Timeouts.Send)
	}
	if lb2 := d.unique(c.Blocks.OfType("limits"), where); lb2 != nil {
		lc := d.content(at+".limits", lb2, limitsSchema)
		d.byteSizeInto(at+".limits", lc, "request_body", &lb.Limits.RequestBody)
		d.byteSizeInto(at+".limits", lc, "header", &lb.Limits.Header)
	}
	return lb
}

func (d *decoder) services(m *module) []spec.Service {
	seen := map[string]hcl.Range{}
	var out []spec.Service
	for _, b := range m.services {
		if !d.named(seen, b) {
			continue
		}
		c, diags := b.Body.Content(serviceSchema)
		d.add(diags...)
		if name, ok := d.finalName(b, c, d.svcs); ok {
			out = append(out, d.service(name, b, c))
		}
	}
	return out
}

func (d *decoder) service(name string, b *hcl.Block, c *hcl.BodyContent) spec.Service {
	s := spec.NewService(name)
	at := "service." + s.Name
	d.begin(at, b, c)
	where := fmt.Sprintf("service %q", b.Labels[0])
	if a := c.Attributes["version"]; a != nil {
		if v, ok := d.string(at+".version", a); ok {
			s.Version = v
		}
	}
	if a := c.Attributes["desired_count"]; a != nil {
		if v, ok := d.int(at+".desired_count", a, 1); ok {
			s.DesiredCount = v
		}
	}
	d.intInto(at, c, "revision_history_limit", &s.RevisionHistoryLimit)
	if pb := d.unique(c.Blocks.OfType("process"), where); pb != nil {
		s.Process = d.process(at+".process", pb)
	}
	if cb := d.unique(c.Blocks.OfType("container"), where); cb != nil {
		s.Container = d.container(at+".container", cb)
	}
	if bb := d.unique(c.Blocks.OfType("build"), where); bb != nil {
		s.Build = d.build(at+".build", bb)
	}
	for i, rb := range c.Blocks.OfType("route") {
		s.Routes = append(s.Routes, d.route(fmt.Sprintf("%s.route[%d]", at, i), rb))
	}
	if hb := d.unique(c.Blocks.OfType("health_check"), where); hb != nil {
		d.healthCheck(at+".health_check", hb, &s.HealthCheck)
	}
	if db := d.unique(c.Blocks.OfType("deploy"), where); db != nil {
		d.deploy(at+".deploy", db, &s.Deploy)
	}
	if tb := d.unique(c.Blocks.OfType("timeouts"), where); tb != nil {
		tc := d.content(at+".timeouts", tb, upstreamTimeoutsSchema)
		d.durationInto(at+".timeouts", tc, "connect", &s.Timeouts.Connect)
		d.durationInto(at+".timeouts", tc, "response_header", &s.Timeouts.ResponseHeader)
	}
	if pb := d.unique(c.Blocks.OfType("preview"), where); pb != nil {
		p := spec.NewPreview()
		pc := d.content(at+".preview", pb, previewSchema)
		if pc.Attributes["cookie"] != nil || pc.Attributes["listen"] != nil {
			p.Header = "" // a preview by cookie or listener only, unless a header is named too
		}
		d.stringInto(at+".preview", pc, "header", &p.Header)
		d.stringInto(at+".preview", pc, "cookie", &p.Cookie)
		d.stringInto(at+".preview", pc, "listen", &p.Listen)
		s.Preview = p
	}
	if sb := d.unique(c.Blocks.OfType("sticky"), where); sb != nil {
		st := spec.NewSticky(s.Name)
		sc := d.content(at+".sticky", sb, stickySchema)
		d.stringInto(at+".sticky", sc, "cookie", &st.Cookie)
		d.durationInto(at+".sticky", sc, "max_age", &st.MaxAge)
		s.Sticky = st
	}
	if mb := d.unique(c.Blocks.OfType("maintenance"), where); mb != nil {
		mc := d.content(at+".maintenance", mb, maintenanceSchema)
		d.durationInto(at+".maintenance", mc, "max_pause", &s.Maintenance.MaxPause)
	}
	d.serviceSwitch(at, where, c, &s)
	return s
}

func (d *decoder) process(at string, b *hcl.Block) *spec.Process {
	p := &spec.Process{Dir: d.root.abs}
	c := d.content(at, b, processSchema)
	if a := c.Attributes["command"]; a != nil {
		if v, ok := d.stringList(at+".command", a); ok {
			if len(v) > 0 && isRelative(v[0]) {
				v[0] = filepath.Join(d.mod.abs, v[0])
			}
			p.Command = v
		}
	}
	if a := c.Attributes["env"]; a != nil {
		if v, ok := d.stringMap(at+".env", a); ok {
			p.Env = v
		}
	}
	if a := c.Attributes["dir"]; a != nil {
		if v, ok := d.string(at+".dir", a); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(d.mod.abs, v)
			}
			p.Dir = filepath.Clean(v)
		}
	}
	return p
}

func (d *decoder) container(at string, b *hcl.Block) *spec.Container {
	ct := spec.NewContainer()
	c := d.content(at, b, containerSchema)
	d.stringInto(at, c, "image", &ct.Image)
	d.stringListInto(at, c, "command", &ct.Command)
	d.stringListInto(at, c, "entrypoint", &ct.Entrypoint)
	if a := c.Attributes["env"]; a != nil {
		if v, ok := d.stringMap(at+".env", a); ok {
			ct.Env = v
		}
	}
	d.intInto(at, c, "port", &ct.Port)
	if a := c.Attributes["memory"]; a != nil {
		if v, ok := d.byteSize(at+".memory", a); ok {
			ct.Memory = v
		}
	}
	if a := c.Attributes["cpus"]; a != nil {
		if v, ok := d.number(at+".cpus", a); ok {
			ct.CPUs = v
		}
	}
	if a := c.Attributes["volumes"]; a != nil {
		if v, ok := d.stringList(at+".volumes", a); ok {
			for i, vol := range v {
				// "./data:/data" binds a directory of the configuration's.
				if src, rest, found := strings.Cut(vol, ":"); found && (isRelative(src) || src == ".") {
					v[i] = filepath.Join(d.mod.abs, src) + ":" + rest
				}
			}
			ct.Volumes = v
		}
	}
	d.stringInto(at, c, "network", &ct.Network)
	if a := c.Attributes["pull"]; a != nil {
		options := make([]string, len(spec.PullPolicies))
		for i, p := range spec.PullPolicies {
			options[i] = string(p)
		}
		if v, ok := d.oneOf(at+".pull", a, options); ok {
			ct.Pull = spec.Pull(v)
		}
	}
	return &ct
}

func (d *decoder) build(at string, b *hcl.Block) *spec.Build {
	bd := spec.NewBuild(d.mod.abs)
	c := d.content(at, b, buildSchema)
	if a := c.Attributes["context"]; a != nil {
		if v, ok := d.string(at+".context", a); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(d.mod.abs, v)
			}
			bd.Context = filepath.Clean(v)
		}
	}
	d.stringInto(at, c, "dockerfile", &bd.Dockerfile)
	if a := c.Attributes["args"]; a != nil {
		if v, ok := d.stringMap(at+".args", a); ok {
			bd.Args = v
		}
	}
	return &bd
}

// isRelative reports whether a program is named by a path relative to the
// module it is written in ("./bin/web"), rather than looked up in $PATH
// ("go").
func isRelative(program string) bool {
	return strings.HasPrefix(program, "./") || strings.HasPrefix(program, "../")
}

func (d *decoder) route(at string, b *hcl.Block) spec.Route {
	r := spec.NewRoute()
	c := d.content(at, b, routeSchema)
	if a := c.Attributes["load_balancer"]; a != nil {
		if v, ok := d.string(at+".load_balancer", a); ok {
			r.LoadBalancer = d.loadBalancerNamed(v, a)
		}
	} else {
		switch len(d.lbs) {
		case 0:
			d.add(errorAt(b.DefRange, "No load balancer",
				"A route needs a load balancer; declare one with a load_balancer block."))
		case 1:
			for name := range d.lbs {
				r.LoadBalancer = name
			}
		default:
			d.add(errorAt(b.DefRange, "Missing load_balancer",
				"There are %d load balancers; say which one this route uses with load_balancer = \"NAME\".", len(d.lbs)))
		}
	}
	if a := c.Attributes["host"]; a != nil {
		if v, ok := d.string(at+".host", a); ok {
			r.Host = v
		}
	}
	if a := c.Attributes["path"]; a != nil {
		if v, ok := d.string(at+".path", a); ok {
			r.Path = v
		}
	}
	if a := c.Attributes["priority"]; a != nil {
		if v, ok := d.int(at+".priority", a, 1); ok {
			r.Priority = v
		}
	}
	return r
}

func (d *decoder) healthCheck(at string, b *hcl.Block, h *spec.HealthCheck) {
	c := d.content(at, b, healthCheckSchema)
	if a := c.Attributes["path"]; a != nil {
		if v, ok := d.string(at+".path", a); ok {
			h.Path = v
		}
	}
	d.durationInto(at, c, "interval", &h.Interval)
	d.durationInto(at, c, "timeout", &h.Timeout)
	d.durationInto(at, c, "grace_period", &h.GracePeriod)
	d.intInto(at, c, "healthy_threshold", &h.HealthyThreshold)
	d.intInto(at, c, "unhealthy_threshold", &h.UnhealthyThreshold)
	if a := c.Attributes["consecutive_5xx"]; a != nil {
		if v, ok := d.int(at+".consecutive_5xx", a, 0); ok {
			h.Consecutive5xx = v
		}
	}
}

func (d *decoder) deploy(at string, b *hcl.Block, dep *spec.Deploy) {
	c := d.content(at, b, deploySchema)
	if a := c.Attributes["strategy"]; a != nil {
		options := make([]string, len(spec.Strategies))
		for i, s := range spec.Strategies {
			options[i] = string(s)
		}
		if v, ok := d.oneOf(at+".strategy", a, options); ok {
			dep.Strategy = spec.Strategy(v)
		}
	}
	d.durationInto(at, c, "ready_timeout", &dep.ReadyTimeout)
	d.durationInto(at, c, "drain_timeout", &dep.DrainTimeout)
	d.durationInto(at, c, "keep_previous", &dep.KeepPrevious)
	d.boolInto(at, c, "auto_promote", &dep.AutoPromote)
	d.durationInto(at, c, "progress_deadline", &dep.ProgressDeadline)
	d.durationInto(at, c, "hook_timeout", &dep.HookTimeout)
	d.commandInto(at, c, "before_switch", &dep.BeforeSwitch)
	d.commandInto(at, c, "after_switch", &dep.AfterSwitch)
	d.commandInto(at, c, "on_rollback", &dep.OnRollback)
	d.commandInto(at, c, "after_bake", &dep.AfterBake)
	d.intInto(at, c, "batch_size", &dep.BatchSize)
	d.quantityInto(at, c, "max_unavailable", &dep.MaxUnavailable)
	d.quantityInto(at, c, "max_surge", &dep.MaxSurge)
	for i, sb := range c.Blocks.OfType("step") {
		sat := fmt.Sprintf("%s.step[%d]", at, i)
		sc := d.content(sat, sb, stepSchema)
		var st spec.CanaryStep
		if a := sc.Attributes["weight"]; a != nil {
			if v, ok := d.int(sat+".weight", a, 1); ok {
				st.Weight = v
			}
		}
		if sc.Attributes["pause"] != nil {
			var p spec.Duration
			d.durationInto(sat, sc, "pause", &p)
			st.Pause = &p
		}
		dep.Steps = append(dep.Steps, st)
	}
	if ab := d.unique(c.Blocks.OfType("analysis"), "deploy"); ab != nil {
		an := spec.NewAnalysis()
		ac := d.content(at+".analysis", ab, analysisSchema)
		if a := ac.Attributes["max_error_rate"]; a != nil {
			if v, ok := d.float(at+".analysis.max_error_rate", a); ok {
				an.MaxErrorRate = v
			}
		}
		d.durationInto(at+".analysis", ac, "max_p99", &an.MaxP99)
		d.intInto(at+".analysis", ac, "min_requests", &an.MinRequests)
		d.durationInto(at+".analysis", ac, "interval", &an.Interval)
		dep.Analysis = an
	}
}

// loadBalancerNamed resolves the load balancer a route names: by its
// label in the route's own module, else by its final name anywhere.
func (d *decoder) loadBalancerNamed(v string, a *hcl.Attribute) string {
	if name, ok := d.mod.lbNames[v]; ok {
		return name
	}
	if _, ok := d.lbs[v]; ok {
		return v
	}
	names := keys(d.lbs)
	for label := range d.mod.lbNames {
		names = append(names, label)
	}
	d.add(errorAt(a.Expr.Range(), "Unknown load balancer",
		"No load_balancer block named %q is declared.%s", v, didYouMean(v, names)))
	return v
}

// commandInto reads a command list; a program written ./x is relative to
// the module it is written in, like a process's.
func (d *decoder) commandInto(at string, c *hcl.BodyContent, name string, dst *[]string) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.stringList(at+"."+name, a); ok {
			if len(v) > 0 && isRelative(v[0]) {
				v[0] = filepath.Join(d.mod.abs, v[0])
			}
			if v == nil {
				v = []string{}
			}
			*dst = v
		}
	}
}

func (d *decoder) quantityInto(at string, c *hcl.BodyContent, name string, dst *spec.Quantity) {
	a := c.Attributes[name]
	if a == nil {
		return
	}
	s, secret, ok := d.text(at+"."+name, a) // a number converts to a string
	if !ok {
		return
	}
	q, err := spec.ParseQuantity(s)
	if err != nil {
		d.invalid(a, err, s, secret)
		return
	}
	*dst = q
}

func (d *decoder) durationInto(at string, c *hcl.BodyContent, name string, dst *spec.Duration) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.duration(at+"."+name, a); ok {
			*dst = v
		}
	}
}

func (d *decoder) stringListInto(at string, c *hcl.BodyContent, name string, dst *[]string) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.stringList(at+"."+name, a); ok {
			*dst = v
		}
	}
}

func (d *decoder) intInto(at string, c *hcl.BodyContent, name string, dst *int) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.int(at+"."+name, a, 1); ok {
			*dst = v
		}
	}
}

func (d *decoder) stringInto(at string, c *hcl.BodyContent, name string, dst *string) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.string(at+"."+name, a); ok {
			*dst = v
		}
	}
}

// pathInto reads a file path, relative to the module it is written in.
func (d *decoder) pathInto(at string, c *hcl.BodyContent, name string, dst *string) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.string(at+"."+name, a); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(d.mod.abs, v)
			}
			*dst = filepath.Clean(v)
		}
	}
}

func (d *decoder) boolInto(at string, c *hcl.BodyContent, name string, dst *bool) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.bool(at+"."+name, a); ok {
			*dst = v
		}
	}
}

func (d *decoder) byteSizeInto(at string, c *hcl.BodyContent, name string, dst *spec.ByteSize) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.byteSize(at+"."+name, a); ok {
			*dst = v
		}
	}
}
