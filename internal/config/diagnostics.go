package config

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
)

// Diagnostics are the problems found in a configuration, each with the
// file, line and column it is about. Loading collects all of them rather
// than stopping at the first.
type Diagnostics struct {
	diags hcl.Diagnostics
	files map[string]*hcl.File // for source snippets
}

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool { return d.diags.HasErrors() }

// Len returns the number of diagnostics.
func (d Diagnostics) Len() int { return len(d.diags) }

// Error returns every diagnostic, one per line, as file:line:col: summary: detail.
func (d Diagnostics) Error() string {
	lines := make([]string, len(d.diags))
	for i, diag := range d.diags {
		lines[i] = oneLine(diag)
	}
	return strings.Join(lines, "\n")
}

// Write prints every diagnostic with the line of source it points at.
func (d Diagnostics) Write(w io.Writer) {
	for _, diag := range d.diags {
		fmt.Fprintln(w, oneLine(diag))
		if snippet := d.snippet(diag.Subject); snippet != "" {
			fmt.Fprint(w, snippet)
		}
	}
}

func oneLine(diag *hcl.Diagnostic) string {
	where := "teal"
	if diag.Subject != nil && diag.Subject.Start.Line == 0 {
		where = diag.Subject.Filename // the command line or the environment
	} else if diag.Subject != nil {
		where = fmt.Sprintf("%s:%d:%d", diag.Subject.Filename, diag.Subject.Start.Line, diag.Subject.Start.Column)
	}
	severity := "error"
	if diag.Severity == hcl.DiagWarning {
		severity = "warning"
	}
	msg := diag.Summary
	if diag.Detail != "" {
		msg += ": " + diag.Detail
	}
	return fmt.Sprintf("%s: %s: %s", where, severity, msg)
}

// snippet renders the source line of r with a caret line under the range.
func (d Diagnostics) snippet(r *hcl.Range) string {
	if r == nil {
		return ""
	}
	f := d.files[r.Filename]
	if f == nil {
		return ""
	}
	lines := bytes.Split(f.Bytes, []byte("\n"))
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return ""
	}
	line := strings.TrimRight(string(lines[r.Start.Line-1]), "\r")
	width := 1
	if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
		width = r.End.Column - r.Start.Column
	}
	pad := ""
	for i, c := range line {
		if i >= r.Start.Column-1 {
			break
		}
		if c == '\t' {
			pad += "\t"
		} else {
			pad += " "
		}
	}
	gutter := fmt.Sprintf("%5d | ", r.Start.Line)
	return fmt.Sprintf("%s%s\n%s| %s%s\n", gutter, line, strings.Repeat(" ", len(gutter)-2), pad, strings.Repeat("^", width))
}

// errorAt returns an error diagnostic about r.
func errorAt(r hcl.Range, summary, detail string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  r.Ptr(),
	}
}

// suggest returns the name in options closest to given, or "" when none is
// close enough to be what was meant.
func suggest(given string, options []string) string {
	best, bestDist := "", 3
	for _, o := range options {
		if d := levenshtein.Distance(given, o, nil); d < bestDist {
			best, bestDist = o, d
		}
	}
	return best
}

// didYouMean returns " Did you mean "x"?" when an option is close to given.
func didYouMean(given string, options []string) string {
	if s := suggest(given, options); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}
