// Package config reads a configuration directory of HCL files into a
// spec.Desired: it reads the modules the configuration calls, resolves
// variables, locals, module outputs and relative paths, fills in defaults,
// follows sensitive values, and reports every problem with its file, line
// and column.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/teal-deploy/teal/internal/spec"
)

// Extension is the file extension of configuration files; every file with
// it in a configuration directory is read, like Terraform's *.tf.
const Extension = ".hcl"

// Config is what a configuration directory describes.
type Config struct {
	// Desired is the desired state to send to a server. Its Sensitive
	// field lists the attributes whose values must never be shown.
	Desired spec.Desired
	// Outputs are the root module's outputs, sorted by name, for the CLI
	// to print.
	Outputs []Output
}

// Load reads every *.hcl file in dir, and in the modules it calls, and
// returns the desired state they describe. When the diagnostics hold
// errors, the desired state must not be used.
func Load(dir string, in Vars) (spec.Desired, Diagnostics) {
	c, diags := LoadConfig(dir, in)
	return c.Desired, diags
}

// LoadConfig is Load that also returns the root module's outputs.
func LoadConfig(dir string, in Vars) (Config, Diagnostics) {
	parser := hclparse.NewParser()
	d := &decoder{
		parser: parser,
		base:   &hcl.EvalContext{Functions: functions()},
		where:  map[*hcl.Diagnostic][]string{},
		ranges: map[string]hcl.Range{},
		failed: map[string]bool{},
		owner:  map[string]*module{},
		lbs:    map[string]declared{},
		svcs:   map[string]declared{},
	}
	c, diags := d.load(dir, in)
	return c, Diagnostics{diags: diags, files: parser.Files(), where: d.where}
}

// decoder reads a configuration: its module instances, then the load
// balancers and services of each. It keeps every diagnostic, and where
// each spec path is written, so that problems found later by
// spec.Validate point at the right line.
type decoder struct {
	parser *hclparse.Parser
	root   *module
	mod    *module          // the module instance whose blocks are being decoded
	base   *hcl.EvalContext // the functions, for expressions that refer to nothing
	stack  []frame          // the values being resolved, innermost last
	syntax hcl.Diagnostics  // from parsing: with errors, nothing is decoded
	diags  hcl.Diagnostics
	where  map[*hcl.Diagnostic][]string // the module instances a diagnostic is about

	ranges    map[string]hcl.Range // spec path -> where it is written
	failed    map[string]bool      // spec paths whose values have errors, or depend on one
	owner     map[string]*module   // "service.NAME", "load_balancer.NAME" -> the instance that declares it
	lbs, svcs map[string]declared  // by final name
	sensitive sensitivity
	zones     map[string]hcl.Range // dns_zone name -> where it is declared
}

// report adds diagnostics that arose in module instance m (nil when none
// in particular), so that a message about a module used twice says which
// use it is about.
func (d *decoder) report(m *module, diags ...*hcl.Diagnostic) {
	d.diags = append(d.diags, diags...)
	if m == nil || m.addr == "" {
		return
	}
	for _, diag := range diags {
		d.where[diag] = []string{m.addr}
	}
}

// add reports diagnostics about the module instance being decoded.
func (d *decoder) add(diags ...*hcl.Diagnostic) { d.report(d.mod, diags...) }

func (d *decoder) load(dir string, in Vars) (Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Config{}, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "Cannot read configuration", "%s", err)}
	}
	paths, err := Files(dir)
	if err != nil {
		return Config{}, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "Cannot read configuration", "%s", err)}
	}
	if len(paths) == 0 {
		return Config{}, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "No configuration files",
			"Expected at least one *%s file in %s.", Extension, dir)}
	}
	d.root = &module{dir: dir, abs: abs, inputs: hcl.Attributes{}}
	d.read(d.root)
	if d.syntax.HasErrors() {
		sortDiagnostics(d.syntax)
		return Config{}, d.syntax // decoding would only add noise
	}
	d.report(d.root, d.root.vars.assign(in)...)

	var c Config
	d.root.walk(func(m *module) {
		d.mod = m
		c.Desired.LoadBalancers = append(c.Desired.LoadBalancers, d.loadBalancers(m)...)
	})
	d.root.walk(func(m *module) {
		d.mod = m
		c.Desired.DNSZones = append(c.Desired.DNSZones, d.dnsZones(m)...)
	})
	d.root.walk(func(m *module) {
		d.mod = m
		c.Desired.Services = append(c.Desired.Services, d.services(m)...)
	})
	d.mod = nil
	d.root.walk(d.resolveAll)
	c.Outputs = d.outputs()
	c.Desired.Sensitive = d.sensitive.sorted()
	for i := range c.Desired.Services {
		s := &c.Desired.Services[i]
		s.Sensitive = below(c.Desired.Sensitive, "service."+s.Name+".")
	}

	diags := append(d.syntax, d.diags...)
	diags = d.dedupe(append(diags, d.problems(c.Desired.Validate(), diags)...))
	sortDiagnostics(diags)
	return c, diags
}

