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
	files map[string]*hcl.File         // for source snippets
	where map[*hcl.Diagnostic][]string // the module instances a diagnostic is about
}

// secretSource, as a diagnostic's Extra, says that its source line holds a
// sensitive value (a var-file's line, a literal given for a sensitive
// variable), so Write does not show it.
type secretSource struct{}

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool { return d.diags.HasErrors() }

// Len returns the number of diagnostics.
func (d Diagnostics) Len() int { return len(d.diags) }

// Error returns every diagnostic, one per line, as file:line:col: summary: detail.
func (d Diagnostics) Error() string {
	lines := make([]string, len(d.diags))
	for i, diag := range d.diags {
		lines[i] = d.oneLine(diag)
	}
	return strings.Join(lines, "\n")
}

// Write prints every diagnostic with the line of source it points at.
func (d Diagnostics) Write(w io.Writer) {
	for _, diag := range d.diags {
		fmt.Fprintln(w, d.oneLine(diag))
		if _, secret := diag.Extra.(secretSource); secret {
			continue
		}
		if snippet := d.snippet(diag.Subject); snippet != "" {
			fmt.Fprint(w, snippet)
		}
	}
}

func (d Diagnostics) oneLine(diag *hcl.Diagnostic) string {
	where := "teal"
	if diag.Subject != nil && diag.Subject.Start.Line == 0 {
		where = diag.Subject.Filename // the command line or the environment
	} else if diag.Subject != nil {
		where = fmt.Sprintf("%s:%d:%d", diag.Subject.Filename, diag.Subject.Start.Line, diag.Subject.Start.Column)
	}
	msg := diag.Summary
	if diag.Detail != "" {
		msg += ": " + diag.Detail
	}
	if addrs := d.where[diag]; len(addrs) > 0 {
		msg += " (in " + strings.Join(addrs, ", ") + ")"
	}
	return fmt.Sprintf("%s: %s: %s", where, severity(diag), msg)
}

func severity(diag *hcl.Diagnostic) string {
	if diag.Severity == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

// Report is what `teal validate -json` prints: the document
// `terraform validate -json` prints, so tools and editors that read one
// read the other.
type Report struct {
	FormatVersion string `json:"format_version"` // "1.0"
	Valid         bool   `json:"valid"`
	ErrorCount    int    `json:"error_count"`
	WarningCount  int    `json:"warning_count"`
	// Diagnostics is never null: [] when there are none.
	Diagnostics []ReportDiagnostic `json:"diagnostics"`
}

// ReportDiagnostic is one diagnostic of a Report.
type ReportDiagnostic struct {
	Severity string `json:"severity"` // "error" or "warning"
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	// Address names the module instances the diagnostic is about, when it
	// is in a module: "module.reporting".
	Address string `json:"address,omitempty"`
	// Range is where in which file; absent for a problem with the command
	// line or the environment, which Detail then names.
	Range *ReportRange `json:"range,omitempty"`
}

// ReportRange is a span of a file; lines and columns count from 1, bytes
// from 0, and End is just past the span.
type ReportRange struct {
	Filename string    `json:"filename"`
	Start    ReportPos `json:"start"`
	End      ReportPos `json:"end"`
}

// ReportPos is a position in a file.
type ReportPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// Report returns the diagnostics as `teal validate -json` prints them.
func (d Diagnostics) Report() Report {
	r := Report{FormatVersion: "1.0", Diagnostics: []ReportDiagnostic{}}
	for _, diag := range d.diags {
		rd := ReportDiagnostic{
			Severity: severity(diag),
			Summary:  diag.Summary,
			Detail:   diag.Detail,
			Address:  strings.Join(d.where[diag], ", "),
		}
		switch s := diag.Subject; {
		case s == nil:
		case s.Start.Line == 0:
			rd.Detail = s.Filename + ": " + rd.Detail
		default:
			rd.Range = &ReportRange{
				Filename: s.Filename,
				Start:    ReportPos{Line: s.Start.Line, Column: s.Start.Column, Byte: s.Start.Byte},
				End:      ReportPos{Line: s.End.Line, Column: s.End.Column, Byte: s.End.Byte},
			}
		}
		if diag.Severity == hcl.DiagWarning {
			r.WarningCount++
		} else {
			r.ErrorCount++
		}
		r.Diagnostics = append(r.Diagnostics, rd)
	}
	r.Valid = r.ErrorCount == 0
	return r
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
