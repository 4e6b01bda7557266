package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func web(version string) spec.Service {
	s := spec.NewService("web")
	s.Version = version
	s.DesiredCount = 2
	s.Process = &spec.Process{Command: []string{"./webapp", "-version", version}, Dir: "/srv/demo", Env: map[string]string{"ENVIRONMENT": "qa"}}
	s.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	return s
}

var public = lbAt("public", "127.0.0.1:8080")

func lbAt(name, listen string) spec.LoadBalancer {
	lb := spec.NewLoadBalancer(name)
	lb.Listen = listen
	return lb
}

func live(s spec.Service, rev int) CurrentService {
	return CurrentService{Spec: s, LiveRevision: rev, LiveSlot: spec.Green, NextRevision: rev + 1, Running: s.DesiredCount}
}

func TestDiff(t *testing.T) {
	scaled := web("1.0")
	scaled.DesiredCount = 3
	rerouted := web("1.0")
	rerouted.Routes = []spec.Route{{LoadBalancer: "public", Path: "/app/*", Priority: 10}}
	rechecked := web("1.0")
	rechecked.HealthCheck.Interval = spec.Duration(5 * time.Second)
	containerized := web("2.0")
	containerized.Process = nil
	containerized.Container = &spec.Container{Image: "registry.example/web:2.0", Port: 8080, Memory: 512 << 20, CPUs: 0.5, Pull: spec.PullMissing}
	containerized.Build = &spec.Build{Context: "/srv/demo", Dockerfile: "Dockerfile"}
	reporting := spec.NewService("reporting")
	reporting.Process = &spec.Process{Command: []string{"reporting"}, Dir: "/srv"}

	tests := []struct {
		name         string
		desired      spec.Desired
		current      Current
		wantRevision int // of service web's change; 0 for none
		wantCounts   [3]int
	}{
		{
			name:         "create",
			desired:      spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}},
			wantRevision: 1, wantCounts: [3]int{2, 0, 0},
		},
		{
			name:         "new_version",
			desired:      spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("2.0")}},
			current:      Current{Serial: 7, LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{live(web("1.0"), 3)}},
			wantRevision: 4, wantCounts: [3]int{0, 1, 0},
		},
		{
			name:       "scale",
			desired:    spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{scaled}},
			current:    Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{live(web("1.0"), 3)}},
			wantCounts: [3]int{0, 1, 0},
		},
		{
			name:       "reroute_and_recheck",
			desired:    spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{func() spec.Service { s := rerouted; s.HealthCheck = rechecked.HealthCheck; return s }()}},
			current:    Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{live(web("1.0"), 3)}},
			wantCounts: [3]int{0, 1, 0},
		},
		{
			name:    "no_changes",
			desired: spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}},
			current: Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{live(web("1.0"), 3)}},
		},
		{
			name:         "nothing_live",
			desired:      spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}},
			current:      Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{{Spec: web("1.0"), NextRevision: 2}}},
			wantRevision: 2, wantCounts: [3]int{0, 1, 0},
		},
		{
			name:         "to_container",
			desired:      spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{containerized}},
			current:      Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{live(web("1.0"), 3)}},
			wantRevision: 4, wantCounts: [3]int{0, 1, 0},
		},
		{
			name:    "drift",
			desired: spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}},
			current: Current{LoadBalancers: []spec.LoadBalancer{public}, Services: []CurrentService{func() CurrentService {
				c := live(web("1.0"), 3)
				c.Running, c.Drift = 1, []string{"instance web-r3-green-ab12 of revision 3 killed by signal KILL"}
				return c
			}()}},
			wantCounts: [3]int{0, 1, 0},
		},
		{
			name:       "destroy_and_move",
			desired:    spec.Desired{LoadBalancers: []spec.LoadBalancer{lbAt("public", "127.0.0.1:9090")}},
			current:    Current{LoadBalancers: []spec.LoadBalancer{public, lbAt("old", "127.0.0.1:8081")}, Services: []CurrentService{live(web("1.0"), 3), {Spec: reporting, NextRevision: 1}}},
			wantCounts: [3]int{0, 1, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.desired, tt.current)
			if p.Serial != tt.current.Serial {
				t.Errorf("Serial = %d, want %d", p.Serial, tt.current.Serial)
			}
			a, c, d := p.Counts()
			if [3]int{a, c, d} != tt.wantCounts {
				t.Errorf("counts = %d %d %d, want %v", a, c, d, tt.wantCounts)
			}
			if ch, ok := p.Change("service", "web"); ok && ch.Action != Delete && ch.Revision != tt.wantRevision {
				t.Errorf("web deploys revision %d, want %d", ch.Revision, tt.wantRevision)
			}
			var text bytes.Buffer
			Render(&text, p)
			golden(t, tt.name+".txt", text.Bytes())
			js, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var back Plan
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatalf("plan JSON does not read back: %v", err)
			}
			if again, _ := json.MarshalIndent(back, "", "  "); !bytes.Equal(again, js) {
				t.Error("plan JSON changed in a round trip")
			}
		})
	}
}

// Only the version and the process make a new revision; routes, count and
// health check never restart anything.
func TestNewRevisionFlags(t *testing.T) {
	before, after := web("1.0"), web("1.0")
	after.Process.Env = map[string]string{"ENVIRONMENT": "prod"}
	after.DesiredCount = 4
	p := Diff(spec.Desired{Services: []spec.Service{after}}, Current{Services: []CurrentService{live(before, 1)}})
	c, _ := p.Change("service", "web")
	flags := map[string]bool{}
	for _, a := range c.Attrs {
		flags[a.Path] = a.NewRevision
	}
	if !flags["process.env.ENVIRONMENT"] || flags["desired_count"] {
		t.Errorf("new-revision flags = %v", flags)
	}
	if c.Revision != 2 {
		t.Errorf("an env change deploys revision %d, want 2", c.Revision)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/plan -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// A sensitive value is never shown, in the text or the JSON of a plan.
func TestSensitiveNeverShown(t *testing.T) {
	before, after := web("1.0"), web("1.0")
	after.Process.Env = map[string]string{"ENVIRONMENT": "qa", "DB_PASSWORD": "hunter2"}
	after.Sensitive = []string{"process.env.DB_PASSWORD"}
	p := Diff(spec.Desired{Services: []spec.Service{after}}, Current{Services: []CurrentService{live(before, 1)}})
	var text bytes.Buffer
	Render(&text, p)
	js, _ := json.Marshal(p)
	for _, out := range []string{text.String(), string(js)} {
		if bytes.Contains([]byte(out), []byte("hunter2")) {
			t.Errorf("a sensitive value is shown:\n%s", out)
		}
	}
	if !bytes.Contains(text.Bytes(), []byte(`+ process.env.DB_PASSWORD = (sensitive value)`)) {
		t.Errorf("the sensitive attribute is not listed as changed:\n%s", text.String())
	}
	// A change of a sensitive value is a change, though both sides show alike.
	changed := after
	changed.Process = &spec.Process{Command: after.Process.Command, Dir: after.Process.Dir, Env: map[string]string{"ENVIRONMENT": "qa", "DB_PASSWORD": "correct horse"}}
	p = Diff(spec.Desired{Services: []spec.Service{changed}}, Current{Services: []CurrentService{live(after, 2)}})
	c, ok := p.Change("service", "web")
	if !ok || c.Revision != 3 || len(c.Attrs) != 1 || c.Attrs[0].Before != spec.RedactedValue || c.Attrs[0].After != spec.RedactedValue {
		t.Errorf("a changed sensitive value: %+v", c)
	}
}
