package strategy

import (
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

var (
	now      = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	deadline = now.Add(time.Minute)
)

// candidate is an observation of a candidate of 2 instances, started and
// healthy, with a live revision before it.
func candidate(f func(*Observation)) Observation {
	o := Observation{Now: now, Desired: 2, Started: 2, Healthy: 2, Deadline: deadline, Step: -1, HasPrevious: true}
	f(&o)
	return o
}

type row struct {
	name string
	obs  Observation
	want Step
}

func check(t *testing.T, s Strategy, rows []row) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Next(tt.obs); got != tt.want {
				t.Errorf("Next = %+v (%s)\n  want %+v (%s)", got, got.Action, tt.want, tt.want.Action)
			}
		})
	}
}

func TestBlueGreen(t *testing.T) {
	bg := BlueGreen{AutoPromote: true}
	check(t, bg, []row{
		{"nothing started: start all", candidate(func(o *Observation) { o.Started, o.Healthy = 0, 0 }), Step{Action: Start, Count: 2}},
		{"start failed", candidate(func(o *Observation) { o.Started, o.Healthy, o.StartError = 1, 0, "exec: no such file" }),
			Step{Action: Fail, Reason: "an instance could not be started: exec: no such file"}},
		{"none healthy yet: wait until the deadline", candidate(func(o *Observation) { o.Healthy = 0 }), Step{Action: Wait, Until: deadline}},
		{"one of two healthy: wait", candidate(func(o *Observation) { o.Healthy = 1 }), Step{Action: Wait, Until: deadline}},
		{"all healthy: switch everything at once", candidate(func(o *Observation) {}), Step{Action: Shift, Weight: 100}},
		{"an instance exited: fail, even with the rest healthy", candidate(func(o *Observation) { o.Healthy, o.Exited = 1, 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances exited"}},
		{"an exited instance is not restarted", candidate(func(o *Observation) { o.Started, o.Healthy, o.Exited = 1, 0, 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances exited"}},
		{"unhealthy after grace: fail early", candidate(func(o *Observation) { o.Healthy, o.Unhealthy = 1, 1 }),
			Step{Action: Fail, Reason: "1 of 2 new instances failed their health checks"}},
		{"deadline passed: fail", candidate(func(o *Observation) { o.Healthy, o.Now = 1, deadline }),
			Step{Action: Fail, Reason: "1 of 2 new instances healthy when ready_timeout ran out"}},
		{"healthy at the deadline still switches", candidate(func(o *Observation) { o.Now = deadline.Add(time.Second) }), Step{Action: Shift, Weight: 100}},
		{"aborted before the switch", candidate(func(o *Observation) { o.Aborted = "alice" }), Step{Action: Fail, Reason: "aborted by alice"}},
		{"paused before the switch", candidate(func(o *Observation) { o.Paused = true }),
			Step{Action: Hold, Reason: "paused by an operator; the candidate is healthy and takes no traffic"}},
		{"switched: drain the previous slot", candidate(func(o *Observation) { o.Weight = 100 }), Step{Action: Drain}},
		{"switched, an instance exits during the drain: carry on", candidate(func(o *Observation) { o.Weight, o.Healthy, o.Exited = 100, 1, 1 }), Step{Action: Drain}},
		{"drained: done", candidate(func(o *Observation) { o.Weight, o.Drained = 100, true }), Step{Action: Succeed}},
		{"first deployment: nothing to drain", candidate(func(o *Observation) { o.Weight, o.HasPrevious = 100, false }), Step{Action: Succeed}},
		{"aborted after the switch: switch back", candidate(func(o *Observation) { o.Weight, o.Aborted = 100, "bob" }), Step{Action: Fail, Reason: "aborted by bob"}},
	})
	manual := BlueGreen{AutoPromote: false, hooks: hooks{before: true, after: true}}
	check(t, manual, []row{
		{"healthy: before_switch first", candidate(func(o *Observation) {}), Step{Action: RunHook, Hook: BeforeSwitch}},
		{"before_switch failed: roll back", candidate(func(o *Observation) { o.BeforeSwitchDone, o.HookError = true, "before_switch: exit status 1" }),
			Step{Action: Fail, Reason: "before_switch: exit status 1"}},
		{"hook passed: hold for promote", candidate(func(o *Observation) { o.BeforeSwitchDone = true }),
			Step{Action: Hold, Reason: "the candidate is healthy; waiting for `teal promote` (preview requests reach it)"}},
		{"promoted: switch", candidate(func(o *Observation) { o.BeforeSwitchDone, o.Promoted = true, true }), Step{Action: Shift, Weight: 100}},
		{"switched: after_switch", candidate(func(o *Observation) { o.BeforeSwitchDone, o.Weight = true, 100 }), Step{Action: RunHook, Hook: AfterSwitch}},
		{"after_switch failed: switch back", candidate(func(o *Observation) {
			o.BeforeSwitchDone, o.Weight, o.AfterSwitchDone, o.HookError = true, 100, true, "after_switch: smoke test failed"
		}), Step{Action: Fail, Reason: "after_switch: smoke test failed"}},
		{"after_switch passed: drain", candidate(func(o *Observation) { o.BeforeSwitchDone, o.Weight, o.AfterSwitchDone = true, 100, true }), Step{Action: Drain}},
	})
}

func TestCanary(t *testing.T) {
	minute := spec.Duration(time.Minute)
	c := Canary{
		Steps:            []spec.CanaryStep{{Weight: 10, Pause: &minute}, {Weight: 50}},
		Analysis:         &spec.Analysis{MaxErrorRate: 0.01, MaxP99: spec.Duration(500 * time.Millisecond), MinRequests: 100, Interval: spec.Duration(5 * time.Second)},
		ProgressDeadline: 10 * time.Minute,
	}
	tick := now.Add(5 * time.Second)
	at10 := func(f func(*Observation)) Observation {
		return candidate(func(o *Observation) {
			o.Weight, o.Step, o.StepSince = 10, 0, now.Add(-2*time.Minute)
			o.Analysis = Analysis{Requests: 150, ErrorRate: 0.002, P99: 100 * time.Millisecond}
			f(o)
		})
	}
	check(t, c, []row{
		{"nothing started: start all", candidate(func(o *Observation) { o.Started, o.Healthy = 0, 0 }), Step{Action: Start, Count: 2}},
		{"healthy: the first step", candidate(func(o *Observation) {}), Step{Action: Shift, Weight: 10}},
		{"within the pause: hold", at10(func(o *Observation) { o.StepSince = now.Add(-10 * time.Second) }),
			Step{Action: Hold, Until: tick, Reason: "at 10% for 1m (analysis: 150 requests, 0.2% errors)"}},
		{"pause ending before the next tick: wake at its end", at10(func(o *Observation) { o.StepSince = now.Add(-58 * time.Second) }),
			Step{Action: Hold, Until: now.Add(2 * time.Second), Reason: "at 10% for 1m (analysis: 150 requests, 0.2% errors)"}},
		{"pause over, analysis passes: next step", at10(func(o *Observation) {}), Step{Action: Shift, Weight: 50}},
		{"pause over, too few requests: hold and say so", at10(func(o *Observation) { o.Analysis.Requests = 37 }),
			Step{Action: Hold, Until: tick, Reason: "at 10%: holding, 37 of the 100 requests the analysis needs; send traffic or `teal promote`"}},
		{"too few requests for the progress deadline: fail", at10(func(o *Observation) { o.Analysis.Requests, o.StepSince = 37, now.Add(-11*time.Minute) }),
			Step{Action: Fail, Reason: "at 10%: no progress for 10m: only 37 of the 100 requests the analysis needs"}},
		{"too few requests, promoted: move on", at10(func(o *Observation) { o.Analysis.Requests, o.Promoted = 37, true }), Step{Action: Shift, Weight: 50}},
		{"error rate too high: fail at once, mid-pause", at10(func(o *Observation) {
			o.StepSince = now.Add(-10 * time.Second)
			o.Analysis.ErrorRate = 0.04
		}), Step{Action: Fail, Reason: "at 10%: analysis failed: error rate 4.0% over 150 requests, above max_error_rate 1.0%"}},
		{"p99 too slow: fail", at10(func(o *Observation) { o.Analysis.P99 = time.Second }),
			Step{Action: Fail, Reason: "at 10%: analysis failed: p99 latency 1s over 150 requests, above max_p99 500ms"}},
		{"errors among too few requests: not judged yet", at10(func(o *Observation) { o.Analysis.Requests, o.Analysis.ErrorRate = 20, 0.5 }),
			Step{Action: Hold, Until: tick, Reason: "at 10%: holding, 20 of the 100 requests the analysis needs; send traffic or `teal promote`"}},
		{"a canary instance exits: fail", at10(func(o *Observation) { o.Healthy, o.Exited = 1, 1 }), Step{Action: Fail, Reason: "at 10%: 1 of 2 new instances exited"}},
		{"a canary instance taken out: fail", at10(func(o *Observation) { o.Healthy, o.Unhealthy = 1, 1 }),
			Step{Action: Fail, Reason: "at 10%: 1 of 2 new instances were taken out of rotation"}},
		{"the analysis speaks before the instances", at10(func(o *Observation) { o.Healthy, o.Unhealthy, o.Analysis.ErrorRate = 1, 1, 0.5 }),
			Step{Action: Fail, Reason: "at 10%: analysis failed: error rate 50.0% over 150 requests, above max_error_rate 1.0%"}},
		{"step without pause: wait for promote", at10(func(o *Observation) { o.Weight, o.Step = 50, 1 }),
			Step{Action: Hold, Until: tick, Reason: "at 50%: waiting for `teal promote` (analysis: 150 requests, 0.2% errors)"}},
		{"last step promoted: switch", at10(func(o *Observation) { o.Weight, o.Step, o.Promoted = 50, 1, true }), Step{Action: Shift, Weight: 100}},
		{"paused by an operator", at10(func(o *Observation) { o.Paused = true }),
			Step{Action: Hold, Until: tick, Reason: "at 10%: paused by an operator (analysis: 150 requests, 0.2% errors)"}},
		{"aborted mid-canary", at10(func(o *Observation) { o.Aborted = "carol" }), Step{Action: Fail, Reason: "aborted by carol"}},
		{"switched: drain", at10(func(o *Observation) { o.Weight = 100 }), Step{Action: Drain}},
	})
	plain := Canary{Steps: []spec.CanaryStep{{Weight: 25, Pause: new(spec.Duration)}}}
	check(t, plain, []row{
		{"no analysis, pause of 0: straight on", candidate(func(o *Observation) { o.Weight, o.Step, o.StepSince = 25, 0, now }), Step{Action: Shift, Weight: 100}},
	})
}

func TestRolling(t *testing.T) {
	batch2 := Rolling{MaxUnavailable: 2}
	ten := func(f func(*Observation)) Observation {
		o := Observation{Now: now, Desired: 10, OldActive: 10, OldHealthy: 10, Deadline: deadline, HasPrevious: true}
		f(&o)
		return o
	}
	check(t, batch2, []row{
		{"first: take 2 old out (no surge)", ten(func(o *Observation) {}), Step{Action: StopOld, Count: 2}},
		{"2 out: start 2 new", ten(func(o *Observation) { o.OldActive, o.OldHealthy = 8, 8 }), Step{Action: Start, Count: 2}},
		{"2 new coming up: wait", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started = 8, 8, 2 }), Step{Action: Wait, Until: deadline}},
		{"2 new healthy: the next 2 old", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy = 8, 8, 2, 2 }),
			Step{Action: StopOld, Count: 2}},
		{"1 of the batch healthy: the batch is not done", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy = 8, 8, 2, 1 }),
			Step{Action: Wait, Until: deadline}},
		{"all replaced: done", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy = 0, 0, 10, 10 }), Step{Action: Succeed}},
		{"a new one exits: fail", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy, o.Exited = 8, 8, 2, 1, 1 }),
			Step{Action: Fail, Reason: "1 new instances exited"}},
		{"a new one unhealthy: fail", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy, o.Unhealthy = 8, 8, 2, 1, 1 }),
			Step{Action: Fail, Reason: "1 new instances failed their health checks"}},
		{"batch not healthy in time: fail", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.Started, o.Healthy, o.Now = 8, 8, 2, 1, deadline }),
			Step{Action: Fail, Reason: "1 of 2 new instances healthy when ready_timeout ran out"}},
		{"a broken old one goes first", ten(func(o *Observation) { o.OldHealthy = 9 }), Step{Action: StopOld, Count: 1}},
		{"paused", ten(func(o *Observation) { o.Paused, o.OldActive, o.OldHealthy, o.Started, o.Healthy = true, 8, 8, 2, 2 }),
			Step{Action: Hold, Reason: "paused by an operator with 2 of 10 instances replaced"}},
		{"aborted", ten(func(o *Observation) { o.Aborted = "dave" }), Step{Action: Fail, Reason: "aborted by dave"}},
		{"start failed", ten(func(o *Observation) { o.OldActive, o.OldHealthy, o.StartError = 8, 8, "port taken" }),
			Step{Action: Fail, Reason: "an instance could not be started: port taken"}},
	})
	surge := Rolling{MaxSurge: 1}
	check(t, surge, []row{
		{"surge 1: one new first", ten(func(o *Observation) {}), Step{Action: Start, Count: 1}},
		{"surge 1: the new one is up, one old goes", ten(func(o *Observation) { o.Started, o.Healthy = 1, 1 }), Step{Action: StopOld, Count: 1}},
		{"surge 1: not up yet, nothing goes", ten(func(o *Observation) { o.Started = 1 }), Step{Action: Wait, Until: deadline}},
	})
	hooked := Rolling{MaxUnavailable: 1, hooks: hooks{before: true, after: true}}
	check(t, hooked, []row{
		{"before_switch before any new instance", ten(func(o *Observation) {}), Step{Action: RunHook, Hook: BeforeSwitch}},
		{"after_switch once all are replaced", ten(func(o *Observation) {
			o.BeforeSwitchDone, o.OldActive, o.OldHealthy, o.Started, o.Healthy = true, 0, 0, 10, 10
		}), Step{Action: RunHook, Hook: AfterSwitch}},
	})
}

func TestFor(t *testing.T) {
	d := spec.NewService("web").Deploy
	if s, err := For(d, 2); err != nil || s != (BlueGreen{AutoPromote: true}) {
		t.Errorf("For(blue_green) = %#v, %v", s, err)
	}
	d.Strategy, d.MaxUnavailable, d.MaxSurge = spec.Rolling, spec.Quantity{N: 25, Percent: true}, spec.Quantity{N: 25, Percent: true}
	if s, err := For(d, 10); err != nil || s.(Rolling).MaxUnavailable != 2 || s.(Rolling).MaxSurge != 3 {
		t.Errorf("For(rolling 25%%/25%% of 10) = %#v, %v; want 2 unavailable (down), 3 surge (up)", s, err)
	}
	d.Strategy = "linear"
	if _, err := For(d, 1); err == nil {
		t.Error("For(linear) succeeded")
	}
}
