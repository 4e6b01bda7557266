package proxy

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Health is what the checks last concluded about a target.
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

// TargetOptions describe the instance a target stands for.
type TargetOptions struct {
	ID       string
	Addr     string // host:port on loopback
	Service  string
	Revision int
	Slot     spec.Slot
	Timeouts spec.UpstreamTimeouts
	// Consecutive5xx takes the target out of rotation after this many 5xx
	// answers in a row; 0 never does.
	Consecutive5xx int
}

// Target is one instance as the load balancer sees it: an address, its
// health, the requests in flight to it and what they got. A target is
// made by Proxy.NewTarget and receives traffic only while it is Healthy
// and in a pool that its service's weights (or a preview) send requests to.
type Target struct {
	ID       string
	Addr     string
	Service  string
	Revision int
	Slot     spec.Slot

	p        *Proxy
	rp       *httputil.ReverseProxy
	up       atomic.Pointer[upstream]
	health   atomic.Int32
	inflight atomic.Int64
	closed   atomic.Bool
	stats    stats

	max5xx    atomic.Int64
	run5xx    atomic.Int64 // 5xx answers in a row
	passively atomic.Bool  // taken out by real requests; the checks must start over

	mu         sync.Mutex
	lastResult string    // the last check's outcome, for reasons shown to people
	passive    string    // why real requests last took it out, if they did
	stopChecks func()    // ends the health-check loop
	checksDone chan bool // closed when the loop has ended
}

// NewTarget returns a target for an instance. It takes no traffic until it
// is Healthy and in a pool with weight.
func (p *Proxy) NewTarget(o TargetOptions) *Target {
	t := &Target{ID: o.ID, Addr: o.Addr, Service: o.Service, Revision: o.Revision, Slot: o.Slot, p: p}
	t.up.Store(newUpstream(o.Timeouts))
	t.max5xx.Store(int64(o.Consecutive5xx))
	u := &url.URL{Scheme: "http", Host: o.Addr}
	t.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host // the instance sees the host the client asked for, as behind an ALB
			setForwarded(pr)
		},
		Transport:      roundTripper{t},
		ModifyResponse: t.answered,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       p.errorLog,
	}
	p.track(t)
	return t
}

// roundTripper sends through the target's current upstream, which may be
// replaced when the service's timeouts change.
type roundTripper struct{ t *Target }

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return rt.t.up.Load().transport.RoundTrip(r)
}

// Update applies changed settings of the service to the target: timeouts
// (a new connection pool; the old one's idle connections close) and the
// passive-health threshold.
func (t *Target) Update(timeouts spec.UpstreamTimeouts, consecutive5xx int) {
	t.max5xx.Store(int64(consecutive5xx))
	old := t.up.Swap(newUpstream(timeouts))
	old.closeIdle()
}

// answered is called with each response from the instance: a run of 5xx
// answers takes the target out of rotation (passive health).
func (t *Target) answered(resp *http.Response) error {
	if t.countAnswer(resp.StatusCode) {
		t.takeOut("passive health: " + resp.Status + " to " + strconv.FormatInt(t.max5xx.Load(), 10) + " requests in a row")
	}
	return nil
}

// answeredRaw is answered for the fast path and the event loops, which
// have the status line's parts as parsed.
func (t *Target) answeredRaw(status int, reason []byte) {
	if t.countAnswer(status) {
		t.takeOut("passive health: " + strconv.Itoa(status) + " " + string(reason) + " to " + strconv.FormatInt(t.max5xx.Load(), 10) + " requests in a row")
	}
}

// countAnswer counts an answer's status towards the run of 5xx answers
// and reports whether the run has reached the limit.
func (t *Target) countAnswer(status int) bool {
	if status < 500 {
		if t.run5xx.Load() != 0 { // a store on every request would bounce the cache line between cores
			t.run5xx.Store(0)
		}
		return false
	}
	max := t.max5xx.Load()
	return max > 0 && t.run5xx.Add(1) >= max
}

// takeOut removes t from rotation because real requests failed; the active
// checks must pass healthy_threshold times again to bring it back.
func (t *Target) takeOut(reason string) {
	if t.health.Swap(int32(Unhealthy)) == int32(Unhealthy) {
		return
	}
	t.passively.Store(true)
	t.run5xx.Store(0)
	t.stats.transitions.Add(1)
	t.mu.Lock()
	t.lastResult, t.passive = reason, reason
	t.mu.Unlock()
	if t.p.onPassive != nil {
		t.p.onPassive(t, reason)
	}
}

// PassiveReason says why real requests last took t out of rotation, or "".
func (t *Target) PassiveReason() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.passive
}

// Health returns the target's current health.
func (t *Target) Health() Health { return Health(t.health.Load()) }

// InFlight returns the number of requests being forwarded to the target.
func (t *Target) InFlight() int64 { return t.inflight.Load() }

// Served returns the number of requests the target has answered or failed.
func (t *Target) Served() uint64 { return t.stats.snapshot().Requests }

// Stats returns what has been counted of the target's requests.
func (t *Target) Stats() Snapshot { return t.stats.snapshot() }

// LastResult returns the outcome of the last health check, like
// "GET /health: 200 OK" or "connect: connection refused".
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

// CloseConnections closes every connection to the instance, ending the
// requests still in flight on them and any WebSocket or other upgraded
// connection tunnelled through them; it returns how many were open. It
// is what a drain does when drain_timeout runs out.
func (t *Target) CloseConnections() int { return t.up.Load().closeAll() }

// Close stops new requests reaching t and its health checks, waits like
// Drain for the requests in flight, then closes what is left open. After
// Close the instance can be stopped; the target is forgotten.
func (t *Target) Close(ctx context.Context, timeout time.Duration) bool {
	t.closed.Store(true)
	t.StopChecks()
	idle := t.Drain(ctx, timeout)
	t.CloseConnections()
	t.p.untrack(t)
	return idle
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
