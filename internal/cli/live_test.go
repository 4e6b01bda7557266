package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/state"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// The live view draws each deployment in place: steps with a spinner while
// they run and a mark and duration when done, weights and instances, and
// over the lines it drew before.
func TestLiveView(t *testing.T) {
	var out bytes.Buffer
	v := newLiveView(&out, nil)
	t0 := time.Now().Add(-3 * time.Second)
	v.print(engine.Progress{Time: t0, Service: "web", Deployment: 5, Status: state.Running, Message: "deploy revision 5 by canary, replacing revision 4"})
	v.print(engine.Progress{Time: t0, Service: "web", Deployment: 5, Step: "start", Status: state.Running, Message: "starting 2 instances"})
	v.print(engine.Progress{Time: t0.Add(100 * time.Millisecond), Service: "web", Deployment: 5, Step: "start", Status: state.Succeeded, Message: "started web-r5-green-1, web-r5-green-2"})
	v.print(engine.Progress{Time: t0.Add(time.Second), Service: "web", Deployment: 5, Step: "hold", Status: state.Running, Message: "at 10% for 1m"})
	v.stat["web"] = engine.ServiceStatus{Name: "web",
		Live:      &engine.SlotStatus{Slot: "blue", Revision: 4, Weight: 90, Instances: []engine.InstanceStatus{{ID: "web-r4-blue-1", Health: "healthy"}}},
		Candidate: &engine.SlotStatus{Slot: "green", Revision: 5, Weight: 10, Instances: []engine.InstanceStatus{{ID: "web-r5-green-1", Health: "healthy"}}},
	}
	v.draw()
	first := ansi.ReplaceAllString(out.String(), "")
	for _, want := range []string{
		"web  deployment 5: deploy revision 5 by canary, replacing revision 4",
		"✓ start           100ms  started web-r5-green-1, web-r5-green-2",
		"at 10% for 1m",
		"weights: blue 90% (revision 4) · green 10% (revision 5)",
		"instances: web-r4-blue-1 healthy · web-r5-green-1 healthy",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first frame lacks %q:\n%s", want, first)
		}
	}
	if !strings.ContainsAny(first, strings.Join(spinner, "")) {
		t.Errorf("no spinner on the running step:\n%s", first)
	}
	out.Reset()
	v.print(engine.Progress{Time: t0.Add(2 * time.Second), Service: "web", Deployment: 5, Step: "hold", Status: state.Succeeded, Message: "moved on"})
	v.print(engine.Progress{Time: t0.Add(3 * time.Second), Service: "web", Deployment: 5, Status: state.Failed, Message: "deployment 5 failed: at 50%: analysis failed\n    instance web-r5-green-1 last output: boom"})
	v.draw()
	if !strings.HasPrefix(out.String(), "\x1b[5A\x1b[J") {
		t.Errorf("the second frame does not draw over the first 5 lines: %q", out.String()[:min(20, out.Len())])
	}
	second := ansi.ReplaceAllString(out.String(), "")
	for _, want := range []string{"✓ hold", "✗ deployment 5 failed: at 50%: analysis failed", "instance web-r5-green-1 last output: boom"} {
		if !strings.Contains(second, want) {
			t.Errorf("second frame lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(second, "weights:") {
		t.Errorf("a finished deployment still shows its weights:\n%s", second)
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}, func(string) string { return "" }) {
		t.Error("a buffer is a terminal")
	}
}
