package engine_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

var soak = flag.Int("soak", 12, "deployments and rollbacks in a row for TestSoak (the long run: -soak 100 or more)")

// Deployments and rollbacks in a row, by each strategy in turn, under
// continuous load through the load balancer: not one request may fail.
// The default run makes a dozen; `go test ./internal/engine -run TestSoak
// -soak 120 -timeout 30m` makes the long one.
func TestSoak(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(3, runtimetest.Behaviour{Version: "v0"}))
	l := h.startLoad(4)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()
	began := time.Now()
	kinds := map[string]int{}
	for i := 1; i <= *soak; i++ {
		if i%4 == 0 { // every fourth, a rollback: instant while warm
			d, err := h.eng.Rollback("web", 0, "soak", nil)
			if err != nil || d.Status != state.Succeeded {
				t.Fatalf("operation %d, a rollback: %v %+v", i, err, d)
			}
			kinds["rollback"]++
			continue
		}
		d := h.desired(3, runtimetest.Behaviour{Version: fmt.Sprint("v", i)})
		dep := &d.Services[0].Deploy
		switch i % 3 {
		case 0:
			dep.Strategy = spec.BlueGreen
		case 1:
			canary(&d, spec.CanaryStep{Weight: 30, Pause: pause(100 * time.Millisecond)})
		case 2:
			dep.Strategy = spec.Rolling
			dep.BatchSize = 1
		}
		dd := h.mustApply(d)
		if dd.Status != state.Succeeded {
			t.Fatalf("operation %d, %s: %+v", i, dep.Strategy, dd)
		}
		kinds[string(dep.Strategy)]++
		if f := l.failures(); len(f) > 0 {
			t.Fatalf("after operation %d (%s): %d of %d requests failed: %v", i, dep.Strategy, len(f), l.total.Load(), f)
		}
	}
	time.Sleep(100 * time.Millisecond)
	l.end()
	if f := l.failures(); len(f) > 0 {
		t.Errorf("%d of %d requests failed: %v", len(f), l.total.Load(), f)
	}
	t.Logf("%d operations %v in %s under load: %d requests, %d failed", *soak, kinds, time.Since(began).Round(time.Millisecond), l.total.Load(), len(l.failures()))
}
