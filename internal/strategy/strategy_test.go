package strategy

import (
	"testing"
	"time"
)

func TestBlueGreen(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deadline := now.Add(time.Minute)
	base := Observation{Now: now, Desired: 2, Deadline: deadline, HasPrevious: true}
	with := func(f func(*Observation)) Observation {
		o := base
		f(&o)
		return o
	}
	tests := []struct {
		name string
		obs  Observation
		want Step
	}{
		{"nothing started: start all", base, Step{Action: Start, Count: 2}},
		{"start failed", with(func(o *Observation) { o.Started = 1; o.StartError = "exec: no such file" }),
			Step{Action: Fail, Reason: "an instance could not be started: exec: no such file"}},
		{"started, none healthy yet: wait until the deadline", with(func(o *Observation) { o.Started = 2 }),
			Step{Action: Wait, Until: deadline}},
		{"one of two healthy: wait", with(func(o *Observation) { o.Started = 2; o.Healthy = 1 }),
			Step{Action: Wait, Until: deadline}},
		{"all healthy: switch everything at once", with(func(o *Observation) { o.Started = 2; o.Healthy = 2 }),
			Step{Action: Shift, Weight: 100}},
		{"an instance exited: fail, even with the rest healthy", with(func(o *Observation) { o.Started = 2; o.Healthy = 1; o.Exited = 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances exited before the switch"}},
		{"an exited instance is not restarted", with(func(o *Observation) { o.Started = 1; o.Exited = 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances exited before the switch"}},
		{"unhealthy after grace: fail early", with(func(o *Observation) { o.Started = 2; o.Unhealthy = 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances failed their health checks"}},
		{"deadline passed: fail", with(func(o *Observation) { o.Started = 2; o.Healthy = 1; o.Now = deadline }),
			Step{Action: Fail, Reason: "1 of 2 new instances healthy when ready_timeout ran out"}},
		{"healthy at the deadline still switches", with(func(o *Observation) { o.Started = 2; o.Healthy = 2; o.Now = deadline.Add(time.Second) }),
			Step{Action: Shift, Weight: 100}},
		{"switched: drain the previous slot", with(func(o *Observation) { o.Started = 2; o.Healthy = 2; o.Weight = 100 }),
			Step{Action: Drain}},
		{"switched, an instance exits during the drain: carry on", with(func(o *Observation) { o.Started = 2; o.Healthy = 1; o.Exited = 1; o.Weight = 100 }),
			Step{Action: Drain}},
		{"drained: done", with(func(o *Observation) { o.Started = 2; o.Healthy = 2; o.Weight = 100; o.Drained = true }),
			Step{Action: Succeed}},
		{"first deployment: nothing to drain", with(func(o *Observation) { o.Started = 2; o.Healthy = 2; o.Weight = 100; o.HasPrevious = false }),
			Step{Action: Succeed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (BlueGreen{}).Next(tt.obs); got != tt.want {
				t.Errorf("Next = %+v (%s), want %+v (%s)", got, got.Action, tt.want, tt.want.Action)
			}
		})
	}
}

func TestFor(t *testing.T) {
	if s, err := For("blue_green"); err != nil || s != (BlueGreen{}) {
		t.Errorf("For(blue_green) = %v, %v", s, err)
	}
	if _, err := For("canary"); err == nil {
		t.Error("For(canary) succeeded before canary exists")
	}
}
