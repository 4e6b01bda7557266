package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// mark is the type of the cty marks the decoder puts on values.
type mark string

// sensitiveMark is carried by the value of a variable or output declared
// sensitive = true, and by every value computed from one: cty keeps marks
// through operators, templates, conditionals and function calls.
const sensitiveMark mark = "sensitive"

// conceal marks val sensitive, for a sensitive variable or output or the
// sensitive function. The values inside a map, object or list are marked
// one by one, so that a map of secrets merged into env keeps each entry's
// path ("….env.DB_PASSWORD") and the names stay visible, as names of
// environment variables are in a plan; anything else is marked whole.
func conceal(val cty.Value) cty.Value {
	if !val.IsWhollyKnown() || val.IsNull() || val.Type().IsPrimitiveType() {
		return val.Mark(sensitiveMark)
	}
	plain, marks := val.UnmarkDeepWithPaths()
	out, err := cty.Transform(plain, func(_ cty.Path, v cty.Value) (cty.Value, error) {
		if v.IsNull() || v.Type().IsPrimitiveType() {
			return v.Mark(sensitiveMark), nil
		}
		return v, nil
	})
	if err != nil {
		return val.Mark(sensitiveMark)
	}
	return out.MarkWithPaths(marks)
}

// hidden stands in for a sensitive value in messages.
const hidden = "(sensitive value)"

// sensitivity records, while a configuration is decoded, which spec paths
// hold sensitive values and what those values are, so that no message
// shows them.
type sensitivity struct {
	paths map[string][]string // spec path -> the texts of its sensitive values
}

// record notes that the attribute at path holds val, which is marked
// somewhere. A map or object whose entries are marked one by one records
// each marked entry ("….env.DB_PASSWORD"); anything else records path as
// a whole.
func (s *sensitivity) record(path string, val cty.Value) {
	if s.paths == nil {
		s.paths = map[string][]string{}
	}
	ty := val.Type()
	if !val.IsMarked() && (ty.IsMapType() || ty.IsObjectType()) && val.IsKnown() && !val.IsNull() {
		for it := val.ElementIterator(); it.Next(); {
			k, el := it.Element()
			if el.ContainsMarked() {
				s.record(path+"."+k.AsString(), el)
			}
		}
		return
	}
	s.paths[path] = append(s.paths[path], texts(val)...)
}

// sorted returns the recorded paths, sorted, or nil when there are none.
func (s *sensitivity) sorted() []string {
	if len(s.paths) == 0 {
		return nil
	}
	out := make([]string, 0, len(s.paths))
	for p := range s.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// secretsNear returns the sensitive texts recorded at path, above it or
// below it: anything a message about path might quote.
func (s *sensitivity) secretsNear(path string) []string {
	var out []string
	for p, texts := range s.paths {
		if covers(p, path) || covers(path, p) {
			out = append(out, texts...)
		}
	}
	return out
}

// covers reports whether path is outer or lies below it.
func covers(outer, path string) bool {
	return path == outer || strings.HasPrefix(path, outer) && strings.ContainsRune(".[", rune(path[len(outer)]))
}

// texts lists the strings and numbers in val as a message would quote
// them.
func texts(val cty.Value) []string {
	val, _ = val.UnmarkDeep()
	var out []string
	_ = cty.Walk(val, func(_ cty.Path, v cty.Value) (bool, error) {
		if !v.IsKnown() || v.IsNull() {
			return true, nil
		}
		switch v.Type() {
		case cty.String:
			out = append(out, v.AsString())
		case cty.Number:
			out = append(out, v.AsBigFloat().Text('g', 10))
		}
		return true, nil
	})
	return out
}

// scrub replaces each of secrets in msg, quoted or not, by hidden.
func scrub(msg string, secrets []string) string {
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		if s == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, strconv.Quote(s), hidden)
		msg = strings.ReplaceAll(msg, s, hidden)
	}
	return msg
}

// redactEvaluation hides the details of errors from evaluating an
// expression that used a sensitive value: a function's complaint about
// its argument ("cannot convert "hunter2" to number") quotes it. What the
// error is about, and where, is kept.
func redactEvaluation(diags hcl.Diagnostics) {
	for _, diag := range diags {
		if diag.Severity != hcl.DiagError || diag.Summary == "Call to unknown function" {
			continue // names only what the source says
		}
		diag.Detail = "The expression uses a sensitive value, so the details of this error are not shown."
	}
}
