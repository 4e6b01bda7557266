package config

import (
	"encoding/json"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "value", Required: true}, {Name: "description"}, {Name: "sensitive"}},
}

// output is one output block.
type output struct {
	name        string
	value       hcl.Expression
	description string
	sensitive   bool
	decl        hcl.Range
}

// Output is an output of the root module: a value the configuration
// computes for people or scripts to read, as `teal validate` shows it.
type Output struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Sensitive outputs are never shown: Value is nil and String says so.
	Sensitive bool   `json:"sensitive"`
	Type      string `json:"type"` // as a type constraint is written: string, list(string) …
	// Value is the value in JSON; nil when Sensitive.
	Value json.RawMessage `json:"value,omitempty"`
	hcl   string
}

// String returns the value as HCL writes it, or "<sensitive>".
func (o Output) String() string {
	if o.Sensitive {
		return "<sensitive>"
	}
	return o.hcl
}

func (d *decoder) declareOutput(m *module, b *hcl.Block) {
	name := b.Labels[0]
	if prev, dup := m.outputs[name]; dup {
		d.report(m, errorAt(b.LabelRanges[0], "Duplicate output",
			"An output named %q is already declared at %s.", name, prev.decl))
		return
	}
	if !hclsyntax.ValidIdentifier(name) {
		d.report(m, errorAt(b.LabelRanges[0], "Invalid output name",
			"%q is not a valid name; use letters, digits, '_' and '-', starting with a letter.", name))
	}
	c, diags := b.Body.Content(outputSchema)
	d.report(m, diags...)
	o := &output{name: name, decl: b.DefRange, value: hcl.StaticExpr(cty.DynamicVal, b.DefRange)}
	if a := c.Attributes["value"]; a != nil {
		o.value = a.Expr
	}
	d.report(m, literalBool(c.Attributes["sensitive"], &o.sensitive)...)
	if a := c.Attributes["description"]; a != nil {
		if v, vdiags := a.Expr.Value(nil); !vdiags.HasErrors() && v.Type() == cty.String && !v.IsNull() {
			o.description = v.AsString()
		} else {
			d.report(m, errorAt(a.Expr.Range(), "Invalid description", "Expected a literal string."))
		}
	}
	m.outputs[name] = o
}

// outputs returns the root module's outputs, sorted by name, once every
// value has been resolved. As in Terraform, a root output computed from a
// sensitive value must say sensitive = true: that it is withheld is then
// written where people read the configuration.
func (d *decoder) outputs() []Output {
	var out []Output
	for _, name := range keys(d.root.outputs) {
		o := d.root.outputs[name]
		val := d.root.done[ref{"output", name}]
		if val == cty.NilVal || !val.IsWhollyKnown() {
			continue // its error is reported
		}
		if !o.sensitive && val.ContainsMarked() {
			d.report(d.root, errorAt(o.value.Range(), "Output refers to sensitive values",
				"Output %q is computed from a sensitive value; add sensitive = true to its block so that it is never shown.", name))
			continue
		}
		val, _ = val.UnmarkDeep()
		res := Output{Name: name, Description: o.description, Sensitive: o.sensitive, Type: typeexpr.TypeString(val.Type())}
		if !o.sensitive {
			if b, err := ctyjson.Marshal(val, val.Type()); err == nil {
				res.Value = b
			}
			res.hcl = string(hclwrite.TokensForValue(val).Bytes())
		}
		out = append(out, res)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
