package config

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Every file in testdata/invalid must fail with each message its
// "# want: LINE:COL: message" lines name, at that place, and with no other.
// A directory there is one case whose files, those of the modules it calls
// included, hold the want lines for the errors in them.
func TestInvalid(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no invalid cases: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			dir, wants := path, map[string][]want{}
			if filepath.Ext(path) == ".hcl" {
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				dir = t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "teal.hcl"), src, 0o644); err != nil {
					t.Fatal(err)
				}
				wants[filepath.Join(dir, "teal.hcl")] = wantLines(t, string(src))
			} else {
				wants = wantsIn(t, dir)
			}
			_, diags := Load(dir, Vars{})
			if !diags.HasErrors() {
				t.Fatalf("loaded without errors; want %q", wants)
			}
			got := strings.Split(diags.Error(), "\n")
			n := 0
			for file, ws := range wants {
				n += len(ws)
				for _, want := range ws {
					found := false
					for _, g := range got {
						found = found || strings.HasPrefix(g, file+":"+want.at+": error: ") && strings.Contains(g, want.msg)
					}
					if !found {
						t.Errorf("no diagnostic at %s:%s containing %q; got:\n%s", file, want.at, want.msg, diags.Error())
					}
				}
			}
			if len(got) != n {
				t.Errorf("got %d diagnostics, want %d:\n%s", len(got), n, diags.Error())
			}
		})
	}
}

// wantsIn reads the want lines of every file below dir.
func wantsIn(t *testing.T, dir string) map[string][]want {
	wants := map[string][]want{}
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() || filepath.Ext(path) != ".hcl" {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if ws := wantLines(t, string(src)); len(ws) > 0 {
			wants[path] = ws
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(wants) == 0 {
		t.Fatal("the case names no # want: line")
	}
	return wants
}

type want struct{ at, msg string }

func wantLines(t *testing.T, src string) []want {
	var out []want
	sc := bufio.NewScanner(strings.NewReader(src))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# want: ")
		if !ok {
			continue
		}
		parts := strings.SplitN(rest, ": ", 2)
		if len(parts) != 2 {
			t.Fatalf("malformed want line %q", sc.Text())
		}
		out = append(out, want{at: parts[0], msg: parts[1]})
	}
	return out
}

// The full example decodes to the golden desired state, with variables
// from every source in Terraform's order and paths made absolute.
func TestFullGolden(t *testing.T) {
	dir := "testdata/valid/full"
	got, diags := Load(dir, Vars{
		Env:   []string{"TEAL_VAR_version=1.5.0", "TEAL_VAR_environment=qa", "TEAL_VAR_undeclared=ignored", "HOME=/root"},
		Files: []string{filepath.Join(dir, "prod.tealvars")},
		Flags: []string{"version=2.0.0"},
	})
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diags.Error())
	}
	golden(t, dir, got)
}

func TestVariables(t *testing.T) {
	cfg := `
variable "version" { default = "1.0" }
variable "count" {
  type    = number
  default = 1
}
variable "tags" {
  type    = map(string)
  default = {}
}
service "web" {
  version       = "${var.version}-${var.tags["build"]}"
  desired_count = var.count
  process {
    command = ["./web"]
  }
}
`
	tests := []struct {
		name        string
		vars        Vars
		wantVersion string
		wantCount   int
		wantErr     string
	}{
		{name: "defaults", vars: Vars{Flags: []string{`tags={build="b1"}`}}, wantVersion: "1.0-b1", wantCount: 1},
		{name: "environment", vars: Vars{Env: []string{"TEAL_VAR_version=1.1", `TEAL_VAR_tags={build="e"}`, "TEAL_VAR_count=3"}}, wantVersion: "1.1-e", wantCount: 3},
		{name: "flag beats environment", vars: Vars{Env: []string{"TEAL_VAR_version=1.1", `TEAL_VAR_tags={build="e"}`}, Flags: []string{"version=1.2"}}, wantVersion: "1.2-e", wantCount: 1},
		{name: "later flag wins", vars: Vars{Flags: []string{"version=1.2", "version=1.3", `tags={build="x"}`}}, wantVersion: "1.3-x", wantCount: 1},
		{name: "a string is not parsed", vars: Vars{Flags: []string{"version=[1]", `tags={build="x"}`}}, wantVersion: "[1]-x", wantCount: 1},
		{name: "typed value is parsed", vars: Vars{Flags: []string{"count=many", `tags={build="x"}`}}, wantErr: `-var "count=many": error: Invalid value for variable: Variable "count" is of type number; "many" is not an expression of that type.`},
		{name: "undeclared", vars: Vars{Flags: []string{"verison=2"}}, wantErr: `-var "verison=2": error: Value for undeclared variable: No variable named "verison" is declared in the configuration. Did you mean "version"?`},
		{name: "malformed", vars: Vars{Flags: []string{"version"}}, wantErr: `-var "version": error: Invalid -var option: Expected name=value, like -var version=1.2.0.`},
		{name: "missing key", vars: Vars{}, wantErr: `Invalid index`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			d, diags := Load(dir, tt.vars)
			if tt.wantErr != "" {
				if !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("diagnostics:\n%s\nwant one containing %q", diags.Error(), tt.wantErr)
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("Load: %s", diags.Error())
			}
			if s := d.Services[0]; s.Version != tt.wantVersion || s.DesiredCount != tt.wantCount {
				t.Errorf("version %q count %d, want %q %d", s.Version, s.DesiredCount, tt.wantVersion, tt.wantCount)
			}
		})
	}
}

func TestVarFileErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte(`variable "version" {}`), 0o644)
	vf := filepath.Join(dir, "prod.tealvars")
	os.WriteFile(vf, []byte("verison = \"2\"\n"), 0o644)
	_, diags := Load(dir, Vars{Files: []string{vf}})
	want := vf + `:1:1: error: Value for undeclared variable: No variable named "verison" is declared in the configuration. Did you mean "version"?`
	if !strings.Contains(diags.Error(), want) {
		t.Errorf("diagnostics:\n%s\nwant %q", diags.Error(), want)
	}
	_, diags = Load(dir, Vars{Files: []string{filepath.Join(dir, "missing.tealvars")}})
	if !strings.Contains(diags.Error(), "missing.tealvars") {
		t.Errorf("a missing var-file: %s", diags.Error())
	}
}

func TestNoFiles(t *testing.T) {
	dir := t.TempDir()
	_, diags := Load(dir, Vars{})
	if !strings.Contains(diags.Error(), "No configuration files: Expected at least one *.hcl file in "+dir) {
		t.Errorf("got %q", diags.Error())
	}
}

// Write shows the line the diagnostic is about, with a caret under it.
func TestSnippet(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte("service \"web\" {\n  desired_count = 0\n  process { command = [\"x\"] }\n}\n"), 0o644)
	_, diags := Load(dir, Vars{})
	var b strings.Builder
	diags.Write(&b)
	want := "    2 |   desired_count = 0\n      |                   ^\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("Write:\n%s\nwant a snippet:\n%s", b.String(), want)
	}
}

func TestFormat(t *testing.T) {
	out, diags := Format("x.hcl", []byte("service \"web\" {\nversion=\"1\"\n  desired_count   =  2\n}"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := "service \"web\" {\n  version       = \"1\"\n  desired_count = 2\n}\n"
	if string(out) != want {
		t.Errorf("Format:\n%s\nwant:\n%s", out, want)
	}
	if _, diags := Format("x.hcl", []byte("service {")); !diags.HasErrors() {
		t.Error("Format accepted source that does not parse")
	}
}

// A configuration of modules decodes to the golden desired state: names
// from the name attribute or "<module>-<label>", relative paths from the
// module that writes them, sensitive paths listed, and the root outputs.
func TestModulesGolden(t *testing.T) {
	dir := "testdata/valid/modules"
	cfg, diags := LoadConfig(dir, Vars{})
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diags.Error())
	}
	golden(t, dir, cfg.Desired)
	var outs []string
	for _, o := range cfg.Outputs {
		outs = append(outs, o.Name+" = "+o.String()+" # "+o.Type+" "+string(o.Value))
	}
	want := []string{
		`password_length = <sensitive> # number `,
		`routes = ["public/reporting*", "private/billing*"] # tuple([string,string]) ["public/reporting*","private/billing*"]`,
	}
	if strings.Join(outs, "\n") != strings.Join(want, "\n") {
		t.Errorf("outputs:\n%s\nwant:\n%s", strings.Join(outs, "\n"), strings.Join(want, "\n"))
	}
}

// golden compares got, as JSON, with want.json in dir, where $DIR stands
// for dir's absolute path; -update rewrites it.
func golden(t *testing.T, dir string, got any) {
	t.Helper()
	abs, _ := filepath.Abs(dir)
	gotJSON, _ := json.MarshalIndent(got, "", "  ")
	if *update {
		os.WriteFile(filepath.Join(dir, "want.json"), append([]byte(strings.ReplaceAll(string(gotJSON), abs, "$DIR")), '\n'), 0o644)
		return
	}
	wantJSON, err := os.ReadFile(filepath.Join(dir, "want.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(strings.TrimSpace(string(wantJSON)), "$DIR", abs); string(gotJSON) != want {
		t.Errorf("decoded:\n%s\nwant:\n%s", gotJSON, want)
	}
}
