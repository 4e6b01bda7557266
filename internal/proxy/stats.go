package proxy

import (
	"math"
	"sort"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds, in seconds, of the latency
// histogram buckets: Prometheus's defaults, which cover 5 ms to 10 s.
var latencyBounds = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// stats are one target's request counters. They are plain atomics, so the
// request path pays a few adds and no lock or map lookup; the Prometheus
// collector and the canary analysis read them.
type stats struct {
	codes   [6]atomic.Uint64 // by status class: [1] 1xx … [5] 5xx; [0] no response (upstream failed)
	buckets [12]atomic.Uint64
	sumNano atomic.Uint64

	checksPassed atomic.Uint64
	checksFailed atomic.Uint64
	transitions  atomic.Uint64
}

// observe counts one finished request.
func (s *stats) observe(status int, d time.Duration) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 0
	}
	s.codes[class].Add(1)
	i := sort.SearchFloat64s(latencyBounds, d.Seconds())
	s.buckets[i].Add(1)
	s.sumNano.Add(uint64(d.Nanoseconds()))
}

// Snapshot is what has been counted for a target, or summed over several.
type Snapshot struct {
	Requests uint64    // every request that got an answer or an upstream failure
	Errors   uint64    // 5xx answers and upstream failures
	Codes    [6]uint64 // by class, as in stats.codes
	Buckets  []uint64  // not cumulative; one per latencyBounds entry, then +Inf
	Sum      time.Duration
}

func (s *stats) snapshot() Snapshot {
	var sn Snapshot
	for i := range s.codes {
		sn.Codes[i] = s.codes[i].Load()
		sn.Requests += sn.Codes[i]
	}
	sn.Errors = sn.Codes[5] + sn.Codes[0]
	sn.Buckets = make([]uint64, len(s.buckets))
	for i := range s.buckets {
		sn.Buckets[i] = s.buckets[i].Load()
	}
	sn.Sum = time.Duration(s.sumNano.Load())
	return sn
}

// Add sums two snapshots.
func (a Snapshot) Add(b Snapshot) Snapshot {
	a.Requests += b.Requests
	a.Errors += b.Errors
	for i := range a.Codes {
		a.Codes[i] += b.Codes[i]
	}
	if a.Buckets == nil {
		a.Buckets = make([]uint64, len(latencyBounds)+1)
	}
	for i := range b.Buckets {
		a.Buckets[i] += b.Buckets[i]
	}
	a.Sum += b.Sum
	return a
}

// Sub returns what was counted between an earlier snapshot b and a.
func (a Snapshot) Sub(b Snapshot) Snapshot {
	out := Snapshot{Requests: a.Requests - b.Requests, Errors: a.Errors - b.Errors, Sum: a.Sum - b.Sum,
		Buckets: make([]uint64, len(a.Buckets))}
	for i := range a.Codes {
		out.Codes[i] = a.Codes[i] - b.Codes[i]
	}
	for i := range a.Buckets {
		if i < len(b.Buckets) {
			out.Buckets[i] = a.Buckets[i] - b.Buckets[i]
		} else {
			out.Buckets[i] = a.Buckets[i]
		}
	}
	return out
}

// ErrorRate returns the share of requests that failed, or 0 with none.
func (a Snapshot) ErrorRate() float64 {
	if a.Requests == 0 {
		return 0
	}
	return float64(a.Errors) / float64(a.Requests)
}

// Quantile estimates the q-quantile of latency (0 < q ≤ 1) as the upper
// bound of the bucket it falls in, as Prometheus's histogram_quantile
// would at worst; +Inf when it falls past the last bound.
func (a Snapshot) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range a.Buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, n := range a.Buckets {
		seen += n
		if seen >= rank {
			if i >= len(latencyBounds) {
				return time.Duration(math.MaxInt64)
			}
			return time.Duration(latencyBounds[i] * float64(time.Second))
		}
	}
	return time.Duration(math.MaxInt64)
}
