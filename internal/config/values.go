package config

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/teal-deploy/teal/internal/spec"
)

// decoder turns the blocks of a configuration into spec values. It keeps
// every diagnostic, and where each spec path is written, so that problems
// found later by spec.Validate point at the right line.
type decoder struct {
	dir    string // absolute directory of the configuration
	vars   *variables
	ctx    *hcl.EvalContext
	diags  hcl.Diagnostics
	ranges map[string]hcl.Range
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

// value evaluates attr. It returns false when the attribute cannot be used:
// an error (already reported), a value that depends on one, or null, which
// means "not set" as in Terraform.
func (d *decoder) value(path string, attr *hcl.Attribute) (cty.Value, bool) {
	d.ranges[path] = attr.Expr.Range()
	if !d.checkReferences(attr.Expr) {
		return cty.NilVal, false
	}
	val, diags := attr.Expr.Value(d.ctx)
	d.add(diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() || val.IsNull() {
		return cty.NilVal, false
	}
	return val, true
}

// checkReferences reports references to anything but declared variables,
// with a suggestion for a misspelt variable name.
func (d *decoder) checkReferences(expr hcl.Expression) bool {
	ok := true
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if root != "var" {
			d.add(errorAt(tr.SourceRange(), "Unknown reference",
				"%q is not something a configuration can refer to; variables are written var.NAME, like var.version.", root))
			ok = false
			continue
		}
		if len(tr) < 2 {
			d.add(errorAt(tr.SourceRange(), "Invalid reference", "Expected a variable name after var, like var.version."))
			ok = false
			continue
		}
		step, isAttr := tr[1].(hcl.TraverseAttr)
		if !isAttr {
			d.add(errorAt(tr.SourceRange(), "Invalid reference", "Expected a variable name after var, like var.version."))
			ok = false
			continue
		}
		if d.vars.byName[step.Name] == nil {
			d.add(errorAt(tr.SourceRange(), "Reference to undeclared variable",
				"No variable named %q is declared.%s", step.Name, didYouMean(step.Name, d.vars.names())))
			ok = false
		}
	}
	return ok
}

func (d *decoder) typeError(attr *hcl.Attribute, want string, got cty.Value) {
	d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
		"Expected %s; got %s.", want, describe(got)))
}

func (d *decoder) string(path string, attr *hcl.Attribute) (string, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return "", false
	}
	s, err := convert.Convert(val, cty.String)
	if err != nil {
		d.typeError(attr, "a string", val)
		return "", false
	}
	return s.AsString(), true
}

// int reads a whole number of at least min.
func (d *decoder) int(path string, attr *hcl.Attribute, min int) (int, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a whole number", val)
		return 0, false
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i < int64(min) || i > 1<<31 {
		d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
			"Expected a whole number of at least %d; got %s.", min, bf.Text('g', 10)))
		return 0, false
	}
	return int(i), true
}

func (d *decoder) float(path string, attr *hcl.Attribute) (float64, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a number", val)
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, true
}

func (d *decoder) duration(path string, attr *hcl.Attribute) (spec.Duration, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	if val.Type() != cty.String {
		d.typeError(attr, `a duration string, like "30s" or "2m"`, val)
		return 0, false
	}
	dur, err := spec.ParseDuration(val.AsString())
	if err != nil {
		d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name, "%s.", err))
		return 0, false
	}
	return dur, true
}

// number reads any number, like cpus = 0.5.
func (d *decoder) number(path string, attr *hcl.Attribute) (float64, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a number, like 0.5", val)
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, true
}

func (d *decoder) bool(path string, attr *hcl.Attribute) (bool, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return false, false
	}
	b, err := convert.Convert(val, cty.Bool)
	if err != nil {
		d.typeError(attr, "true or false", val)
		return false, false
	}
	return b.True(), true
}

func (d *decoder) byteSize(path string, attr *hcl.Attribute) (spec.ByteSize, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	if val.Type() != cty.String {
		if val.Type() == cty.Number && val.AsBigFloat().Sign() == 0 {
			return 0, true
		}
		d.typeError(attr, `a size string, like "64MiB"`, val)
		return 0, false
	}
	n, err := spec.ParseByteSize(val.AsString())
	if err != nil {
		d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name, "%s.", err))
		return 0, false
	}
	return n, true
}

func (d *decoder) stringList(path string, attr *hcl.Attribute) ([]string, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return nil, false
	}
	ty := val.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		d.typeError(attr, `a list of strings, like ["./bin/web", "-port", "8080"]`, val)
		return nil, false
	}
	var out []string
	for it := val.ElementIterator(); it.Next(); {
		_, el := it.Element()
		s, err := convert.Convert(el, cty.String)
		if err != nil || s.IsNull() {
			d.typeError(attr, "a list of strings", val)
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

func (d *decoder) stringMap(path string, attr *hcl.Attribute) (map[string]string, bool) {
	val, ok := d.value(path, attr)
	if !ok {
		return nil, false
	}
	ty := val.Type()
	if !ty.IsMapType() && !ty.IsObjectType() {
		d.typeError(attr, `a map of strings, like { ENVIRONMENT = "qa" }`, val)
		return nil, false
	}
	out := map[string]string{}
	for it := val.ElementIterator(); it.Next(); {
		k, el := it.Element()
		s, err := convert.Convert(el, cty.String)
		if err != nil || s.IsNull() {
			d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
				"Expected a map of strings; the value of %q is %s.", k.AsString(), describe(el)))
			return nil, false
		}
		out[k.AsString()] = s.AsString()
	}
	return out, true
}

// oneOf reads a string that must be one of options, suggesting the closest.
func (d *decoder) oneOf(path string, attr *hcl.Attribute, options []string) (string, bool) {
	s, ok := d.string(path, attr)
	if !ok {
		return "", false
	}
	for _, o := range options {
		if s == o {
			return s, true
		}
	}
	quoted := make([]string, len(options))
	for i, o := range options {
		quoted[i] = fmt.Sprintf("%q", o)
	}
	sort.Strings(quoted)
	d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
		"%q is not one of %v.%s", s, quoted, didYouMean(s, options)))
	return "", false
}

func describe(v cty.Value) string {
	ty := v.Type()
	switch {
	case ty == cty.String:
		return fmt.Sprintf("the string %q", v.AsString())
	case ty == cty.Number:
		return "the number " + v.AsBigFloat().Text('g', 10)
	case ty == cty.Bool:
		return fmt.Sprintf("the bool %t", v.True())
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		return "a list"
	case ty.IsMapType() || ty.IsObjectType():
		return "a map"
	default:
		return ty.FriendlyName()
	}
}
