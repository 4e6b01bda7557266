package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateJSON(t *testing.T) {
	dir := writeConfig(t, "variable \"v\" {}\nservice \"web\" {\n  version       = var.v\n  desired_count = 0\n  process { command = [\"./web\"] }\n}\n")
	out, stderr, code := teal(t, nil, "", "validate", "-json", dir)
	if code != ExitUsage || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var r struct {
		FormatVersion string `json:"format_version"`
		Valid         bool   `json:"valid"`
		ErrorCount    int    `json:"error_count"`
		WarningCount  int    `json:"warning_count"`
		Diagnostics   []struct {
			Severity, Summary, Detail string
			Range                     *struct {
				Filename   string
				Start, End struct{ Line, Column, Byte int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if r.Valid || r.ErrorCount != 2 || r.WarningCount != 0 || len(r.Diagnostics) != 2 || r.FormatVersion != "1.0" {
		t.Fatalf("report:\n%s", out)
	}
	d := r.Diagnostics[1]
	if d.Severity != "error" || d.Summary != "Invalid desired_count" || d.Range == nil ||
		d.Range.Filename != filepath.Join(dir, "teal.hcl") || d.Range.Start.Line != 4 || d.Range.Start.Column != 19 {
		t.Errorf("diagnostic: %+v", d)
	}

	out, _, code = teal(t, map[string]string{"TEAL_VAR_v": "1"}, "", "validate", dir, "--json", "-var", "v=2")
	if code != ExitUsage || !strings.Contains(out, `"valid": false`) {
		t.Errorf("flags after DIR: exit %d\n%s", code, out)
	}
	dir = writeConfig(t, "service \"web\" {\n  process { command = [\"./web\"] }\n}\n")
	out, _, code = teal(t, nil, "", "validate", "-json", dir)
	if code != ExitOK || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"diagnostics": []`) {
		t.Errorf("valid: exit %d\n%s", code, out)
	}
}

// validate prints the root module's outputs, sensitive ones withheld.
func TestValidateOutputs(t *testing.T) {
	dir := writeConfig(t, `
variable "token" {
  sensitive = true
  default   = "hunter2"
}
load_balancer "public" {}
output "url" {
  value = "http://127.0.0.1:8080/"
}
output "token" {
  value     = var.token
  sensitive = true
}
`)
	out, stderr, code := teal(t, nil, "", "validate", dir)
	want := "Success! The configuration is valid: 1 load balancer, 0 services.\n\nOutputs:\n\ntoken = <sensitive>\nurl = \"http://127.0.0.1:8080/\"\n"
	if code != ExitOK || out != want {
		t.Errorf("exit %d\n%s%s\nwant:\n%s", code, out, stderr, want)
	}
}
