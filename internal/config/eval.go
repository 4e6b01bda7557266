package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Expressions are evaluated lazily: before an expression is, each value
// it refers to (var.x, local.y, module.z.out) is resolved, once per module
// instance, and only then, so that locals and outputs may be written in
// any order. A value that is being resolved when it is asked for again is
// a cycle; it resolves to unknown after one error, and every value that
// depends on an unknown one is unknown too, without further errors.

// ref names a value a module's expressions refer to: var.NAME, local.NAME,
// or the module's own output NAME, which its parent reads as
// module.CALL.NAME.
type ref struct {
	kind string // "var", "local" or "output"
	name string
}

// frame is a value being resolved.
type frame struct {
	m *module
	r ref
}

func (f frame) String() string {
	s := f.r.kind + "." + f.r.name
	if f.m.addr != "" {
		s = f.m.addr + "." + s
	}
	return s
}

// scope holds the values one expression refers to, by namespace.
type scope struct {
	vars, locals, paths map[string]cty.Value
	modules             map[string]map[string]cty.Value
	unread              map[string]cty.Value // modules whose blocks have errors: unknown
	sensitive           bool                 // one of them is, at least in part
}

func put(ns *map[string]cty.Value, name string, v cty.Value) {
	if *ns == nil {
		*ns = map[string]cty.Value{}
	}
	(*ns)[name] = v
}

func (s *scope) context(base *hcl.EvalContext) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for name, ns := range map[string]map[string]cty.Value{"var": s.vars, "local": s.locals, "path": s.paths} {
		if ns != nil {
			vars[name] = cty.ObjectVal(ns)
		}
	}
	if s.modules != nil || s.unread != nil {
		mods := map[string]cty.Value{}
		for name, outs := range s.modules {
			mods[name] = cty.ObjectVal(outs)
		}
		for name, v := range s.unread {
			mods[name] = v
		}
		vars["module"] = cty.ObjectVal(mods)
	}
	return &hcl.EvalContext{Variables: vars, Functions: base.Functions}
}

// eval evaluates expr in module m. Its diagnostics are the caller's to
// report.
func (d *decoder) eval(m *module, expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	if diags := d.checkFunctions(expr); diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	traversals := expr.Variables()
	if len(traversals) == 0 {
		return expr.Value(d.base)
	}
	s := &scope{}
	var diags hcl.Diagnostics
	for _, tr := range traversals {
		diags = append(diags, d.refer(m, tr, s)...)
	}
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	val, vdiags := expr.Value(s.context(d.base))
	if s.sensitive {
		redactEvaluation(vdiags)
	}
	return val, append(diags, vdiags...)
}

// checkFunctions reports calls of functions that do not exist, with the
// closest name (HCL's own suggestion is whichever close one it meets
// first).
func (d *decoder) checkFunctions(expr hcl.Expression) hcl.Diagnostics {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return nil
	}
	return hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		if _, known := d.base.Functions[call.Name]; known {
			return nil
		}
		return hcl.Diagnostics{errorAt(call.NameRange, "Call to unknown function",
			"There is no function named %q.%s The README lists the functions teal has.",
			call.Name, didYouMean(call.Name, keys(d.base.Functions)))}
	})
}

