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

// Vars are the values given for the root module's variables from outside
// the configuration. They apply in Terraform's order, later winning: a
// variable's default, then TEAL_VAR_name from Env, then each of Files,
// then each of Flags.
type Vars struct {
	Env   []string // "KEY=value" pairs, as os.Environ returns them
	Files []string // -var-file paths, in the order given
	Flags []string // -var "name=value" arguments, in the order given
}

// EnvPrefix starts the name of an environment variable that sets a
// configuration variable: TEAL_VAR_version sets var.version.
const EnvPrefix = "TEAL_VAR_"

var (
	variableSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "default"}, {Name: "type"}, {Name: "description"}, {Name: "sensitive"}, {Name: "nullable"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
	}
	validationSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
	}
)

// variable is one declared variable and, for the root module, the value
// set from outside.
type variable struct {
	name     string
	typ      cty.Type // cty.DynamicPseudoType when no type is declared
	defaults *typeexpr.Defaults
	// sensitive marks the value, and everything computed from it, so that
	// it is never shown.
	sensitive bool
	// nullable lets null be the variable's value, as in Terraform; when
	// false, a null given for it means "use the default".
	nullable    bool
	hasDefault  bool
	def         cty.Value // converted; a null for default = null
	defRange    hcl.Range
	validations []validation
	decl        hcl.Range
	bad         bool // its declaration, or a value given for it, has an error already reported

	value  cty.Value // set from outside (root module only); cty.NilVal until then
	source hcl.Range // where value came from
}

// validation is one validation block of a variable.
type validation struct {
	condition hcl.Expression
	message   hcl.Expression
	decl      hcl.Range
}

// variables holds the declared variables of one module.
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
	v := &variable{name: name, typ: cty.DynamicPseudoType, nullable: true, value: cty.NilVal, decl: block.DefRange}
	vs.byName[name] = v
	diags = append(diags, literalBool(content.Attributes["sensitive"], &v.sensitive)...)
	diags = append(diags, literalBool(content.Attributes["nullable"], &v.nullable)...)
	if attr, ok := content.Attributes["description"]; ok {
		if _, ddiags := attr.Expr.Value(nil); ddiags.HasErrors() {
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid description", "Expected a literal string."))
		}
	}
	if attr, ok := content.Attributes["type"]; ok {
		ty, defaults, tdiags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.typ, v.defaults = ty, defaults
		} else {
			v.bad = true
		}
	}
	if attr, ok := content.Attributes["default"]; ok {
		diags = append(diags, v.declareDefault(attr)...)
	}
	for _, b := range content.Blocks.OfType("validation") {
		vc, vdiags := b.Body.Content(validationSchema)
		diags = append(diags, vdiags...)
		if vc.Attributes["condition"] != nil && vc.Attributes["error_message"] != nil {
			v.validations = append(v.validations, validation{
				condition: vc.Attributes["condition"].Expr,
				message:   vc.Attributes["error_message"].Expr,
				decl:      b.DefRange,
			})
		}
	}
	return diags
}

// declareDefault reads a default, which must be a constant, as in
// Terraform.
func (v *variable) declareDefault(attr *hcl.Attribute) hcl.Diagnostics {
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		v.bad = true
		return hcl.Diagnostics{errorAt(attr.Expr.Range(), "Invalid default value for variable",
			"A default must be a constant value, like \"1.0\", 2 or [\"a\"]; it cannot refer to anything.")}
	}
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		v.bad = true
		return v.hide(hcl.Diagnostics{errorAt(attr.Expr.Range(), "Invalid default value for variable",
			"Expected %s: %s.", typeexpr.TypeString(v.typ), describeConversion(err))})
	}
	if conv.IsNull() && !v.nullable {
		return nil // null means "not set": the variable is required
	}
	v.hasDefault, v.def, v.defRange = true, conv, attr.Expr.Range()
	return nil
}

func literalBool(attr *hcl.Attribute, dst *bool) hcl.Diagnostics {
	if attr == nil {
		return nil
	}
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() || val.Type() != cty.Bool || val.IsNull() {
		return hcl.Diagnostics{errorAt(attr.Expr.Range(), "Invalid "+attr.Name, "Expected true or false, written literally.")}
	}
	*dst = val.True()
	return nil
}

// assign applies the root module's values from outside the configuration,
// in order.
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
		if v := vs.byName[name]; ok && v != nil && v.sensitive {
			where.Filename = fmt.Sprintf("-var %q", name+"=…") // the command line is no place to repeat a secret
		}
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
		if v.value == cty.NilVal && !v.hasDefault && !v.bad {
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
	shown := fmt.Sprintf("%q", raw)
	if v.sensitive {
		shown = "the value given"
	}
	invalid := hcl.Diagnostics{errorAt(where, "Invalid value for variable",
		"Variable %q is of type %s; %s is not an expression of that type.", v.name, typeexpr.TypeString(v.typ), shown)}
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

// set assigns a value given from outside. A null means "not set" unless
// the variable is nullable, as in Terraform.
func (v *variable) set(val cty.Value, where hcl.Range) hcl.Diagnostics {
	conv, diags := v.convert(val, where)
	if diags.HasErrors() {
		v.bad = true // it was given, wrongly: not "required"
		return diags
	}
	if conv.IsNull() && !v.nullable {
		return nil
	}
	v.value, v.source = conv, where
	return nil
}

// convert applies the defaults of optional object attributes and converts
// val to the variable's type. Its error never quotes the value: converting
// says what is wrong with its type, not what it is.
func (v *variable) convert(val cty.Value, where hcl.Range) (cty.Value, hcl.Diagnostics) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		return cty.DynamicVal, v.hide(hcl.Diagnostics{errorAt(where, "Invalid value for variable",
			"Variable %q expects %s: %s.", v.name, typeexpr.TypeString(v.typ), describeConversion(err))})
	}
	return conv, nil
}

// hide keeps the source line of diagnostics about a sensitive variable's
// value from being shown: in a var-file, it is the secret itself.
func (v *variable) hide(diags hcl.Diagnostics) hcl.Diagnostics {
	if v.sensitive {
		for _, d := range diags {
			d.Extra = secretSource{}
		}
	}
	return diags
}

// describeConversion says what a conversion error is about, with the path
// into the value it concerns: `attribute "port": a number is required`.
func describeConversion(err error) string {
	pe, ok := err.(cty.PathError)
	if !ok || len(pe.Path) == 0 {
		return err.Error()
	}
	var at []string
	for _, step := range pe.Path {
		switch s := step.(type) {
		case cty.GetAttrStep:
			at = append(at, fmt.Sprintf("attribute %q", s.Name))
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				at = append(at, fmt.Sprintf("key %q", s.Key.AsString()))
			} else if s.Key.Type() == cty.Number {
				at = append(at, "element "+s.Key.AsBigFloat().Text('f', 0))
			}
		}
	}
	return strings.Join(at, ", ") + ": " + err.Error()
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
