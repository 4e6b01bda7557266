package strategy

import (
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// The steps a switch by DNS adds to blue-green.
const (
	// Verify sends a request through the candidate slot's own listener,
	// which must reach a candidate instance and pass, before the record
	// points at it.
	Verify Action = Fail + 1 + iota
	// Linger keeps the old slot serving after the record changed, until
	// its clients have moved (see Linger.Decide), before the drain.
	Linger
)

// ByDNS is a strategy (blue-green) whose switch is a DNS record: clients
// move as their caches expire, not at once. Before the switch it checks
// the candidate through the listener the record will point at; after it,
// the old slot keeps serving until the requests reaching its listener have
// stopped, and only then is drained.
type ByDNS struct{ Inner Strategy }

// Next implements Strategy.
func (d ByDNS) Next(o Observation) Step {
	s := d.Inner.Next(o)
	switch {
	case s.Action == Fail:
		return s
	case s.Action == Shift && s.Weight == 100 && o.VerifyError != "":
		return Step{Action: Fail, Reason: o.VerifyError}
	case s.Action == Shift && s.Weight == 100 && !o.Verified:
		return Step{Action: Verify}
	case s.Action == Drain && !o.Lingered:
		return Step{Action: Linger}
	}
	return s
}

// Sample is the count of requests that had reached a slot listener at a
// moment.
type Sample struct {
	At       time.Time
	Requests uint64
}

// QuietRequests is how many requests may reach the old slot's listener
// within the quiet window for its traffic to count as stopped: "near zero"
// tolerates a stray client, a monitor's probe.
const QuietRequests = 1

// LingerPolicy says how long the old slot of a switch by DNS keeps
// serving.
type LingerPolicy struct {
	Switched time.Time     // when the record changed
	TTL      time.Duration // the record's
	Linger   time.Duration // allowance for clients that cache longer than TTL
	// Quiet is the window over which traffic is judged: at most
	// QuietRequests within it means it has stopped.
	Quiet time.Duration
	// Deadline, after the switch, ends the wait even if requests still
	// arrive; what arrives later is served by the live slot.
	Deadline time.Duration
	Address  string // of the old slot's listener, for the reasons
}

// LingerDecision is what Decide concluded.
type LingerDecision struct {
	Done   bool
	Until  time.Time // when to look again, when not done
	Reason string    // for people: why it waits, or why it is done
}

// Decide says whether the old slot may be drained at now, from samples of
// its listener's count taken since the switch (oldest first) and whether
// it has a healthy instance at all: one that has none (a failover) serves
// nobody, and is drained at once. Otherwise it waits at least TTL +
// Linger, then until no more than QuietRequests arrived in the last Quiet,
// or until Deadline.
func (p LingerPolicy) Decide(now time.Time, samples []Sample, oldHealthy bool) LingerDecision {
	since := now.Sub(p.Switched).Round(time.Second)
	if !oldHealthy {
		return LingerDecision{Done: true, Reason: "the old slot has no healthy instance: nothing to keep serving"}
	}
	if min := p.Switched.Add(p.TTL + p.Linger); now.Before(min) {
		return LingerDecision{Until: min, Reason: fmt.Sprintf("ttl %s + linger %s: the old slot serves %s at least until %s",
			spec.Duration(p.TTL), spec.Duration(p.Linger), p.Address, min.Format(time.TimeOnly))}
	}
	recent, window := recentRequests(now, samples, p.Quiet)
	switch {
	case window && recent <= QuietRequests:
		return LingerDecision{Done: true, Reason: fmt.Sprintf("%s to %s in the last %s, %s after the switch: its clients have moved",
			plural(recent, "request"), p.Address, spec.Duration(p.Quiet), spec.Duration(since))}
	case !now.Before(p.Switched.Add(p.Deadline)):
		return LingerDecision{Done: true, Reason: fmt.Sprintf("still %s to %s in the last %s when progress_deadline (%s) ran out; draining it all the same: later requests to it are served by the live slot",
			plural(recent, "request"), p.Address, spec.Duration(p.Quiet), spec.Duration(p.Deadline))}
	case !window:
		return LingerDecision{Until: now.Add(time.Second), Reason: fmt.Sprintf("counting the requests to %s over %s", p.Address, spec.Duration(p.Quiet))}
	}
	return LingerDecision{Until: now.Add(time.Second), Reason: fmt.Sprintf("%s to %s in the last %s: waiting for its clients to move",
		plural(recent, "request"), p.Address, spec.Duration(p.Quiet))}
}

// recentRequests returns how many requests arrived within window before
// now, by the newest sample and the newest one at least window older; false
// when the samples do not reach that far back yet.
func recentRequests(now time.Time, samples []Sample, window time.Duration) (uint64, bool) {
	if len(samples) == 0 {
		return 0, false
	}
	last := samples[len(samples)-1]
	for i := len(samples) - 1; i >= 0; i-- {
		if !samples[i].At.After(now.Add(-window)) {
			return last.Requests - samples[i].Requests, true
		}
	}
	return last.Requests - samples[0].Requests, false
}

// SlotHealth is how many of a slot's instances run and how many pass
// their checks.
type SlotHealth struct {
	Instances int
	Healthy   int
}

// Failover reports whether a service that switches by DNS with failover
// should point its record back at the warm slot: the live slot has no
// healthy instance left, and the warm one has instances, all healthy, as
// Route 53's failover routing does when the primary's check fails.
func Failover(live, warm SlotHealth) bool {
	return live.Healthy == 0 && warm.Instances > 0 && warm.Healthy == warm.Instances
}

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
