package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// moduleSchema is what a module's files hold; the root configuration is a
// module too.
var moduleSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "load_balancer", LabelNames: []string{"name"}},
		{Type: "service", LabelNames: []string{"name"}},
		{Type: "dns_zone", LabelNames: []string{"name"}},
	},
}

// module is one instance of a module: the root configuration, or the
// directory a module block calls with the inputs that block gives. A
// directory called twice is two instances, with values of their own.
type module struct {
	addr   string // "" for the root; module.web, module.web.module.db
	prefix string // what names of services and load balancers start with when not given: "", "web-", "web-db-"
	dir    string // as given, so that messages name files as the user does
	abs    string
	parent *module
	call   *hcl.Block     // the module block that made this instance; nil for the root
	inputs hcl.Attributes // the call's arguments but source

	vars     *variables
	locals   map[string]*hcl.Attribute
	outputs  map[string]*output
	children []*module
	byCall   map[string]*module   // children by the name of their module block
	calls    map[string]hcl.Range // every module block by name, those with errors too

	loadBalancers hcl.Blocks
	services      hcl.Blocks
	dnsZones      hcl.Blocks
	lbNames       map[string]string // load balancer label -> its final name

	done map[ref]cty.Value // values already resolved; see eval.go
}

// String names the module as messages do.
func (m *module) String() string {
	if m.addr == "" {
		return "the root module"
	}
	return m.addr
}

// walk calls fn for m and every module below it, parents first, in the
// order their module blocks are written.
func (m *module) walk(fn func(*module)) {
	fn(m)
	for _, c := range m.children {
		c.walk(fn)
	}
}

// read parses the files of m's directory and declares what they hold,
// then reads every module m calls. Syntax errors stop it from going
// further into m.
func (d *decoder) read(m *module) {
	m.vars = &variables{byName: map[string]*variable{}, parser: d.parser}
	m.locals, m.outputs = map[string]*hcl.Attribute{}, map[string]*output{}
	m.byCall, m.calls = map[string]*module{}, map[string]hcl.Range{}
	m.lbNames, m.done = map[string]string{}, map[ref]cty.Value{}
	paths, err := Files(m.dir)
	if err != nil || len(paths) == 0 {
		return // reported by the caller, which knows where the directory was named
	}
	var files []*hcl.File
	for _, p := range paths {
		f, fdiags := d.parser.ParseHCLFile(p)
		d.syntax = append(d.syntax, fdiags...)
		if fdiags.HasErrors() {
			return // decoding would only add noise
		}
		files = append(files, f)
	}
	content, diags := hcl.MergeFiles(files).Content(moduleSchema)
	d.report(m, diags...)
	for _, b := range content.Blocks.OfType("variable") {
		d.report(m, m.vars.declare(b)...)
	}
	for _, b := range content.Blocks.OfType("locals") {
		d.declareLocals(m, b)
	}
	for _, b := range content.Blocks.OfType("output") {
		d.declareOutput(m, b)
	}
	for _, b := range content.Blocks.OfType("module") {
		d.call(m, b)
	}
	m.loadBalancers = content.Blocks.OfType("load_balancer")
	m.services = content.Blocks.OfType("service")
	m.dnsZones = content.Blocks.OfType("dns_zone")
}

func (d *decoder) declareLocals(m *module, b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	d.report(m, diags...)
	for _, name := range sortedAttrNames(attrs) {
		a := attrs[name]
		if prev, dup := m.locals[name]; dup {
			d.report(m, errorAt(a.NameRange, "Duplicate local value",
				"A local value named %q is already defined at %s.", name, prev.Range))
			continue
		}
		m.locals[name] = a
	}
}

// unsupportedInputs are Terraform's meta-arguments of module blocks, which
// teal does not have.
var unsupportedInputs = map[string]bool{"count": true, "for_each": true, "depends_on": true, "providers": true, "version": true}

