package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/teal-deploy/teal/internal/spec"
)

var (
	loadBalancerSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "listen"}},
	}
	serviceSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "version"}, {Name: "desired_count"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "process"}, {Type: "container"}, {Type: "build"},
			{Type: "route"}, {Type: "health_check"}, {Type: "deploy"},
		},
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
			{Name: "healthy_threshold"}, {Name: "unhealthy_threshold"}, {Name: "grace_period"},
		},
	}
	deploySchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "strategy"}, {Name: "ready_timeout"}, {Name: "drain_timeout"}, {Name: "keep_previous"},
		},
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

// named reports a label already used by an earlier block of the same type.
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

func (d *decoder) loadBalancers(blocks hcl.Blocks) []spec.LoadBalancer {
	seen := map[string]hcl.Range{}
	var out []spec.LoadBalancer
	for _, b := range blocks {
		if !d.named(seen, b) {
			continue
		}
		lb := spec.NewLoadBalancer(b.Labels[0])
		at := "load_balancer." + lb.Name
		c := d.content(at, b, loadBalancerSchema)
		if a := c.Attributes["listen"]; a != nil {
			if v, ok := d.string(at+".listen", a); ok {
				lb.Listen = v
			}
		}
		out = append(out, lb)
	}
	return out
}

func (d *decoder) services(blocks hcl.Blocks, lbs []spec.LoadBalancer) []spec.Service {
	seen := map[string]hcl.Range{}
	var out []spec.Service
	for _, b := range blocks {
		if d.named(seen, b) {
			out = append(out, d.service(b, lbs))
		}
	}
	return out
}

func (d *decoder) service(b *hcl.Block, lbs []spec.LoadBalancer) spec.Service {
	s := spec.NewService(b.Labels[0])
	at := "service." + s.Name
	c := d.content(at, b, serviceSchema)
	where := fmt.Sprintf("service %q", s.Name)
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
		s.Routes = append(s.Routes, d.route(fmt.Sprintf("%s.route[%d]", at, i), rb, lbs))
	}
	if hb := d.unique(c.Blocks.OfType("health_check"), where); hb != nil {
		d.healthCheck(at+".health_check", hb, &s.HealthCheck)
	}
	if db := d.unique(c.Blocks.OfType("deploy"), where); db != nil {
		d.deploy(at+".deploy", db, &s.Deploy)
	}
	return s
}

func (d *decoder) process(at string, b *hcl.Block) *spec.Process {
	p := &spec.Process{Dir: d.dir}
	c := d.content(at, b, processSchema)
	if a := c.Attributes["command"]; a != nil {
		if v, ok := d.stringList(at+".command", a); ok {
			if len(v) > 0 && isRelative(v[0]) {
				v[0] = filepath.Join(d.dir, v[0])
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
				v = filepath.Join(d.dir, v)
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
					v[i] = filepath.Join(d.dir, src) + ":" + rest
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
	bd := spec.NewBuild(d.dir)
	c := d.content(at, b, buildSchema)
	if a := c.Attributes["context"]; a != nil {
		if v, ok := d.string(at+".context", a); ok {
			if !filepath.IsAbs(v) {
				v = filepath.Join(d.dir, v)
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
// configuration ("./bin/web"), rather than looked up in $PATH ("go").
func isRelative(program string) bool {
	return strings.HasPrefix(program, "./") || strings.HasPrefix(program, "../")
}

func (d *decoder) route(at string, b *hcl.Block, lbs []spec.LoadBalancer) spec.Route {
	r := spec.NewRoute()
	c := d.content(at, b, routeSchema)
	if a := c.Attributes["load_balancer"]; a != nil {
		names := make([]string, len(lbs))
		for i, lb := range lbs {
			names[i] = lb.Name
		}
		if v, ok := d.string(at+".load_balancer", a); ok {
			r.LoadBalancer = v
			if _, declared := (spec.Desired{LoadBalancers: lbs}).LoadBalancer(v); !declared {
				d.add(errorAt(a.Expr.Range(), "Unknown load balancer",
					"No load_balancer block named %q is declared.%s", v, didYouMean(v, names)))
			}
		}
	} else {
		switch len(lbs) {
		case 0:
			d.add(errorAt(b.DefRange, "No load balancer",
				"A route needs a load balancer; declare one with a load_balancer block."))
		case 1:
			r.LoadBalancer = lbs[0].Name
		default:
			d.add(errorAt(b.DefRange, "Missing load_balancer",
				"There are %d load balancers; say which one this route uses with load_balancer = \"NAME\".", len(lbs)))
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
}

func (d *decoder) durationInto(at string, c *hcl.BodyContent, name string, dst *spec.Duration) {
	if a := c.Attributes[name]; a != nil {
		if v, ok := d.duration(at+"."+name, a); ok {
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