// resolveAll works out every variable, local and output of m, whether or
// not anything refers to it, so that each error in them is reported and
// every validation runs.
func (d *decoder) resolveAll(m *module) {
	for _, name := range m.vars.names() {
		d.resolve(m, m, ref{"var", name}, m.vars.byName[name].decl)
	}
	for _, name := range keys(m.locals) {
		d.resolve(m, m, ref{"local", name}, m.locals[name].Range)
	}
	for _, name := range keys(m.outputs) {
		d.resolve(m, m, ref{"output", name}, m.outputs[name].decl)
	}
}

// dedupe drops a diagnostic that repeats an earlier one, as the same
// mistake in a module used twice does, and says on the first which
// instances it is about.
func (d *decoder) dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		severity        hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	first := map[key]*hcl.Diagnostic{}
	var out hcl.Diagnostics
	for _, diag := range diags {
		k := key{severity: diag.Severity, summary: diag.Summary, detail: diag.Detail}
		if diag.Subject != nil {
			k.subject = *diag.Subject
		}
		if f, dup := first[k]; dup {
			for _, addr := range d.where[diag] {
				if !contains(d.where[f], addr) {
					d.where[f] = append(d.where[f], addr)
				}
			}
			continue
		}
		first[k] = diag
		out = append(out, diag)
	}
	return out
}

// below returns the paths that start with prefix, without it.
func below(paths []string, prefix string) []string {
	var out []string
	for _, p := range paths {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			out = append(out, rest)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Files lists the configuration files in dir, sorted by name.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), Extension) && !strings.HasPrefix(e.Name(), ".") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// problems turns what spec.Validate found into diagnostics at the place
// each path is written, or at the nearest enclosing block when it was left
// to its default. A problem where decoding already reported one, or with
// an attribute whose value could not be worked out, is left out: it is the
// same mistake seen twice.
func (d *decoder) problems(ps []spec.Problem, reported hcl.Diagnostics) hcl.Diagnostics {
	seen := map[hcl.Range]bool{}
	for _, diag := range reported {
		if diag.Subject != nil {
			seen[*diag.Subject] = true
		}
	}
	var diags hcl.Diagnostics
	for _, p := range ps {
		r := d.rangeOf(p.Path)
		if seen[r] || d.failed[p.Path] {
			continue
		}
		msg := p.Message
		if secrets := d.sensitive.secretsNear(p.Path); len(secrets) > 0 {
			msg = scrub(msg, secrets)
		}
		diag := errorAt(r, "Invalid "+subject(p.Path), "%s.", msg)
		if m := d.ownerOf(p.Path); m != nil && m.addr != "" {
			d.where[diag] = []string{m.addr}
		}
		diags = append(diags, diag)
	}
	return diags
}

// ownerOf returns the module instance that declares what path is in.
func (d *decoder) ownerOf(path string) *module {
	parts := strings.SplitN(path, ".", 3)
	if len(parts) < 2 {
		return nil
	}
	name, _, _ := strings.Cut(parts[1], "[")
	return d.owner[parts[0]+"."+name]
}

// sortDiagnostics orders diagnostics by file and position, those about the
// command line first.
func sortDiagnostics(diags hcl.Diagnostics) {
	key := func(d *hcl.Diagnostic) (string, int) {
		if d.Subject == nil {
			return "", 0
		}
		return d.Subject.Filename, d.Subject.Start.Byte
	}
	sort.SliceStable(diags, func(i, j int) bool {
		fi, bi := key(diags[i])
		fj, bj := key(diags[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
}

func (d *decoder) rangeOf(path string) hcl.Range {
	for p := path; p != ""; {
		if r, ok := d.ranges[p]; ok {
			return r
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return hcl.Range{Filename: d.root.dir}
}

// subject names what a spec path is about: `service "web"` for a block,
// the attribute name otherwise.
func subject(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) == 2 {
		return fmt.Sprintf("%s %q", parts[0], parts[1])
	}
	last := parts[len(parts)-1]
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	return last
}
