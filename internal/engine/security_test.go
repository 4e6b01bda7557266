package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
)

// Hooks run without a shell: an argument a shell would run reaches the
// program as written, and what it names is not run.
func TestHooksRunWithoutAShell(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	dir := t.TempDir()
	var args, files []string
	for i, form := range []string{"$(touch %s)", "`touch %s`", "; touch %s", "&& touch %s", "| touch %s", "> %s"} {
		f := filepath.Join(dir, "ran-"+string(rune('a'+i)))
		args = append(args, strings.Replace(form, "%s", f, 1))
		files = append(files, f)
	}
	d := h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.BeforeSwitch = append([]string{"echo"}, args...)
	dep := h.mustApply(d)
	var outcome string
	for _, s := range dep.Steps {
		if s.Name == "hook before_switch" {
			outcome = s.Outcome
		}
	}
	if !strings.Contains(outcome, strings.Join(args, " ")) {
		t.Errorf("the hook's arguments did not reach it as written: %q", outcome)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s exists: a hook argument was run by a shell", f)
		}
	}
}

// An instance that listens on every interface, around the load balancer,
// still serves (as on Nomad or ECS), but is warned about with an
// instance.exposed event that names its address and the fix; one that
// listens on the loopback address teal gave it is not.
func TestExposedInstanceIsWarnedAbout(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	d := h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Process.Env[runtimetest.EnvHost] = "0.0.0.0"
	h.mustApply(d)
	if _, v, _ := h.get(); v != "v2" {
		t.Fatalf("an instance on every interface did not serve: %q", v)
	}
	evs, err := h.eng.LastEvents(1000, "web")
	if err != nil {
		t.Fatal(err)
	}
	var exposed []string
	for _, ev := range evs {
		if ev.Type == "instance.exposed" {
			exposed = append(exposed, ev.Message)
		}
	}
	if len(exposed) != 1 || !strings.Contains(exposed[0], "revision 2") || !strings.Contains(exposed[0], "listen on 127.0.0.1:$PORT") ||
		!strings.Contains(exposed[0], "0.0.0.0:") && !strings.Contains(exposed[0], "[::]:") {
		t.Errorf("instance.exposed events: %q", exposed)
	}
}
