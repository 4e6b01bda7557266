package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/plan"
)

// writeLarge writes a configuration of n services behind two load
// balancers into dir. Flat, each service is written out; otherwise there
// are n/4 uses of a module of four services. Both refer to variables and
// locals and call functions in every service, as real configurations do.
func writeLarge(tb testing.TB, dir string, n int, flat bool) {
	tb.Helper()
	var root strings.Builder
	root.WriteString(`
variable "version" {
  default = "1.0.0"
}

locals {
  env = { ENVIRONMENT = "qa", REGION = "eu" }
}

load_balancer "public" {
  listen = "127.0.0.1:8080"
}

load_balancer "internal" {
  listen = "127.0.0.1:8081"
}
`)
	service := `
service %[1]q {
  name          = %[2]s
  version       = var.version
  desired_count = 2

  process {
    command = ["./bin/app", "-name", %[2]s, "-version", var.version]
    env     = merge(local.env, { APP = upper(%[2]s) })
  }

  route {
    load_balancer = %[3]q
    path          = format("/%%s*", %[2]s)
    priority      = %[4]s
  }

  health_check {
    path     = "/health"
    interval = "1s"
  }

  deploy {
    strategy      = "blue_green"
    drain_timeout = "10s"
  }
}
`
	if flat {
		for i := range n {
			name := fmt.Sprintf("app-%04d", i)
			fmt.Fprintf(&root, service, name, fmt.Sprintf("%q", name), []string{"public", "internal"}[i%2], fmt.Sprint(i+1))
		}
	} else {
		for i := range n / 4 {
			fmt.Fprintf(&root, "\nmodule \"team%04d\" {\n  source   = \"./modules/team\"\n  team     = \"team-%04d\"\n  version  = var.version\n  priority = %d\n}\n", i, i, i*4+1)
		}
		var mod strings.Builder
		mod.WriteString(`
variable "team" {
  type = string
}

variable "version" {
  type = string
}

variable "priority" {
  type = number
}

locals {
  env = { ENVIRONMENT = "qa", TEAM = var.team }
}
`)
		for j, kind := range []string{"web", "api", "worker", "admin"} {
			fmt.Fprintf(&mod, service, kind, fmt.Sprintf("\"${var.team}-%s\"", kind), []string{"public", "internal"}[j%2], fmt.Sprintf("var.priority + %d", j))
		}
		write(tb, filepath.Join(dir, "modules", "team", "main.hcl"), mod.String())
	}
	write(tb, filepath.Join(dir, "teal.hcl"), root.String())
}

func write(tb testing.TB, path, src string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
}

var layouts = []struct {
	name string
	flat bool
}{{"flat", true}, {"modules", false}}

// The configurations the benchmarks load are valid, and the same.
func TestLoad1000Services(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 2,000 services")
	}
	var first []byte
	for _, l := range layouts {
		dir := t.TempDir()
		writeLarge(t, dir, 1000, l.flat)
		d, diags := Load(dir, Vars{})
		if diags.HasErrors() {
			t.Fatalf("%s: %s", l.name, diags.Error())
		}
		if len(d.Services) != 1000 {
			t.Fatalf("%s: %d services", l.name, len(d.Services))
		}
		if p := plan.Diff(d, plan.Current{}); len(p.Changes) != 1002 {
			t.Errorf("%s: %d changes, want 1002", l.name, len(p.Changes))
		}
		names := fmt.Sprint(len(d.Services), d.Services[0].Process.Env["ENVIRONMENT"], d.Services[999].Deploy.DrainTimeout)
		if first == nil {
			first = []byte(names)
		} else if names != string(first) {
			t.Errorf("%s: %s, flat: %s", l.name, names, first)
		}
	}
}

// BenchmarkLoad1000Services reads and checks a configuration of 1,000
// services: parsing, variables, locals, functions, modules, defaults and
// spec.Validate.
func BenchmarkLoad1000Services(b *testing.B) {
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			dir := b.TempDir()
			writeLarge(b, dir, 1000, l.flat)
			b.ReportAllocs()
			for b.Loop() {
				if _, diags := Load(dir, Vars{}); diags.HasErrors() {
					b.Fatal(diags.Error())
				}
			}
		})
	}
}

// BenchmarkPlan1000Services is what `teal plan` computes for a first
// apply of 1,000 services: the configuration loaded, then diffed against
// an empty state.
func BenchmarkPlan1000Services(b *testing.B) {
	for _, l := range layouts {
		b.Run(l.name, func(b *testing.B) {
			dir := b.TempDir()
			writeLarge(b, dir, 1000, l.flat)
			b.ReportAllocs()
			for b.Loop() {
				d, diags := Load(dir, Vars{})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				if p := plan.Diff(d, plan.Current{}); len(p.Changes) != 1002 {
					b.Fatalf("%d changes", len(p.Changes))
				}
			}
		})
	}
}