// refer checks that tr names something m can refer to, and resolves it
// into s.
func (d *decoder) refer(m *module, tr hcl.Traversal, s *scope) hcl.Diagnostics {
	at := tr.SourceRange()
	invalid := func(format string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{errorAt(at, "Invalid reference", format, args...)}
	}
	var v cty.Value
	switch root := tr.RootName(); root {
	case "var":
		name, ok := step(tr, 1)
		if !ok {
			return invalid("Expected a variable name after var, like var.version.")
		}
		if m.vars.byName[name] == nil {
			return hcl.Diagnostics{errorAt(at, "Reference to undeclared variable",
				"No variable named %q is declared.%s", name, didYouMean(name, m.vars.names()))}
		}
		v = d.resolve(m, m, ref{"var", name}, at)
		put(&s.vars, name, v)
	case "local":
		name, ok := step(tr, 1)
		if !ok {
			return invalid("Expected the name of a local value after local, like local.name.")
		}
		if m.locals[name] == nil {
			return hcl.Diagnostics{errorAt(at, "Reference to undeclared local value",
				"No local value named %q is declared.%s", name, didYouMean(name, keys(m.locals)))}
		}
		v = d.resolve(m, m, ref{"local", name}, at)
		put(&s.locals, name, v)
	case "module":
		return d.referModule(m, tr, s)
	case "path":
		name, _ := step(tr, 1)
		switch name {
		case "module":
			v = cty.StringVal(m.abs)
		case "root":
			v = cty.StringVal(d.root.abs)
		default:
			return invalid("Expected path.module (the directory of this module) or path.root (the configuration's).")
		}
		put(&s.paths, name, v)
	default:
		return hcl.Diagnostics{errorAt(at, "Unknown reference",
			"%q is not something a configuration can refer to; expected var.NAME, local.NAME, module.NAME.OUTPUT, path.module or path.root.%s",
			root, didYouMean(root, []string{"var", "local", "module", "path"}))}
	}
	s.sensitive = s.sensitive || v.ContainsMarked()
	return nil
}

// referModule resolves module.NAME.OUTPUT, or every output for module.NAME.
func (d *decoder) referModule(m *module, tr hcl.Traversal, s *scope) hcl.Diagnostics {
	at := tr.SourceRange()
	name, ok := step(tr, 1)
	if !ok {
		return hcl.Diagnostics{errorAt(at, "Invalid reference", "Expected a module name after module, like module.web.url.")}
	}
	child := m.byCall[name]
	if child == nil {
		if _, declared := m.calls[name]; declared {
			put(&s.unread, name, cty.DynamicVal) // its block has an error, reported already
			return nil
		}
		return hcl.Diagnostics{errorAt(at, "Reference to undeclared module",
			"No module block named %q is declared.%s", name, didYouMean(name, keys(m.byCall)))}
	}
	outs := s.modules[name]
	if outs == nil {
		outs = map[string]cty.Value{}
		if s.modules == nil {
			s.modules = map[string]map[string]cty.Value{}
		}
		s.modules[name] = outs
	}
	wanted := keys(child.outputs)
	if out, ok := step(tr, 2); ok {
		if child.outputs[out] == nil {
			return hcl.Diagnostics{errorAt(at, "Unsupported attribute",
				"Module %q has no output named %q.%s", name, out, didYouMean(out, wanted))}
		}
		wanted = []string{out}
	}
	for _, out := range wanted {
		v := d.resolve(m, child, ref{"output", out}, at)
		outs[out] = v
		s.sensitive = s.sensitive || v.ContainsMarked()
	}
	return nil
}

