package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Vars are the values given for variables from outside the configuration.
// They apply in Terraform's order, later winning: a variable's default,
// then TEAL_VAR_name from Env, then each of Files, then each of Flags.
type Vars struct {
	Env   []string // "KEY=value" pairs, as os.Environ returns them
	Files []string // -var-file paths, in the order given
	Flags []string // -var "name=value" arguments, in the order given
}

// EnvPrefix starts the name of an environment variable that sets a
// configuration variable: TEAL_VAR_version sets var.version.
const EnvPrefix = "TEAL_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "default"},
		{Name: "type"},
		{Name: "description"},
	},
}

// variable is one declared variable and the value it ends up with.
type variable struct {
	name  string
	typ   cty.Type // cty.DynamicPseudoType when no type is declared
	value cty.Value
	decl  hcl.Range
	bad   bool // its declaration has an error already reported
}

// variables holds the declared variables of one configuration.
type variables struct {
	byName map[string]*variable
	parser *hclparse.Parser // var-files are parsed with the configuration's parser for snippets
}

func (vs *variables) names() []string {
	names := make([]string, 0, len(vs.byName))
	for n := range vs.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (vs *variables) declare(block *hcl.Block) hcl.Diagnostics {
	name := block.Labels[0]
	if prev, dup := vs.byName[name]; dup {
		return hcl.Diagnostics{errorAt(block.LabelRanges[0], "Duplicate variable",
			"A variable named %q is already declared at %s.", name, prev.decl)}
	}
	content, diags := block.Body.Content(variableSchema)
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, errorAt(block.LabelRanges[0], "Invalid variable name",
			"%q is not a valid name; use letters, digits, '_' and '-', starting with a letter.", name))
	}
	v := &variable{name: name, typ: cty.DynamicPseudoType, value: cty.NilVal, decl: block.DefRange}
	if attr, ok := content.Attributes["type"]; ok {
		ty, tdiags := typeexpr.TypeConstraint(attr.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.typ = ty
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		val, vdiags := attr.Expr.Value(nil)
		diags = append(diags, vdiags...)
		if !vdiags.HasErrors() {
			conv, err := convert.Convert(val, v.typ)
			if err != nil {
				v.bad = true
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid default value for variable",
					"Expected %s: %s.", typeexpr.TypeString(v.typ), err))
			} else if !conv.IsNull() {
				v.value = conv
			}
		}
	}
	vs.byName[name] = v
	return diags
}

// assign applies the values from outside the configuration, in order.
func (vs *variables) assign(in Vars) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, kv := range in.Env {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		// Like Terraform's TF_VAR_, a TEAL_VAR_ for an undeclared variable is
		// ignored: the environment is shared by many configurations.
		if v := vs.byName[strings.TrimPrefix(name, EnvPrefix)]; v != nil {
			diags = append(diags, v.assignRaw(raw, hcl.Range{Filename: "environment variable " + name})...)
		}
	}
	for _, path := range in.Files {
		diags = append(diags, vs.assignFile(path)...)
	}
	for _, arg := range in.Flags {
		where := hcl.Range{Filename: fmt.Sprintf("-var %q", arg)}
		name, raw, ok := strings.Cut(arg, "=")
		if !ok || name == "" {
			diags = append(diags, errorAt(where, "Invalid -var option",
				"Expected name=value, like -var version=1.2.0."))
			continue
		}
		v := vs.byName[name]
		if v == nil {
			diags = append(diags, errorAt(where, "Value for undeclared variable",
				"No variable named %q is declared in the configuration.%s", name, didYouMean(name, vs.names())))
			continue
		}
		diags = append(diags, v.assignRaw(raw, where)...)
	}
	for _, name := range vs.names() {
		v := vs.byName[name]
		if v.value == cty.NilVal && !v.bad {
			diags = append(diags, errorAt(v.decl, "No value for required variable",
				"Variable %q has no default; set it with -var %s=..., %s%s or a -var-file.", name, name, EnvPrefix, name))
		}
	}
	return diags
}

func (vs *variables) assignFile(path string) hcl.Diagnostics {
	f, diags := vs.parser.ParseHCLFile(path)
	if diags.HasErrors() {
		return diags
	}
	attrs, adiags := f.Body.JustAttributes()
	diags = append(diags, adiags...)
	for _, name := range sortedAttrNames(attrs) {
		attr := attrs[name]
		v := vs.byName[name]
		if v == nil {
			diags = append(diags, errorAt(attr.NameRange, "Value for undeclared variable",
				"No variable named %q is declared in the configuration.%s", name, didYouMean(name, vs.names())))
			continue
		}
		val, vdiags := attr.Expr.Value(nil)
		diags = append(diags, vdiags...)
		if !vdiags.HasErrors() {
			diags = append(diags, v.set(val, attr.Expr.Range())...)
		}
	}
	return diags
}

// assignRaw sets v from a string given on the command line or in the
// environment. As in Terraform, the string is the value for a variable of
// type string or without a type, and an HCL expression for any other type.
func (v *variable) assignRaw(raw string, where hcl.Range) hcl.Diagnostics {
	if v.typ == cty.String || v.typ == cty.DynamicPseudoType {
		return v.set(cty.StringVal(raw), where)
	}
	invalid := hcl.Diagnostics{errorAt(where, "Invalid value for variable",
		"Variable %q is of type %s; %q is not an expression of that type.", v.name, typeexpr.TypeString(v.typ), raw)}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), where.Filename, hcl.InitialPos)
	if diags.HasErrors() {
		return invalid
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return invalid
	}
	return v.set(val, where)
}

func (v *variable) set(val cty.Value, where hcl.Range) hcl.Diagnostics {
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		return hcl.Diagnostics{errorAt(where, "Invalid value for variable",
			"Variable %q expects %s: %s.", v.name, typeexpr.TypeString(v.typ), err)}
	}
	if conv.IsNull() {
		return nil // null means "not set", as in Terraform
	}
	v.value = conv
	return nil
}

// object returns the variables as the value of "var" in expressions.
func (vs *variables) object() cty.Value {
	vals := make(map[string]cty.Value, len(vs.byName))
	for name, v := range vs.byName {
		if v.value == cty.NilVal {
			vals[name] = cty.DynamicVal // already reported; keep evaluating the rest
		} else {
			vals[name] = v.value
		}
	}
	return cty.ObjectVal(vals)
}

func sortedAttrNames(attrs hcl.Attributes) []string {
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return attrs[names[i]].NameRange.Start.Byte < attrs[names[j]].NameRange.Start.Byte
	})
	return names
}
