package strategy

import "fmt"

// Rolling replaces the old revision's instances in the live slot a few at
// a time, as Kubernetes does: at most MaxSurge instances above the desired
// count, and at most MaxUnavailable below it while they come up. With a
// surge of 0 that is "take some out, let their connections drain, update
// them, put them back", batch after batch. A new instance that exits,
// fails its checks or is not healthy by ready_timeout fails the
// deployment, and the engine restores the old revision.
type Rolling struct {
	MaxUnavailable int
	MaxSurge       int
	hooks          hooks
}

// Next implements Strategy.
func (r Rolling) Next(o Observation) Step {
	switch {
	case o.Aborted != "":
		return Step{Action: Fail, Reason: "aborted by " + o.Aborted}
	case o.HookError != "":
		return Step{Action: Fail, Reason: o.HookError}
	case r.hooks.before && !o.BeforeSwitchDone:
		return Step{Action: RunHook, Hook: BeforeSwitch} // before any new instance runs
	case o.StartError != "":
		return Step{Action: Fail, Reason: "an instance could not be started: " + o.StartError}
	case o.Exited > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d new instances exited", o.Exited)}
	case o.Unhealthy > 0:
		return Step{Action: Fail, Reason: fmt.Sprintf("%d new instances failed their health checks", o.Unhealthy)}
	case o.Healthy >= o.Desired && o.OldActive == 0:
		if r.hooks.after && !o.AfterSwitchDone {
			return Step{Action: RunHook, Hook: AfterSwitch}
		}
		return Step{Action: Succeed}
	case o.Healthy < o.Started && !o.Now.Before(o.Deadline):
		return Step{Action: Fail, Reason: fmt.Sprintf("%d of %d new instances healthy when ready_timeout ran out", o.Healthy, o.Started)}
	case o.Paused:
		return Step{Action: Hold, Reason: fmt.Sprintf("paused by an operator with %d of %d instances replaced", o.Healthy, o.Desired)}
	}
	if o.OldActive > o.OldHealthy {
		// Old instances that fail their checks serve nothing: taking them
		// out first costs no capacity.
		return Step{Action: StopOld, Count: o.OldActive - o.OldHealthy}
	}
	if room := o.Desired + r.MaxSurge - (o.OldActive + o.Started); o.Started < o.Desired && room > 0 {
		return Step{Action: Start, Count: min(room, o.Desired-o.Started)}
	}
	// The next batch goes only once the last one is healthy: batches, not
	// a trickle.
	if spare := o.OldHealthy + o.Healthy - (o.Desired - r.MaxUnavailable); o.OldActive > 0 && spare > 0 && o.Healthy == o.Started {
		return Step{Action: StopOld, Count: min(spare, o.OldActive)}
	}
	return Step{Action: Wait, Until: o.Deadline}
}
