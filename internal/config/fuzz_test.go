package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/teal-deploy/teal/internal/spec"
)

// FuzzLoad feeds the decoder a configuration of a root file, a module the
// root may call as ./modules/m, a var-file and a -var flag, and checks
// what every configuration must satisfy, whatever its text:
//
//   - loading does not panic;
//   - every error is located: it names one of the files written, with a
//     line, or the -var flag it is about (which has no line);
//   - a configuration that loads without errors is a valid desired state,
//     and survives the trip to the server as JSON unchanged and still
//     valid: what the CLI sends is what the server reads.
//
// The seed corpus is in testdata/fuzz/FuzzLoad: the golden and invalid
// configurations of this package, the examples, modules and variables of
// every kind. Run it for longer with
//
//	go test -run '^$' -fuzz FuzzLoad -fuzztime 5m ./internal/config
func FuzzLoad(f *testing.F) {
	f.Add(`service "web" {
  process { command = ["./web"] }
}`, "", "", "")
	f.Fuzz(func(t *testing.T, root, mod, varFile, flag string) {
		if len(root)+len(mod)+len(varFile) > 64<<10 {
			return // the parser's speed on huge files is the benchmark's business
		}
		dir := t.TempDir()
		write := func(path, src string) string {
			path = filepath.Join(dir, path)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
		files := map[string]bool{write("teal.hcl", root): true}
		if mod != "" {
			files[write("modules/m/main.hcl", mod)] = true
		}
		var in Vars
		if varFile != "" {
			p := write("values.tealvars", varFile)
			files[p] = true
			in.Files = []string{p}
		}
		if flag != "" {
			in.Flags = []string{flag}
		}

		c, diags := LoadConfig(dir, in)
		for _, diag := range diags.diags {
			if diag.Severity != hcl.DiagError {
				continue
			}
			s := diag.Subject
			switch {
			case s == nil:
				t.Fatalf("an error without a place: %s", diags.oneLine(diag))
			case strings.HasPrefix(s.Filename, "-var "):
				// The command line: no line to show.
			case !files[s.Filename] || s.Start.Line < 1:
				t.Fatalf("an error not at a line of a file of the configuration: %s (range %+v)", diags.oneLine(diag), *s)
			}
		}
		if diags.HasErrors() {
			return
		}
		if ps := c.Desired.Validate(); len(ps) > 0 {
			t.Fatalf("loaded without errors, but the desired state is not valid: %v\n%s", ps, diags.Error())
		}
		b, err := json.Marshal(c.Desired)
		if err != nil {
			t.Fatalf("the desired state does not encode: %v", err)
		}
		var back spec.Desired
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&back); err != nil {
			t.Fatalf("the desired state does not decode as the server reads it: %v\n%s", err, b)
		}
		again, _ := json.Marshal(back)
		if !bytes.Equal(b, again) {
			t.Fatalf("the desired state changes on its way to the server:\nsent %s\nread %s", b, again)
		}
		if ps := back.Validate(); len(ps) > 0 {
			t.Fatalf("the desired state is not valid once read by the server: %v\n%s", ps, b)
		}
	})
}
