package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"time"
)

// Health is what the active checks last concluded about a target.
type Health int32

// The health states of a target. A target starts Unknown and takes no
// traffic until it is Healthy.
const (
	Unknown Health = iota
	Healthy
	Unhealthy
)

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	default:
		return "unknown"
	}
}

// Target is one instance as the load balancer sees it: an address, its
// health, and the requests in flight to it. A target is created by
// Proxy.NewTarget and receives traffic only while it is Healthy and in a
// pool that its service's weights send requests to.
type Target struct {
	ID   string
	Addr string // host:port on loopback

	rp       *httputil.ReverseProxy
	checks   *http.Client
	health   atomic.Int32
	inflight atomic.Int64
	closed   atomic.Bool
	served   atomic.Uint64

	mu         sync.Mutex
	lastResult string    // the last health check's outcome, for reasons shown to people
	stopChecks func()    // ends the health-check loop
	checksDone chan bool // closed when the loop has ended
}

// Health returns the target's current health.
func (t *Target) Health() Health { return Health(t.health.Load()) }

// InFlight returns the number of requests being forwarded to the target.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Served returns the number of requests the target has been given.
func (t *Target) Served() uint64 { return t.served.Load() }

// LastResult returns the outcome of the last health check, like
// "200 OK" or "dial tcp 127.0.0.1:4000: connect: connection refused".
func (t *Target) LastResult() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastResult
}

// acquire counts a request in flight, unless the target is closed. The
// order (count, then check) pairs with Close (mark, then wait for zero):
// a request either is counted before Close looks, or sees the mark and
// goes elsewhere.
func (t *Target) acquire() bool {
	t.inflight.Add(1)
	if t.closed.Load() {
		t.release()
		return false
	}
	t.served.Add(1)
	return true
}

func (t *Target) release() { t.inflight.Add(-1) }

// drainPoll is how often Drain looks at the count of requests in flight.
// Polling keeps the request path free of any signalling; draining is rare.
const drainPoll = 2 * time.Millisecond

// Drain waits until no request is in flight to t, or until timeout has
// passed or ctx is done; it reports whether the target became idle. It
// does not stop new requests: a warm target stays usable for rollback.
func (t *Target) Drain(ctx context.Context, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for t.inflight.Load() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			return t.inflight.Load() == 0
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Close stops new requests reaching t and its health checks, then waits
// like Drain for the requests already in flight. After Close the target
// can be stopped.
func (t *Target) Close(ctx context.Context, timeout time.Duration) bool {
	t.closed.Store(true)
	t.StopChecks()
	return t.Drain(ctx, timeout)
}

// Assume sets t's health before its checks have said anything: a server
// that adopts instances which were healthy when it died routes to them at
// once, and the checks that follow correct it.
func (t *Target) Assume(h Health) { t.health.Store(int32(h)) }

// MarkDown takes t out of rotation at once, as when its instance exits;
// reason says why. Health checks stop.
func (t *Target) MarkDown(reason string) {
	t.StopChecks()
	t.mu.Lock()
	t.lastResult = reason
	t.mu.Unlock()
	t.health.Store(int32(Unhealthy))
}

// StopChecks ends the target's health checks and waits for the loop to
// end; it is safe to call more than once.
func (t *Target) StopChecks() {
	t.mu.Lock()
	stop, done := t.stopChecks, t.checksDone
	t.stopChecks = nil
	t.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