// step returns the attribute name at position i of tr.
func step(tr hcl.Traversal, i int) (string, bool) {
	if len(tr) <= i {
		return "", false
	}
	a, ok := tr[i].(hcl.TraverseAttr)
	return a.Name, ok
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// resolve returns the value r names in module m, working it out the first
// time. at is where it is referred to, in module from, for a cycle's
// error.
func (d *decoder) resolve(from, m *module, r ref, at hcl.Range) cty.Value {
	if v, ok := m.done[r]; ok {
		return v
	}
	f := frame{m, r}
	for i, g := range d.stack {
		if g == f {
			loop := make([]string, 0, len(d.stack)-i+1)
			for _, h := range d.stack[i:] {
				loop = append(loop, h.String())
			}
			d.report(from, errorAt(at, "Cycle in references",
				"These values refer to each other in a loop, so none of them can be worked out: %s → %s.",
				strings.Join(loop, " → "), f))
			return cty.DynamicVal
		}
	}
	d.stack = append(d.stack, f)
	var v cty.Value
	switch r.kind {
	case "var":
		v = d.variableValue(m, m.vars.byName[r.name])
	case "local":
		v = d.expression(m, m.locals[r.name].Expr)
	case "output":
		o := m.outputs[r.name]
		v = d.expression(m, o.value)
		if o.sensitive {
			v = conceal(v)
		}
	}
	d.stack = d.stack[:len(d.stack)-1]
	m.done[r] = v
	if r.kind == "var" && !d.validate(m, m.vars.byName[r.name], v) {
		v = cty.DynamicVal // what depends on it would only repeat the error
		m.done[r] = v
	}
	return v
}

// expression evaluates expr in m and reports what is wrong with it; an
// expression with an error is unknown.
func (d *decoder) expression(m *module, expr hcl.Expression) cty.Value {
	v, diags := d.eval(m, expr)
	d.report(m, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal
	}
	return v
}

// variableValue is the value of v in m: for the root module, what was set
// from outside or the default; for any other, what the module block gives
// (evaluated where the block is) or the default.
func (d *decoder) variableValue(m *module, v *variable) cty.Value {
	var val cty.Value
	input := m.inputs[v.name]
	switch {
	case m.parent == nil && v.value != cty.NilVal:
		val = v.value
	case input != nil:
		in := d.expression(m.parent, input.Expr)
		if !in.IsWhollyKnown() {
			return cty.DynamicVal
		}
		conv, diags := v.convert(in, input.Expr.Range())
		d.report(m, diags...)
		if diags.HasErrors() {
			return cty.DynamicVal
		}
		val = conv
		if val.IsNull() && !v.nullable {
			if !v.hasDefault {
				d.report(m, v.hide(hcl.Diagnostics{errorAt(input.Expr.Range(), "Invalid value for variable",
					"Variable %q has nullable = false and no default, so it needs a value other than null.", v.name)})...)
				return cty.DynamicVal
			}
			val = v.def
		}
	case v.hasDefault:
		val = v.def
	default:
		return cty.DynamicVal // required and not given: reported already
	}
	if v.sensitive {
		val = conceal(val)
	}
	return val
}

// sourceIn returns where the value of v in m comes from: the argument of
// the module block, what set it from outside, or its default.
func (v *variable) sourceIn(m *module) hcl.Range {
	if a := m.inputs[v.name]; a != nil {
		return a.Expr.Range()
	}
	if m.parent == nil && v.value != cty.NilVal {
		return v.source
	}
	return v.defRange
}

// validate checks val, the value of v in m, against v's validation
// blocks, and reports whether it passed. A failing condition is an error
// where the value comes from.
func (d *decoder) validate(m *module, v *variable, val cty.Value) bool {
	if !val.IsWhollyKnown() {
		return true
	}
	valid := true
	for _, rule := range v.validations {
		cond := d.expression(m, rule.condition)
		if !cond.IsKnown() {
			continue
		}
		secret := cond.ContainsMarked()
		cond, _ = cond.UnmarkDeep()
		b, err := convert.Convert(cond, cty.Bool)
		if err != nil || b.IsNull() {
			d.report(m, errorAt(rule.condition.Range(), "Invalid validation condition",
				"Expected true or false; got %s.", describe(cond, secret)))
			continue
		}
		if b.True() {
			continue
		}
		msg := d.errorMessage(m, rule.message)
		d.report(m, v.hide(hcl.Diagnostics{errorAt(v.sourceIn(m), "Invalid value for variable",
			"%s This was checked by the validation rule at %s.", msg, rule.decl)})...)
		valid = false
	}
	return valid
}

func (d *decoder) errorMessage(m *module, expr hcl.Expression) string {
	msg := d.expression(m, expr)
	if !msg.IsWhollyKnown() {
		return "The value is not valid."
	}
	if msg.ContainsMarked() {
		return "The value is not valid; the error message refers to sensitive values, so it is not shown."
	}
	s, err := convert.Convert(msg, cty.String)
	if err != nil || s.IsNull() {
		d.report(m, errorAt(expr.Range(), "Invalid error_message", "Expected a string; got %s.", describe(msg, false)))
		return "The value is not valid."
	}
	return s.AsString()
}
