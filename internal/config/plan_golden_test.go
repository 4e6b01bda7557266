package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/plan"
)

// Configuration → plan, end to end: each valid example planned against an
// empty state must render the text and JSON in its plan.txt and plan.json
// (paths of the example written $DIR). `go test ./internal/config -update`
// rewrites them.
func TestConfigToPlanGolden(t *testing.T) {
	for name, vars := range map[string]Vars{
		"full": {
			Env:   []string{"TEAL_VAR_version=1.5.0", "TEAL_VAR_environment=qa"},
			Files: []string{filepath.Join("testdata/valid/full", "prod.tealvars")},
			Flags: []string{"version=2.0.0"},
		},
		"modules": {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata/valid", name)
			d, diags := Load(dir, vars)
			if diags.HasErrors() {
				t.Fatalf("Load: %s", diags.Error())
			}
			p := plan.Diff(d, plan.Current{})
			var text bytes.Buffer
			plan.Render(&text, p)
			js, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			abs, _ := filepath.Abs(dir)
			for file, got := range map[string][]byte{"plan.txt": text.Bytes(), "plan.json": append(js, '\n')} {
				path := filepath.Join(dir, file)
				got := strings.ReplaceAll(string(got), abs, "$DIR")
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test ./internal/config -run TestConfigToPlanGolden -update makes it)", err)
				}
				if got != string(want) {
					t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
				}
			}
		})
	}
}
