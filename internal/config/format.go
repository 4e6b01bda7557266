package config

import (
	"bytes"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical style. It refuses source that does not
// parse, so that formatting never hides a syntax error.
func Format(filename string, src []byte) ([]byte, Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, Diagnostics{diags: diags, files: map[string]*hcl.File{filename: f}}
	}
	out := hclwrite.Format(src)
	if !bytes.HasSuffix(out, []byte("\n")) && len(out) > 0 {
		out = append(out, '\n')
	}
	return out, Diagnostics{}
}
