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

// value evaluates attr in the module being decoded. It returns false when
// the attribute cannot be used: an error (already reported), a value that
// depends on one, or null, which means "not set" as in Terraform. The
// value it returns carries no marks; secret says whether any of it came
// from a sensitive value, and then the path is recorded as sensitive.
func (d *decoder) value(path string, attr *hcl.Attribute) (val cty.Value, secret, ok bool) {
	d.ranges[path] = attr.Expr.Range()
	val, diags := d.eval(d.mod, attr.Expr)
	d.add(diags...)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		d.failed[path] = true
		return cty.NilVal, false, false
	}
	if val.ContainsMarked() {
		if plain, _ := val.UnmarkDeep(); plain.IsNull() {
			return cty.NilVal, false, false
		}
		d.sensitive.record(path, val)
		val, _ = val.UnmarkDeep()
		secret = true
	}
	if val.IsNull() {
		return cty.NilVal, false, false
	}
	return val, secret, true
}

func (d *decoder) typeError(attr *hcl.Attribute, want string, got cty.Value, secret bool) {
	d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
		"Expected %s; got %s.", want, describe(got, secret)))
}

// invalid reports err about the value text of attr, which it does not
// quote when the value is sensitive.
func (d *decoder) invalid(attr *hcl.Attribute, err error, text string, secret bool) {
	msg := err.Error()
	if secret {
		msg = scrub(msg, []string{text})
	}
	d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name, "%s.", msg))
}

func (d *decoder) string(path string, attr *hcl.Attribute) (string, bool) {
	s, _, ok := d.text(path, attr)
	return s, ok
}

// text reads a string, and whether it is sensitive.
func (d *decoder) text(path string, attr *hcl.Attribute) (string, bool, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return "", false, false
	}
	s, err := convert.Convert(val, cty.String)
	if err != nil {
		d.typeError(attr, "a string", val, secret)
		return "", false, false
	}
	return s.AsString(), secret, true
}

// int reads a whole number of at least min.
func (d *decoder) int(path string, attr *hcl.Attribute, min int) (int, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a whole number", val, secret)
		return 0, false
	}
	bf := n.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i < int64(min) || i > 1<<31 {
		got := bf.Text('g', 10)
		if secret {
			got = hidden
		}
		d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
			"Expected a whole number of at least %d; got %s.", min, got))
		return 0, false
	}
	return int(i), true
}

func (d *decoder) float(path string, attr *hcl.Attribute) (float64, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a number", val, secret)
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, true
}

func (d *decoder) duration(path string, attr *hcl.Attribute) (spec.Duration, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	if val.Type() != cty.String {
		d.typeError(attr, `a duration string, like "30s" or "2m"`, val, secret)
		return 0, false
	}
	dur, err := spec.ParseDuration(val.AsString())
	if err != nil {
		d.invalid(attr, err, val.AsString(), secret)
		return 0, false
	}
	return dur, true
}

// number reads any number, like cpus = 0.5.
func (d *decoder) number(path string, attr *hcl.Attribute) (float64, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	n, err := convert.Convert(val, cty.Number)
	if err != nil {
		d.typeError(attr, "a number, like 0.5", val, secret)
		return 0, false
	}
	f, _ := n.AsBigFloat().Float64()
	return f, true
}

func (d *decoder) bool(path string, attr *hcl.Attribute) (bool, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return false, false
	}
	b, err := convert.Convert(val, cty.Bool)
	if err != nil {
		d.typeError(attr, "true or false", val, secret)
		return false, false
	}
	return b.True(), true
}

func (d *decoder) byteSize(path string, attr *hcl.Attribute) (spec.ByteSize, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return 0, false
	}
	if val.Type() != cty.String {
		if val.Type() == cty.Number && val.AsBigFloat().Sign() == 0 {
			return 0, true
		}
		d.typeError(attr, `a size string, like "64MiB"`, val, secret)
		return 0, false
	}
	n, err := spec.ParseByteSize(val.AsString())
	if err != nil {
		d.invalid(attr, err, val.AsString(), secret)
		return 0, false
	}
	return n, true
}

func (d *decoder) stringList(path string, attr *hcl.Attribute) ([]string, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return nil, false
	}
	ty := val.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		d.typeError(attr, `a list of strings, like ["./bin/web", "-port", "8080"]`, val, secret)
		return nil, false
	}
	var out []string
	for it := val.ElementIterator(); it.Next(); {
		_, el := it.Element()
		s, err := convert.Convert(el, cty.String)
		if err != nil || s.IsNull() {
			d.typeError(attr, "a list of strings", val, secret)
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

func (d *decoder) stringMap(path string, attr *hcl.Attribute) (map[string]string, bool) {
	val, secret, ok := d.value(path, attr)
	if !ok {
		return nil, false
	}
	ty := val.Type()
	if !ty.IsMapType() && !ty.IsObjectType() {
		d.typeError(attr, `a map of strings, like { ENVIRONMENT = "qa" }`, val, secret)
		return nil, false
	}
	out := map[string]string{}
	for it := val.ElementIterator(); it.Next(); {
		k, el := it.Element()
		s, err := convert.Convert(el, cty.String)
		if err != nil || s.IsNull() {
			d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
				"Expected a map of strings; the value of %q is %s.", k.AsString(), describe(el, secret)))
			return nil, false
		}
		out[k.AsString()] = s.AsString()
	}
	return out, true
}

// oneOf reads a string that must be one of options, suggesting the closest.
func (d *decoder) oneOf(path string, attr *hcl.Attribute, options []string) (string, bool) {
	s, secret, ok := d.text(path, attr)
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
	if secret {
		d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name, "The sensitive value given is not one of %v.", quoted))
		return "", false
	}
	d.add(errorAt(attr.Expr.Range(), "Invalid "+attr.Name,
		"%q is not one of %v.%s", s, quoted, didYouMean(s, options)))
	return "", false
}

// describe names v's type and, unless it is secret, its value.
func describe(v cty.Value, secret bool) string {
	ty := v.Type()
	switch {
	case v.IsNull():
		return "null"
	case secret && (ty == cty.String || ty == cty.Number || ty == cty.Bool):
		return "a sensitive " + ty.FriendlyName()
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