// call reads the module block b of m: its source directory becomes a
// child instance, whose variables its other arguments set.
func (d *decoder) call(m *module, b *hcl.Block) {
	name := b.Labels[0]
	if prev, dup := m.calls[name]; dup {
		d.report(m, errorAt(b.LabelRanges[0], "Duplicate module",
			"A module block named %q is already declared at %s.", name, prev))
		return
	}
	m.calls[name] = b.DefRange
	if !hclsyntax.ValidIdentifier(name) {
		d.report(m, errorAt(b.LabelRanges[0], "Invalid module name",
			"%q is not a valid name; use letters, digits, '_' and '-', starting with a letter.", name))
		return
	}
	attrs, diags := b.Body.JustAttributes()
	d.report(m, diags...)
	src := attrs["source"]
	if src == nil {
		d.report(m, errorAt(b.DefRange, "Missing required argument",
			"A module block needs source, the directory of the module, like source = \"./modules/webapp\"."))
		return
	}
	dir, abs, ok := d.moduleDir(m, name, src)
	if !ok {
		return
	}
	child := &module{
		addr:   strings.TrimPrefix(m.addr+".module."+name, "."),
		prefix: m.prefix + name + "-",
		dir:    dir,
		abs:    abs,
		parent: m,
		call:   b,
		inputs: hcl.Attributes{},
	}
	for k, a := range attrs {
		if k != "source" {
			child.inputs[k] = a
		}
	}
	m.byCall[name] = child
	m.children = append(m.children, child)
	d.read(child)
	d.checkInputs(m, child)
}

// moduleDir returns the directory that module block name of m calls, as
// given and absolute, once it is known to hold configuration files and
// not to be one of the modules calling it.
func (d *decoder) moduleDir(m *module, name string, src *hcl.Attribute) (string, string, bool) {
	source, ok := d.source(m, src)
	if !ok {
		return "", "", false
	}
	dir, abs := filepath.Join(m.dir, source), filepath.Join(m.abs, source)
	for a := m; a != nil; a = a.parent {
		if a.abs == abs {
			d.report(m, errorAt(src.Expr.Range(), "Module cycle",
				"%s calls %s, which is already being read: %s. A module cannot call itself, directly or through other modules.",
				moduleRef(m, name), dir, chain(m, dir)))
			return "", "", false
		}
	}
	if paths, err := Files(dir); err != nil || len(paths) == 0 {
		why := fmt.Sprintf("no *%s file in %s", Extension, dir)
		if err != nil {
			why = err.Error()
		}
		d.report(m, errorAt(src.Expr.Range(), "Cannot read module",
			"%s: %s; source is a directory relative to %s.", moduleRef(m, name), why, m.dirName()))
		return "", "", false
	}
	return dir, abs, true
}

// source reads a module block's source: a literal path that starts with
// ./ or ../, as Terraform's local module sources do.
func (d *decoder) source(m *module, src *hcl.Attribute) (string, bool) {
	bad := func() (string, bool) {
		d.report(m, errorAt(src.Expr.Range(), "Invalid module source",
			"Expected a literal path to a directory that starts with ./ or ../, like \"./modules/webapp\"; teal reads modules from local directories only."))
		return "", false
	}
	if len(src.Expr.Variables()) > 0 {
		return bad()
	}
	v, diags := src.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
		return bad()
	}
	s := v.AsString()
	if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
		return bad()
	}
	return filepath.FromSlash(s), true
}

// checkInputs reports arguments of a module block that are not variables
// of the module, and variables without a default that it leaves out.
func (d *decoder) checkInputs(m, child *module) {
	name := child.call.Labels[0]
	for _, k := range sortedAttrNames(child.inputs) {
		if child.vars.byName[k] != nil {
			continue
		}
		a := child.inputs[k]
		hint := didYouMean(k, child.vars.names())
		if unsupportedInputs[k] {
			hint = fmt.Sprintf(" teal modules do not support %s.", k)
		}
		d.report(m, errorAt(a.NameRange, "Unsupported argument",
			"Module %q (%s) has no variable named %q.%s", name, child.dir, k, hint))
		delete(child.inputs, k)
	}
	for _, k := range child.vars.names() {
		v := child.vars.byName[k]
		if child.inputs[k] == nil && !v.hasDefault && !v.bad {
			d.report(m, errorAt(child.call.DefRange, "Missing required input",
				"Module %q needs a value for variable %q, declared without a default at %s.", name, k, v.decl))
		}
	}
}

// moduleRef names the module block name of m, as a message would.
func moduleRef(m *module, name string) string {
	if m.addr == "" {
		return fmt.Sprintf("module %q", name)
	}
	return fmt.Sprintf("module %q in %s", name, m.addr)
}

// dirName names m's directory for a message.
func (m *module) dirName() string {
	if m.addr == "" {
		return "the configuration directory " + m.dir
	}
	return "the directory of " + m.addr + ", " + m.dir
}

// chain lists the directories from the root to m, then dir.
func chain(m *module, dir string) string {
	var dirs []string
	for a := m; a != nil; a = a.parent {
		dirs = append(dirs, a.dir)
	}
	for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
		dirs[i], dirs[j] = dirs[j], dirs[i]
	}
	return strings.Join(append(dirs, dir), " → ")
}
