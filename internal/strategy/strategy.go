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
	// Start starts Step.Count instances of the new revision in the
	// candidate slot. Nothing routes to them yet.
	Start Action = iota + 1
	// Wait does nothing until something is observed or Step.Until passes.
	Wait
	// Shift sends Step.Weight percent of new requests to the candidate
	// slot; 100 is the blue-green switch.
	Shift
	// Drain waits for requests in flight to the previous slot to finish.
	Drain
	// Succeed ends the deployment: the candidate is live.
	Succeed
	// Fail stops the candidate and keeps the live slot; Step.Reason says why.
	Fail
)

func (a Action) String() string {
	switch a {
	case Start:
		return "start"
	case Wait:
		return "wait"
	case Shift:
		return "shift"
	case Drain:
		return "drain"
	case Succeed:
		return "succeed"
	case Fail:
		return "fail"
	default:
		return fmt.Sprintf("Action(%d)", int(a))
	}
}

// Step is one decision.
type Step struct {
	Action Action
	Count  int       // for Start
	Weight int       // for Shift
	Until  time.Time // for Wait
	Reason string    // for Fail
}

// Observation is what the engine has seen of a deployment so far.
type Observation struct {
	Now         time.Time
	Desired     int       // instances the revision runs
	Started     int       // candidate instances started, including any that exited since
	StartError  string    // why an instance could not be started, if one could not
	Healthy     int       // candidate instances passing their health checks
	Unhealthy   int       // candidate instances that failed their checks after the grace period
	Exited      int       // candidate instances that exited
	Deadline    time.Time // when the candidate must be healthy by: start + ready_timeout
	Weight      int       // share of requests the candidate has now
	HasPrevious bool      // a revision was live before; it must be drained
	Drained     bool      // the previous slot has been drained
}

// Strategy decides the next step of a deployment from what has been
// observed. Next must not do I/O or look at the clock: Now is observed.
type Strategy interface {
	Next(Observation) Step
}

// For returns the strategy named s.
func For(s spec.Strategy) (Strategy, error) {
	switch s {
	case spec.BlueGreen:
		return BlueGreen{}, nil
	default:
		return nil, fmt.Errorf("strategy %q is not known", s)
	}
}

// BlueGreen starts the new revision beside the live one, waits until every
// instance is healthy, switches all traffic at once, and drains the old
// slot. A candidate that exits, fails its checks after the grace period,
// or is not healthy by the deadline never takes traffic.
type BlueGreen struct{}

// Next implements Strategy.
func (BlueGreen) Next(o Observation) Step {
	switch {
	case o.Weight == 100 && (o.Drained || !o.HasPrevious):
		return Step{Action: Succeed}
	case o.Weight == 100:
		return Step{Action: Drain}
	case o.StartError != "":
		return Step{Action: Fail, Reason: "an instance could not be started: " + o.StartError}
	case o.Started < o.Desired && o.Exited == 0:
		return Step{Action: Start, Count: o.Desired - o.Started}
	case o.Exited > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances exited before the switch", o.Exited, o.Desired)}
	case o.Unhealthy > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances failed their health checks", o.Unhealthy, o.Desired)}
	case o.Healthy >= o.Desired:
		return Step{Action: Shift, Weight: 100}
	case !o.Now.Before(o.Deadline):
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances healthy when ready_timeout ran out", o.Healthy, o.Desired)}
	default:
		return Step{Action: Wait, Until: o.Deadline}
	}
}
