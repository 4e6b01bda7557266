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
