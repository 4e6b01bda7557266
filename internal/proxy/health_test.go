package proxy

import (
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

func TestCheckState(t *testing.T) {
	hc := spec.HealthCheck{HealthyThreshold: 2, UnhealthyThreshold: 3}
	type obs struct {
		pass, grace bool
	}
	tests := []struct {
		name    string
		results []obs
		want    Health
		changes int
	}{
		{"unknown until the threshold", []obs{{true, false}}, Unknown, 0},
		{"healthy after two passes", []obs{{true, false}, {true, false}}, Healthy, 1},
		{"passes must be consecutive", []obs{{true, false}, {false, true}, {true, false}}, Unknown, 0},
		{"failures in grace do not count", []obs{{false, true}, {false, true}, {false, true}, {false, true}}, Unknown, 0},
		{"unhealthy after three counted failures", []obs{{false, true}, {false, false}, {false, false}, {false, false}}, Unhealthy, 1},
		{"a pass resets the failures", []obs{{false, false}, {false, false}, {true, false}, {false, false}, {false, false}}, Unknown, 0},
		{"healthy, then unhealthy", []obs{{true, false}, {true, false}, {false, false}, {false, false}, {false, false}}, Unhealthy, 2},
		{"unhealthy recovers", []obs{{false, false}, {false, false}, {false, false}, {true, false}, {true, false}}, Healthy, 2},
		{"no change reported twice", []obs{{true, false}, {true, false}, {true, false}, {true, false}}, Healthy, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s checkState
			changes := 0
			for _, o := range tt.results {
				if s.observe(o.pass, o.grace, hc) {
					changes++
				}
			}
			if s.health != tt.want || changes != tt.changes {
				t.Errorf("health %s after %d changes, want %s after %d", s.health, changes, tt.want, tt.changes)
			}
		})
	}
}
