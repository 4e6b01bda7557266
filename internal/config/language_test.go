package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/plan"
)

// writeDir writes files (path -> source) under a new temporary directory
// and returns it.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// versionOf loads a configuration whose one service has version = expr,
// after decls, and returns the version.
func versionOf(t *testing.T, decls, expr string, in Vars) (string, Diagnostics) {
	t.Helper()
	dir := writeDir(t, map[string]string{"teal.hcl": decls + "\nservice \"web\" {\n  version = " + expr + "\n  process { command = [\"./web\"] }\n}\n"})
	d, diags := Load(dir, in)
	if diags.HasErrors() || len(d.Services) == 0 {
		return "", diags
	}
	return d.Services[0].Version, diags
}

func TestFunctions(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`format("%s-%03d", "web", 7)`, "web-007"},
		{`lower("WEB")`, "web"},
		{`upper("web")`, "WEB"},
		{`title("web app")`, "Web App"},
		{`join(",", ["a", "b"])`, "a,b"},
		{`join("|", split(",", "a,b,c"))`, "a|b|c"},
		{`replace("1.2.3", ".", "-")`, "1-2-3"},
		{`replace("v1.2.3", "/^v([0-9]+).*/", "major $1")`, "major 1"},
		{`trimspace("  x \n")`, "x"},
		{`trimprefix("v1.0", "v")`, "1.0"},
		{`join(",", concat(["a"], ["b", "c"]))`, "a,b,c"},
		{`jsonencode(merge({ a = 1 }, { b = 2 }, { a = 3 }))`, `{"a":3,"b":2}`},
		{`length(["a", "b", "c"])`, "3"},
		{`length("hello")`, "5"},
		{`length({ a = 1 })`, "1"},
		{`lookup({ qa = "1" }, "prod", "none")`, "none"},
		{`contains(["qa", "prod"], "qa")`, "true"},
		{`join(",", keys({ b = 1, a = 2 }))`, "a,b"},
		{`join(",", values({ b = "1", a = "2" }))`, "2,1"},
		{`coalesce("", "fallback")`, "fallback"},
		{`min(3, 1, 2)`, "1"},
		{`max(3, 1, 2)`, "3"},
		{`tostring(12)`, "12"},
		{`tonumber("12") + 1`, "13"},
		{`tobool("true") ? "yes" : "no"`, "yes"},
		{`startswith("/reporting", "/") && endswith("a.hcl", ".hcl") && strcontains("abc", "b")`, "true"},
		{`try(tonumber("x"), "not a number")`, "not a number"},
		{`can(regex("^[a-z]+$", "web"))`, "true"},
		{`join(",", sort(distinct(["b", "a", "b"])))`, "a,b"},
		{`jsondecode("{\"v\": \"2\"}").v`, "2"},
		{`formatlist("%s!", ["a"])[0]`, "a!"},
		{`element(["a", "b"], 3)`, "b"},
		{`join(",", flatten([["a"], ["b"]]))`, "a,b"},
		{`abs(-2) + ceil(1.2) + floor(1.8) + pow(2, 2) + signum(-5)`, "8"},
		{`parseint("ff", 16)`, "255"},
		{`join(",", [for s in ["a", "b"] : upper(s)])`, "A,B"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, diags := versionOf(t, "", tt.expr, Vars{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocals(t *testing.T) {
	decls := `
variable "env" { default = "qa" }
locals {
  version = "${local.prefix}-${local.build}"
}
locals {
  prefix = upper(var.env)
  build  = join(".", [for n in local.numbers : tostring(n)])
  numbers = [1, 2, 3]
}`
	got, diags := versionOf(t, decls, "local.version", Vars{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got != "QA-1.2.3" {
		t.Errorf("got %q", got)
	}
}

func TestVariableFeatures(t *testing.T) {
	tests := []struct {
		name, decls, expr string
		vars              Vars
		want, wantErr     string
	}{
		{
			name:  "default null is optional and null",
			decls: `variable "v" { default = null }`,
			expr:  `var.v == null ? "unset" : var.v`,
			want:  "unset",
		},
		{
			name:  "nullable false turns null into the default",
			decls: "variable \"v\" {\n  type     = string\n  default  = \"d\"\n  nullable = false\n}",
			expr:  "var.v",
			vars:  Vars{Flags: []string{"v=x"}},
			want:  "x",
		},
		{
			name:  "object with optional attributes",
			decls: "variable \"app\" {\n  type    = object({ name = string, port = optional(number, 8080), tags = optional(list(string), []) })\n  default = { name = \"web\" }\n}",
			expr:  `"${var.app.name}:${var.app.port}:${length(var.app.tags)}"`,
			want:  "web:8080:0",
		},
		{
			name:  "object from the command line",
			decls: "variable \"app\" {\n  type = object({ name = string, port = optional(number, 8080) })\n}",
			expr:  `"${var.app.name}:${var.app.port}"`,
			vars:  Vars{Flags: []string{`app={ name = "api", port = 9000 }`}},
			want:  "api:9000",
		},
		{
			name:  "list of objects",
			decls: "variable \"apps\" {\n  type    = list(object({ name = string, count = optional(number, 1) }))\n  default = [{ name = \"a\" }, { name = \"b\", count = 2 }]\n}",
			expr:  `join(",", [for a in var.apps : "${a.name}${a.count}"])`,
			want:  "a1,b2",
		},
		{
			name:    "validation from the command line",
			decls:   "variable \"env\" {\n  validation {\n    condition     = contains([\"qa\", \"prod\"], var.env)\n    error_message = \"env is qa or prod.\"\n  }\n}",
			expr:    "var.env",
			vars:    Vars{Flags: []string{"env=stage"}},
			wantErr: `-var "env=stage": error: Invalid value for variable: env is qa or prod. This was checked by the validation rule at`,
		},
		{
			name:  "validation that passes",
			decls: "variable \"env\" {\n  validation {\n    condition     = contains([\"qa\", \"prod\"], var.env)\n    error_message = \"env is qa or prod.\"\n  }\n}",
			expr:  "var.env",
			vars:  Vars{Env: []string{"TEAL_VAR_env=prod"}},
			want:  "prod",
		},
		{
			name:    "a sensitive value is not repeated from the command line",
			decls:   "variable \"n\" {\n  type      = number\n  sensitive = true\n}",
			expr:    "tostring(var.n)",
			vars:    Vars{Flags: []string{"n=hunter2"}},
			wantErr: `-var "n=…": error: Invalid value for variable: Variable "n" is of type number; the value given is not an expression of that type.`,
		},
		{
			name:    "a sensitive literal in the flag is not echoed",
			decls:   "variable \"pw\" {\n  sensitive = true\n  validation {\n    condition     = length(var.pw) > 10\n    error_message = \"The password is too short.\"\n  }\n}",
			expr:    `"v"`,
			vars:    Vars{Flags: []string{"pw=hunter2"}},
			wantErr: `-var "pw=…": error: Invalid value for variable: The password is too short.`,
		},
		{
			name:    "error message quoting a sensitive value is withheld",
			decls:   "variable \"pw\" {\n  sensitive = true\n  default   = \"hunter2\"\n  validation {\n    condition     = length(var.pw) > 10\n    error_message = \"${var.pw} is too short.\"\n  }\n}",
			expr:    `"v"`,
			wantErr: `Invalid value for variable: The value is not valid; the error message refers to sensitive values, so it is not shown.`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, diags := versionOf(t, tt.decls, tt.expr, tt.vars)
			if tt.wantErr != "" {
				if !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("diagnostics:\n%s\nwant one containing %q", diags.Error(), tt.wantErr)
				}
				if strings.Contains(diags.Error(), "hunter2") {
					t.Errorf("a sensitive value is shown:\n%s", diags.Error())
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// No message, snippet or JSON report shows a sensitive value, whatever
// goes wrong with it: a type, a function, a validation, spec.Validate, a
// var-file line.
func TestSensitiveNeverShown(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"teal.hcl": `
variable "secret" {
  sensitive = true
}
variable "port" {
  type      = number
  sensitive = true
}
load_balancer "public" {}
service "web" {
  desired_count = var.secret
  version       = tonumber(var.secret)
  process {
    command = ["./web", var.secret]
    env     = { "BAD NAME" = var.secret }
  }
  route {
    path = "${var.secret}/x"
  }
  health_check {
    interval = var.secret
    path     = var.secret
  }
  deploy {
    strategy  = var.secret
    max_surge = var.secret
  }
}
module "m" {
  source = "./m"
  pw     = var.secret
}
`,
		"m/main.hcl": `
variable "pw" {
  sensitive = true
  validation {
    condition     = length(var.pw) > 100
    error_message = "Too short."
  }
}
`,
		"secret.tealvars": "secret = \"hunter2\"\nport = \"hunter2\"\n",
	})
	_, diags := Load(dir, Vars{Files: []string{filepath.Join(dir, "secret.tealvars")}})
	if !diags.HasErrors() {
		t.Fatal("no errors")
	}
	var b strings.Builder
	diags.Write(&b)
	report, _ := json.Marshal(diags.Report())
	for what, text := range map[string]string{"Write": b.String(), "Report": string(report)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("%s shows the sensitive value:\n%s", what, text)
		}
	}
	for _, want := range []string{
		"Invalid desired_count: Expected a whole number; got a sensitive string.",
		"Invalid function argument: The expression uses a sensitive value",
		"Invalid path: (sensitive value) is not a path pattern",
		"Invalid interval: (sensitive value) is not a duration",
		"Invalid max_surge: (sensitive value) is not a count or a percentage",
		"Invalid value for variable: Too short.",
		`Invalid value for variable: Variable "port" expects number: a number is required.`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no diagnostic containing %q:\n%s", want, b.String())
		}
	}
}

// The paths of values computed from sensitive ones are listed, each map
// entry by itself when only some are sensitive.
func TestSensitivePaths(t *testing.T) {
	dir := writeDir(t, map[string]string{"teal.hcl": `
variable "db_password" {
  sensitive = true
  default   = "hunter2"
}
variable "tls" {
  type      = object({ key = string })
  sensitive = true
  default   = { key = "/etc/key.pem" }
}
locals {
  dsn = "postgres://app:${var.db_password}@db/app"
}
load_balancer "public" {
  tls {
    certificate = "/etc/cert.pem"
    key         = var.tls.key
  }
}
service "web" {
  process {
    command = ["./web", "-dsn", local.dsn]
    env     = { DB_PASSWORD = var.db_password, PLAIN = "x" }
  }
  deploy {
    before_switch = ["./migrate", sensitive("--token=abc")]
  }
}
service "api" {
  process {
    command = ["./api"]
    env     = sensitive({ A = "1" })
  }
}
`})
	d, diags := Load(dir, Vars{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := []string{
		"load_balancer.public.tls[0].key",
		"service.api.process.env.A",
		"service.web.deploy.before_switch",
		"service.web.process.command",
		"service.web.process.env.DB_PASSWORD",
	}
	if strings.Join(d.Sensitive, "\n") != strings.Join(want, "\n") {
		t.Errorf("Sensitive:\n%s\nwant:\n%s", strings.Join(d.Sensitive, "\n"), strings.Join(want, "\n"))
	}
	if d.Services[0].Process.Env["DB_PASSWORD"] != "hunter2" {
		t.Error("the value itself must still reach the desired state")
	}
	// Each service carries its own, which is what plans and the API redact by.
	web, _ := d.Service("web")
	if got := strings.Join(web.Sensitive, " "); got != "deploy.before_switch process.command process.env.DB_PASSWORD" {
		t.Errorf("web's Sensitive: %q", got)
	}
	if r := web.Redacted(); r.Process.Env["DB_PASSWORD"] != "(sensitive value)" || r.Process.Env["PLAIN"] != "x" {
		t.Errorf("web redacted: %v", r.Process.Env)
	}
}

func TestReport(t *testing.T) {
	dir := writeDir(t, map[string]string{"teal.hcl": "service \"web\" {\n  desired_count = 0\n  process { command = [\"x\"] }\n}\n"})
	_, diags := Load(dir, Vars{Flags: []string{"nope=1"}})
	got, err := json.MarshalIndent(diags.Report(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "format_version": "1.0",
  "valid": false,
  "error_count": 2,
  "warning_count": 0,
  "diagnostics": [
    {
      "severity": "error",
      "summary": "Value for undeclared variable",
      "detail": "-var \"nope=1\": No variable named \"nope\" is declared in the configuration."
    },
    {
      "severity": "error",
      "summary": "Invalid desired_count",
      "detail": "Expected a whole number of at least 1; got 0.",
      "range": {
        "filename": "` + filepath.Join(dir, "teal.hcl") + `",
        "start": {
          "line": 2,
          "column": 19,
          "byte": 34
        },
        "end": {
          "line": 2,
          "column": 20,
          "byte": 35
        }
      }
    }
  ]
}`
	if string(got) != want {
		t.Errorf("Report:\n%s\nwant:\n%s", got, want)
	}
	ok, _ := json.Marshal(Diagnostics{}.Report())
	if string(ok) != `{"format_version":"1.0","valid":true,"error_count":0,"warning_count":0,"diagnostics":[]}` {
		t.Errorf("empty report: %s", ok)
	}
}

// A module's diagnostics point into its own files, and a module used by
// two others at different depths is read once per use.
func TestNestedModules(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"teal.hcl": `
load_balancer "public" {}
module "shop" {
  source = "./modules/shop"
  tier   = "web"
}
output "names" {
  value = module.shop.names
}
`,
		"modules/shop/main.hcl": `
variable "tier" {}
module "cart" {
  source = "../app"
  label  = "${var.tier}-cart"
}
module "pay" {
  source = "../app"
  label  = "${var.tier}-pay"
}
output "names" {
  value = [module.cart.name, module.pay.name]
}
`,
		"modules/app/main.hcl": `
variable "label" {}
service "svc" {
  version = var.label
  process {
    command = ["./bin/app"]
  }
}
output "name" {
  value = "${var.label}!"
}
`,
	})
	cfg, diags := LoadConfig(dir, Vars{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	for _, s := range cfg.Desired.Services {
		names = append(names, s.Name+"="+s.Version+" "+s.Process.Command[0])
	}
	app := filepath.Join(dir, "modules/app/bin/app")
	if got, want := strings.Join(names, "\n"), "shop-cart-svc=web-cart "+app+"\nshop-pay-svc=web-pay "+app; got != want {
		t.Errorf("services:\n%s\nwant:\n%s", got, want)
	}
	if len(cfg.Outputs) != 1 || cfg.Outputs[0].String() != `["web-cart!", "web-pay!"]` {
		t.Errorf("outputs: %+v", cfg.Outputs)
	}
}

// The examples the README points at stay valid, and prod's secret stays
// out of sight.
func TestExamples(t *testing.T) {
	for _, dir := range []string{"../../examples/demo", "../../examples/dns", "../../examples/webapp/qa", "../../examples/webapp/prod"} {
		cfg, diags := LoadConfig(dir, Vars{Env: []string{"TEAL_VAR_reporting_db_password=hunter2"}})
		if diags.HasErrors() {
			t.Errorf("%s: %s", dir, diags.Error())
			continue
		}
		if strings.HasSuffix(dir, "prod") {
			if got := strings.Join(cfg.Desired.Sensitive, " "); got != "service.reporting.process.env.DB_PASSWORD" {
				t.Errorf("%s: sensitive %q", dir, got)
			}
			if len(cfg.Outputs) != 1 || strings.Contains(cfg.Outputs[0].String(), "hunter2") {
				t.Errorf("%s: outputs %v", dir, cfg.Outputs)
			}
			var b strings.Builder
			plan.Render(&b, plan.Diff(cfg.Desired, plan.Current{}))
			if strings.Contains(b.String(), "hunter2") || !strings.Contains(b.String(), "(sensitive value)") {
				t.Errorf("%s: the plan shows the secret, or does not say it is hidden:\n%s", dir, b.String())
			}
		}
	}
}
