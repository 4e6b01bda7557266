package strategy

import (
	"strings"
	"testing"
	"time"
)

func TestByDNS(t *testing.T) {
	d := ByDNS{Inner: BlueGreen{AutoPromote: true, hooks: hooks{after: true}}}
	check(t, d, []row{
		{"not healthy yet: wait as blue-green does", candidate(func(o *Observation) { o.Healthy = 1 }), Step{Action: Wait, Until: deadline}},
		{"healthy: verify through the candidate's listener before the record changes", candidate(func(o *Observation) {}), Step{Action: Verify}},
		{"verified: switch", candidate(func(o *Observation) { o.Verified = true }), Step{Action: Shift, Weight: 100}},
		{"the listener did not answer: fail, nothing switched", candidate(func(o *Observation) { o.VerifyError = "green listener: 503" }),
			Step{Action: Fail, Reason: "green listener: 503"}},
		{"aborted before verifying", candidate(func(o *Observation) { o.Aborted = "carol" }), Step{Action: Fail, Reason: "aborted by carol"}},
		{"switched: after_switch first", candidate(func(o *Observation) { o.Verified, o.Weight = true, 100 }), Step{Action: RunHook, Hook: AfterSwitch}},
		{"after_switch passed: linger, not drain", candidate(func(o *Observation) { o.Verified, o.Weight, o.AfterSwitchDone = true, 100, true }), Step{Action: Linger}},
		{"aborted while lingering: switch back", candidate(func(o *Observation) { o.Verified, o.Weight, o.AfterSwitchDone, o.Aborted = true, 100, true, "dave" }),
			Step{Action: Fail, Reason: "aborted by dave"}},
		{"lingered: drain", candidate(func(o *Observation) { o.Verified, o.Weight, o.AfterSwitchDone, o.Lingered = true, 100, true, true }), Step{Action: Drain}},
		{"drained: done", candidate(func(o *Observation) {
			o.Verified, o.Weight, o.AfterSwitchDone, o.Lingered, o.Drained = true, 100, true, true, true
		}), Step{Action: Succeed}},
		{"first deployment: verify, switch, nothing to linger over", candidate(func(o *Observation) { o.Verified, o.Weight, o.AfterSwitchDone, o.HasPrevious = true, 100, true, false }),
			Step{Action: Succeed}},
	})
}

func TestLingerDecide(t *testing.T) {
	switched := now
	p := LingerPolicy{Switched: switched, TTL: 30 * time.Second, Linger: 60 * time.Second, Quiet: 5 * time.Second, Deadline: 10 * time.Minute, Address: "127.0.0.2:8080"}
	// samples returns one sample a second from the switch to at, with
	// counts from perSecond(second since the switch).
	samples := func(at time.Duration, perSecond func(s int) uint64) []Sample {
		var out []Sample
		var n uint64
		for s := 0; time.Duration(s)*time.Second <= at; s++ {
			n += perSecond(s)
			out = append(out, Sample{At: switched.Add(time.Duration(s) * time.Second), Requests: n})
		}
		return out
	}
	busyUntil := func(stop int) func(int) uint64 {
		return func(s int) uint64 {
			if s < stop {
				return 20
			}
			return 0
		}
	}
	tests := []struct {
		name       string
		at         time.Duration // after the switch
		samples    []Sample
		oldHealthy bool
		done       bool
		until      time.Duration // after the switch, when not done
		reason     string
	}{
		{"quiet at once, but ttl + linger not over", 10 * time.Second, samples(10*time.Second, busyUntil(0)), true, false, 90 * time.Second, "ttl 30s + linger 1m"},
		{"quiet after ttl + linger: done", 90 * time.Second, samples(90*time.Second, busyUntil(40)), true, true, 0, "0 requests to 127.0.0.2:8080 in the last 5s, 1m30s after the switch"},
		{"still busy after ttl + linger: wait", 90 * time.Second, samples(90*time.Second, busyUntil(200)), true, false, 91 * time.Second, "100 requests to 127.0.0.2:8080 in the last 5s: waiting"},
		{"stopped 3s ago: not yet a quiet window", 100 * time.Second, samples(100*time.Second, busyUntil(97)), true, false, 101 * time.Second, "requests to 127.0.0.2:8080 in the last 5s: waiting"},
		{"stopped 5s ago: done", 102 * time.Second, samples(102*time.Second, busyUntil(97)), true, true, 0, "0 requests"},
		{"a stray request is near zero", 95 * time.Second, samples(95*time.Second, func(s int) uint64 {
			if s == 93 {
				return 1
			}
			return busyUntil(50)(s)
		}), true, true, 0, "1 request to"},
		{"still busy at the deadline: drain all the same", 10 * time.Minute, samples(10*time.Minute, busyUntil(1000)), true, true, 0, "when progress_deadline (10m) ran out"},
		{"no healthy instance in the old slot: done at once", time.Second, samples(time.Second, busyUntil(100)), false, true, 0, "no healthy instance"},
		{"samples start late: count first", 90 * time.Second, []Sample{{At: switched.Add(88 * time.Second)}, {At: switched.Add(90 * time.Second)}}, true, false, 91 * time.Second, "counting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Decide(switched.Add(tt.at), tt.samples, tt.oldHealthy)
			if got.Done != tt.done || !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("Decide = %+v; want done %v with a reason containing %q", got, tt.done, tt.reason)
			}
			if !tt.done && !got.Until.Equal(switched.Add(tt.until)) {
				t.Errorf("until %s after the switch, want %s", got.Until.Sub(switched), tt.until)
			}
		})
	}
}

func TestFailover(t *testing.T) {
	tests := []struct {
		live, warm SlotHealth
		want       bool
	}{
		{SlotHealth{2, 0}, SlotHealth{2, 2}, true},
		{SlotHealth{0, 0}, SlotHealth{1, 1}, true},  // every live instance exited
		{SlotHealth{2, 1}, SlotHealth{2, 2}, false}, // one healthy is still serving
		{SlotHealth{2, 0}, SlotHealth{2, 1}, false}, // the warm slot is not whole
		{SlotHealth{2, 0}, SlotHealth{0, 0}, false}, // nothing warm
	}
	for _, tt := range tests {
		if got := Failover(tt.live, tt.warm); got != tt.want {
			t.Errorf("Failover(live %+v, warm %+v) = %v, want %v", tt.live, tt.warm, got, tt.want)
		}
	}
}
