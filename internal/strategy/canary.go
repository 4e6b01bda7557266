package strategy

import (
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Canary starts the new revision beside the live one and, once it is
// healthy, gives it a growing share of requests, step by step. A step with
// a pause holds for that long; one without waits for `teal promote`. While
// a step holds, the analysis judges the candidate from what the load
// balancer counted: too many errors or too slow a p99 rolls it back at
// once; too few requests to judge holds it, and says so, until there are
// enough, an operator promotes it, or the progress deadline passes.
type Canary struct {
	Steps            []spec.CanaryStep
	Analysis         *spec.Analysis // nil: not judged
	ProgressDeadline time.Duration
	hooks            hooks
}

// Next implements Strategy.
func (c Canary) Next(o Observation) Step {
	if o.Weight == 100 {
		return finish(o, c.hooks)
	}
	if o.Step < 0 {
		if s, ok := prepare(o, c.hooks); ok {
			return s
		}
		return Step{Action: Shift, Weight: c.Steps[0].Weight}
	}
	at := fmt.Sprintf("at %d%%", o.Weight)
	if o.Aborted != "" {
		return Step{Action: Fail, Reason: "aborted by " + o.Aborted}
	}
	if reason, failed := c.judge(o); failed {
		return Step{Action: Fail, Reason: at + ": " + reason}
	}
	switch {
	case o.Exited > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%s: %d of %d new instances exited", at, o.Exited, o.Desired)}
	case o.Unhealthy > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%s: %d of %d new instances were taken out of rotation", at, o.Unhealthy, o.Desired)}
	}
	next := 100
	if o.Step+1 < len(c.Steps) {
		next = c.Steps[o.Step+1].Weight
	}
	tick := c.tick(o.Now)
	step := c.Steps[o.Step]
	switch {
	case o.Paused:
		return Step{Action: Hold, Until: tick, Reason: at + ": paused by an operator" + c.summary(o)}
	case o.Promoted:
		return Step{Action: Shift, Weight: next}
	case step.Pause == nil:
		return Step{Action: Hold, Until: tick, Reason: at + ": waiting for `teal promote`" + c.summary(o)}
	}
	end := o.StepSince.Add(step.Pause.D())
	if o.Now.Before(end) {
		return Step{Action: Hold, Until: earliest(end, tick), Reason: fmt.Sprintf("%s for %s%s", at, *step.Pause, c.summary(o))}
	}
	if a := c.Analysis; a != nil && o.Analysis.Requests < uint64(a.MinRequests) {
		if c.ProgressDeadline > 0 && !o.Now.Before(o.StepSince.Add(c.ProgressDeadline)) {
			return Step{Action: Fail, Reason: fmt.Sprintf("%s: no progress for %s: only %d of the %d requests the analysis needs",
				at, spec.Duration(c.ProgressDeadline), o.Analysis.Requests, a.MinRequests)}
		}
		return Step{Action: Hold, Until: tick, Reason: fmt.Sprintf("%s: holding, %d of the %d requests the analysis needs; send traffic or `teal promote`",
			at, o.Analysis.Requests, a.MinRequests)}
	}
	return Step{Action: Shift, Weight: next}
}

// judge reports whether the analysis fails the candidate. With fewer
// requests than the minimum it judges nothing.
func (c Canary) judge(o Observation) (string, bool) {
	a := c.Analysis
	if a == nil || o.Analysis.Requests < uint64(a.MinRequests) {
		return "", false
	}
	if o.Analysis.ErrorRate > a.MaxErrorRate {
		return fmt.Sprintf("analysis failed: error rate %.1f%% over %d requests, above max_error_rate %.1f%%",
			100*o.Analysis.ErrorRate, o.Analysis.Requests, 100*a.MaxErrorRate), true
	}
	if a.MaxP99 > 0 && o.Analysis.P99 > a.MaxP99.D() {
		return fmt.Sprintf("analysis failed: p99 latency %s over %d requests, above max_p99 %s",
			spec.Duration(o.Analysis.P99), o.Analysis.Requests, a.MaxP99), true
	}
	return "", false
}

// summary says, for a hold, how the analysis stands.
func (c Canary) summary(o Observation) string {
	if c.Analysis == nil {
		return ""
	}
	return fmt.Sprintf(" (analysis: %d requests, %.1f%% errors)", o.Analysis.Requests, 100*o.Analysis.ErrorRate)
}

// tick is when to look again at the analysis; zero without one.
func (c Canary) tick(now time.Time) time.Time {
	if c.Analysis == nil {
		return time.Time{}
	}
	return now.Add(c.Analysis.Interval.D())
}

// earliest returns the earlier of two times, a zero time counting as never.
func earliest(a, b time.Time) time.Time {
	if b.IsZero() || (!a.IsZero() && a.Before(b)) {
		return a
	}
	return b
}
