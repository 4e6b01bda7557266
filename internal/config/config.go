// Package config reads a configuration directory of HCL files into a
// spec.Desired: it resolves variables and relative paths, fills in
// defaults, and reports every problem with its file, line and column.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/teal-deploy/teal/internal/spec"
)

// Extension is the file extension of configuration files; every file with
// it in a configuration directory is read, like Terraform's *.tf.
const Extension = ".hcl"

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "load_balancer", LabelNames: []string{"name"}},
		{Type: "service", LabelNames: []string{"name"}},
	},
}

// Load reads every *.hcl file in dir and returns the desired state it
// describes. When the diagnostics hold errors, the desired state must not
// be used.
func Load(dir string, in Vars) (spec.Desired, Diagnostics) {
	parser := hclparse.NewParser()
	desired, diags := load(parser, dir, in)
	return desired, Diagnostics{diags: diags, files: parser.Files()}
}

func load(parser *hclparse.Parser, dir string, in Vars) (spec.Desired, hcl.Diagnostics) {
	var desired spec.Desired
	abs, err := filepath.Abs(dir)
	if err != nil {
		return desired, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "Cannot read configuration", "%s", err)}
	}
	paths, err := Files(dir)
	if err != nil {
		return desired, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "Cannot read configuration", "%s", err)}
	}
	if len(paths) == 0 {
		return desired, hcl.Diagnostics{errorAt(hcl.Range{Filename: dir}, "No configuration files",
			"Expected at least one *%s file in %s.", Extension, dir)}
	}
	var diags hcl.Diagnostics
	var files []*hcl.File
	for _, p := range paths {
		f, fdiags := parser.ParseHCLFile(p)
		diags = append(diags, fdiags...)
		if f != nil {
			files = append(files, f)
		}
	}
	if diags.HasErrors() {
		return desired, diags // syntax errors: decoding would only add noise
	}
	content, cdiags := hcl.MergeFiles(files).Content(rootSchema)
	diags = append(diags, cdiags...)

	vars := &variables{byName: map[string]*variable{}, parser: parser}
	for _, b := range content.Blocks.OfType("variable") {
		diags = append(diags, vars.declare(b)...)
	}
	diags = append(diags, vars.assign(in)...)

	d := &decoder{
		dir:    abs,
		vars:   vars,
		ctx:    &hcl.EvalContext{Variables: map[string]cty.Value{"var": vars.object()}},
		ranges: map[string]hcl.Range{},
	}
	desired.LoadBalancers = d.loadBalancers(content.Blocks.OfType("load_balancer"))
	desired.Services = d.services(content.Blocks.OfType("service"), desired.LoadBalancers)
	diags = append(diags, d.diags...)
	diags = append(diags, d.problems(desired.Validate(), diags)...)
	sortDiagnostics(diags)
	return desired, diags
}

// Files lists the configuration files in dir, sorted by name.
func Files(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), Extension) && !strings.HasPrefix(e.Name(), ".") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// problems turns what spec.Validate found into diagnostics at the place
// each path is written, or at the nearest enclosing block when it was left
// to its default. A problem where decoding already reported one is left
// out: it is the same mistake seen twice.
func (d *decoder) problems(ps []spec.Problem, reported hcl.Diagnostics) hcl.Diagnostics {
	seen := map[hcl.Range]bool{}
	for _, diag := range reported {
		if diag.Subject != nil {
			seen[*diag.Subject] = true
		}
	}
	var diags hcl.Diagnostics
	for _, p := range ps {
		r := d.rangeOf(p.Path)
		if seen[r] {
			continue
		}
		diags = append(diags, errorAt(r, "Invalid "+subject(p.Path), "%s.", p.Message))
	}
	return diags
}

// sortDiagnostics orders diagnostics by file and position, those about the
// command line first.
func sortDiagnostics(diags hcl.Diagnostics) {
	key := func(d *hcl.Diagnostic) (string, int) {
		if d.Subject == nil {
			return "", 0
		}
		return d.Subject.Filename, d.Subject.Start.Byte
	}
	sort.SliceStable(diags, func(i, j int) bool {
		fi, bi := key(diags[i])
		fj, bj := key(diags[j])
		if fi != fj {
			return fi < fj
		}
		return bi < bj
	})
}

func (d *decoder) rangeOf(path string) hcl.Range {
	for p := path; p != ""; {
		if r, ok := d.ranges[p]; ok {
			return r
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return hcl.Range{Filename: d.dir}
}

// subject names what a spec path is about: `service "web"` for a block,
// the attribute name otherwise.
func subject(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) == 2 {
		return fmt.Sprintf("%s %q", parts[0], parts[1])
	}
	last := parts[len(parts)-1]
	if i := strings.IndexByte(last, '['); i >= 0 {
		last = last[:i]
	}
	return last
}
