// Package strategy decides, step by step, how a deployment moves traffic
// to a new revision. Its functions are pure: they look at what has been
// observed and name the next action; the engine acts and observes again.
package strategy

import (
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Action is what a deployment does next.
type Action int

// The actions a strategy can ask for.
const (
	// Start starts Step.Count instances of the new revision: in the
	// candidate slot (blue-green, canary), or beside the old ones in the
	// live slot (rolling, where they take traffic once healthy).
	Start Action = iota + 1
	// Wait does nothing until something is observed or Step.Until passes:
	// instances becoming healthy.
	Wait
	// Hold waits like Wait, for a reason to tell people (Step.Reason): a
	// pause, an operator, too little traffic to judge.
	Hold
	// RunHook runs the hook Step.Hook.
	RunHook
	// Shift sends Step.Weight percent of new requests to the candidate
	// slot; 100 is the switch.
	Shift
	// StopOld takes Step.Count instances of the old revision out of
	// rotation, drains and stops them (rolling).
	StopOld
	// Drain waits for requests in flight to the previous slot to finish.
	Drain
	// Succeed ends the deployment: the new revision is live.
	Succeed
	// Fail rolls back; Step.Reason says why.
	Fail
)

func (a Action) String() string {
	names := [...]string{"", "start", "wait", "hold", "hook", "shift", "stop old", "drain", "succeed", "fail", "verify", "linger"}
	if a > 0 && int(a) < len(names) {
		return names[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Hook names a deployment hook.
type Hook string

// The hooks a strategy runs; on_rollback and after_bake are run by the
// engine when it rolls back and when keep_previous has passed.
const (
	BeforeSwitch Hook = "before_switch"
	AfterSwitch  Hook = "after_switch"
)

// Step is one decision.
type Step struct {
	Action Action
	Count  int       // for Start and StopOld
	Weight int       // for Shift
	Hook   Hook      // for RunHook
	Until  time.Time // for Wait and Hold; zero: until something is observed
	Reason string    // for Hold and Fail
}

// Analysis is what the load balancer counted of the candidate's requests
// since the current canary step began.
type Analysis struct {
	Requests  uint64
	ErrorRate float64
	P99       time.Duration
}

// Observation is what the engine has seen of a deployment so far.
type Observation struct {
	Now time.Time

	// The new revision's instances.
	Desired    int    // instances the revision runs
	Started    int    // started so far, including any that exited since
	StartError string // why an instance could not be started, if one could not
	Healthy    int    // passing their health checks
	Unhealthy  int    // failed their checks after the grace period
	Exited     int
	Deadline   time.Time // when those started last must be healthy by: start + ready_timeout

	// The old revision's instances still in rotation (rolling).
	OldActive  int
	OldHealthy int

	Weight    int       // share of requests the candidate has now
	Step      int       // index of the canary step reached; -1 before the first
	StepSince time.Time // when that step began
	Analysis  Analysis  // of the current canary step

	BeforeSwitchDone bool
	AfterSwitchDone  bool
	HookError        string // a hook failed: what it said

	Promoted bool   // `teal promote` since the current hold began
	Paused   bool   // an operator paused the deployment
	Aborted  string // who aborted it, when someone did

	HasPrevious bool // a revision was live before; it must be drained
	Drained     bool

	// A switch by DNS (ByDNS): the candidate answered through its own
	// listener, or why it did not; the old slot's clients have moved.
	Verified    bool
	VerifyError string
	Lingered    bool
}

// Strategy decides the next step of a deployment from what has been
// observed. Next must not do I/O or look at the clock: Now is observed.
type Strategy interface {
	Next(Observation) Step
}

// For returns the strategy a service's deploy block describes, for a
// revision of desired instances.
func For(d spec.Deploy, desired int) (Strategy, error) {
	hooks := hooks{before: d.BeforeSwitch != nil, after: d.AfterSwitch != nil}
	switch d.Strategy {
	case spec.BlueGreen:
		return BlueGreen{AutoPromote: d.AutoPromote, hooks: hooks}, nil
	case spec.Canary:
		return Canary{Steps: d.Steps, Analysis: d.Analysis, ProgressDeadline: d.ProgressDeadline.D(), hooks: hooks}, nil
	case spec.Rolling:
		r := Rolling{MaxUnavailable: d.BatchSize, hooks: hooks}
		if d.BatchSize == 0 {
			r.MaxUnavailable = d.MaxUnavailable.Of(desired, false)
			r.MaxSurge = d.MaxSurge.Of(desired, true)
		}
		return r, nil
	default:
		return nil, fmt.Errorf("strategy %q is not known", d.Strategy)
	}
}

// hooks says which of a strategy's hooks are configured.
type hooks struct{ before, after bool }

// prepare is what blue-green and canary do before any traffic reaches the
// candidate: start it, wait for it to be healthy, run before_switch. It
// returns false once all of that is done.
func prepare(o Observation, h hooks) (Step, bool) {
	switch {
	case o.Aborted != "":
		return Step{Action: Fail, Reason: "aborted by " + o.Aborted}, true
	case o.HookError != "":
		return Step{Action: Fail, Reason: o.HookError}, true
	case o.StartError != "":
		return Step{Action: Fail, Reason: "an instance could not be started: " + o.StartError}, true
	case o.Started < o.Desired && o.Exited == 0:
		return Step{Action: Start, Count: o.Desired - o.Started}, true
	case o.Exited > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances exited", o.Exited, o.Desired)}, true
	case o.Unhealthy > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances failed their health checks", o.Unhealthy, o.Desired)}, true
	case o.Healthy < o.Desired && !o.Now.Before(o.Deadline):
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances healthy when ready_timeout ran out", o.Healthy, o.Desired)}, true
	case o.Healthy < o.Desired:
		return Step{Action: Wait, Until: o.Deadline}, true
	case h.before && !o.BeforeSwitchDone:
		return Step{Action: RunHook, Hook: BeforeSwitch}, true
	}
	return Step{}, false
}

// finish is what every strategy does once all traffic is on the new
// revision: after_switch, then drain what was live.
func finish(o Observation, h hooks) Step {
	switch {
	case o.HookError != "":
		return Step{Action: Fail, Reason: o.HookError}
	case o.Aborted != "":
		return Step{Action: Fail, Reason: "aborted by " + o.Aborted}
	case h.after && !o.AfterSwitchDone:
		return Step{Action: RunHook, Hook: AfterSwitch}
	case o.HasPrevious && !o.Drained:
		return Step{Action: Drain}
	default:
		return Step{Action: Succeed}
	}
}

// BlueGreen starts the new revision beside the live one, waits until every
// instance is healthy, switches all traffic at once, and drains the old
// slot. A candidate that exits, fails its checks after the grace period,
// or is not healthy by the deadline never takes traffic. Without
// AutoPromote it waits for `teal promote`, reachable by preview.
type BlueGreen struct {
	AutoPromote bool
	hooks       hooks
}

// Next implements Strategy.
func (b BlueGreen) Next(o Observation) Step {
	if o.Weight == 100 {
		return finish(o, b.hooks)
	}
	if s, ok := prepare(o, b.hooks); ok {
		return s
	}
	if o.Paused {
		return Step{Action: Hold, Reason: "paused by an operator; the candidate is healthy and takes no traffic"}
	}
	if !b.AutoPromote && !o.Promoted {
		return Step{Action: Hold, Reason: "the candidate is healthy; waiting for `teal promote` (preview requests reach it)"}
	}
	return Step{Action: Shift, Weight: 100}
}
