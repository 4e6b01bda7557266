package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/teal-deploy/teal/internal/dns"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/process"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// The test binary is also the instance program: real processes, started
// by the real process driver, behind the real load balancer, recorded in
// the real store in a temp dir.
func TestMain(m *testing.M) {
	runtimetest.MaybeRunApp()
	os.Exit(m.Run())
}

type harness struct {
	t      *testing.T
	dir    string
	lbAddr string
	store  *state.Store
	px     *proxy.Proxy
	eng    *engine.Engine
	// drivers makes the drivers of each boot, as a server starting on the
	// same data directory makes them; nil means the process driver.
	drivers func() (runtime.Driver, engine.Builder)
	// image, when set, runs the instances as containers of this image.
	image string

	withDNS bool           // boot with a DNS publisher (dns_test.go)
	quiet   time.Duration  // engine.Config.DNSQuiet
	pub     *dns.Publisher // the publisher of the running engine, with DNS
	// wrapDNS, when set, stands between the engine and the publisher of
	// the next boot (a DNS server that refuses for a while).
	wrapDNS func(engine.Records) engine.Records
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir(), lbAddr: tcptest.FreeAddr(t)}
	h.boot()
	t.Cleanup(h.shutdown)
	return h
}

// boot starts an engine on the state in h.dir and recovers what it records.
func (h *harness) boot() {
	h.t.Helper()
	store, err := state.Open(filepath.Join(h.dir, "state.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	h.store, h.px = store, proxy.New(proxy.Options{Log: log})
	var driver runtime.Driver = &process.Driver{LogDir: filepath.Join(h.dir, "logs"), Env: os.Environ()}
	var builder engine.Builder
	if h.drivers != nil {
		driver, builder = h.drivers()
	}
	var records engine.Records
	if h.withDNS {
		h.pub = dns.NewPublisher(log)
		records = h.pub
		if h.wrapDNS != nil {
			records = h.wrapDNS(records)
		}
	}
	h.eng = engine.New(engine.Config{
		Store:    store,
		Driver:   driver,
		Builder:  builder,
		Switch:   h.px,
		Log:      log,
		DNS:      records,
		DNSQuiet: h.quiet,
	})
	if err := h.eng.Recover(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

// crash leaves everything running as a SIGKILL of the server would: only
// the listeners close and the state file is released.
func (h *harness) crash() {
	h.px.Shutdown(context.Background())
	if h.pub != nil {
		h.pub.Close()
	}
	h.store.Close()
	h.store = nil
}

func (h *harness) shutdown() {
	if h.store == nil {
		return
	}
	h.px.Shutdown(context.Background())
	h.eng.Shutdown(context.Background())
	if h.pub != nil {
		h.pub.Close()
	}
	h.store.Close()
	h.store = nil
}

// desired returns a configuration of one service "web" whose instances
// behave as b.
func (h *harness) desired(count int, b runtimetest.Behaviour) spec.Desired {
	self, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	web := spec.NewService("web")
	web.Version = b.Version
	web.DesiredCount = count
	web.Process = &spec.Process{Command: []string{self}, Env: b.Env(), Dir: h.dir}
	if h.image != "" {
		env := b.Env()
		env[runtimetest.EnvHost] = "0.0.0.0"
		web.Process = nil
		web.Container = &spec.Container{Image: h.image, Port: 8080, Env: env, Pull: spec.PullNever}
	}
	web.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	web.HealthCheck.Path = "/health"
	web.HealthCheck.Interval = spec.Duration(50 * time.Millisecond)
	web.HealthCheck.GracePeriod = spec.Duration(time.Second) // the race detector slows the instances' start
	web.HealthCheck.UnhealthyThreshold = 2
	web.Deploy.ReadyTimeout = spec.Duration(10 * time.Second)
	web.Deploy.DrainTimeout = spec.Duration(5 * time.Second)
	lb := spec.NewLoadBalancer("public")
	lb.Listen = h.lbAddr
	return spec.Desired{LoadBalancers: []spec.LoadBalancer{lb}, Services: []spec.Service{web}}
}

// apply applies d and returns the result for service web.
func (h *harness) apply(d spec.Desired) engine.Result {
	h.t.Helper()
	_, results, err := h.eng.Apply(d, engine.ApplyOptions{Actor: "test"}, nil)
	if err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
	for _, r := range results {
		if r.Address == "service.web" {
			return r
		}
	}
	h.t.Fatalf("no result for service.web in %+v", results)
	return engine.Result{}
}

func (h *harness) mustApply(d spec.Desired) *state.Deployment {
	h.t.Helper()
	r := h.apply(d)
	if r.Error != "" {
		h.t.Fatalf("apply failed: %s", r.Error)
	}
	return r.Deployment
}

// get sends one request through the load balancer.
func (h *harness) get() (code int, version, instance string) {
	h.t.Helper()
	resp, err := http.Get("http://" + h.lbAddr + "/")
	if err != nil {
		h.t.Fatalf("GET through the load balancer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Version"), resp.Header.Get("X-Instance")
}

func (h *harness) status() engine.ServiceStatus {
	h.t.Helper()
	st, err := h.eng.Status("web")
	if err != nil || len(st) != 1 {
		h.t.Fatalf("Status: %v %v", st, err)
	}
	return st[0]
}

func ids(s *engine.SlotStatus) map[string]bool {
	out := map[string]bool{}
	if s != nil {
		for _, in := range s.Instances {
			out[in.ID] = true
		}
	}
	return out
}

func stepNames(d state.Deployment) string {
	names := make([]string, len(d.Steps))
	for i, s := range d.Steps {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

func TestDeployFailRollback(t *testing.T) {
	h := newHarness(t)
	d := h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	if d.ToRevision != 1 || d.Slot != spec.Blue || stepNames(*d) != "start,health,switch" {
		t.Errorf("first deployment: %+v", d)
	}
	if code, v, _ := h.get(); code != 200 || v != "v1" {
		t.Fatalf("after v1: %d %q", code, v)
	}
	v1 := ids(h.status().Live)

	d = h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v2"}))
	if d.FromRevision != 1 || d.ToRevision != 2 || d.Slot != spec.Green || stepNames(*d) != "start,health,switch,drain" {
		t.Errorf("second deployment: %+v", d)
	}
	if _, v, _ := h.get(); v != "v2" {
		t.Fatalf("after v2: %q", v)
	}

	// v3 fails its checks: the deployment fails early (after the grace
	// period), says why, and changes nothing: v2 live, v1 warm.
	r := h.apply(h.desired(2, runtimetest.Behaviour{Version: "v3", Unhealthy: true}))
	if !strings.Contains(r.Error, "failed their health checks") || !strings.Contains(r.Error, "503 Service Unavailable") {
		t.Errorf("v3 error = %q", r.Error)
	}
	if r.Deployment == nil || r.Deployment.Status != state.Failed || stepNames(*r.Deployment) != "start,health,roll back" {
		t.Errorf("v3 deployment: %+v", r.Deployment)
	}
	st := h.status()
	if st.Live.Version != "v2" || st.Previous == nil || st.Previous.Version != "v1" || st.Candidate != nil {
		t.Fatalf("after v3: live %+v previous %+v candidate %+v", st.Live, st.Previous, st.Candidate)
	}
	if _, v, _ := h.get(); v != "v2" {
		t.Fatalf("after v3 failed: %q", v)
	}

	// v1 is warm: rolling back is one switch to the same instances.
	rb, err := h.eng.Rollback("web", 0, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rb.Kind != state.KindRollback || rb.ToRevision != 1 || stepNames(rb) != "switch,drain" {
		t.Errorf("rollback: %+v", rb)
	}
	_, v, inst := h.get()
	if v != "v1" || !v1[inst] {
		t.Errorf("after rollback %q from %s; want v1 from %v", v, inst, v1)
	}
	// And forward again: v2 is now the warm one.
	if rb, err = h.eng.Rollback("web", 0, "test", nil); err != nil || rb.ToRevision != 2 || stepNames(rb) != "switch,drain" {
		t.Errorf("roll forward: %+v %v", rb, err)
	}
	// Revision 3 never went live and is not warm: going to it is a
	// deployment, which fails as v3 did.
	rb, err = h.eng.Rollback("web", 3, "test", nil)
	var de *engine.DeploymentError
	if !errors.As(err, &de) || rb.Kind != state.KindRollback || !strings.HasPrefix(stepNames(rb), "start,health") {
		t.Errorf("rollback to 3: %+v %v", rb, err)
	}
	if _, err := h.eng.Rollback("web", 2, "test", nil); err == nil || !strings.Contains(err.Error(), "already live") {
		t.Errorf("rollback to the live revision: %v", err)
	}
}

func TestExitedCandidate(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	crashing := h.desired(1, runtimetest.Behaviour{Version: "v2", Say: "cannot open database", ExitAfter: 100 * time.Millisecond, ExitCode: 3})
	crashing.Services[0].HealthCheck.HealthyThreshold = 10 // it exits long before it could be healthy
	r := h.apply(crashing)
	for _, want := range []string{"1 of 1 new instances exited", "exited with status 3", "cannot open database"} {
		if !strings.Contains(r.Error, want) {
			t.Errorf("error %q lacks %q", r.Error, want)
		}
	}
	if _, v, _ := h.get(); v != "v1" {
		t.Errorf("after a crashing candidate: %q", v)
	}
}

func TestStartFailure(t *testing.T) {
	h := newHarness(t)
	d := h.desired(1, runtimetest.Behaviour{Version: "v1"})
	d.Services[0].Process.Command = []string{"/nonexistent/web"}
	r := h.apply(d)
	if !strings.Contains(r.Error, "could not be started") || !strings.Contains(r.Error, "/nonexistent/web") {
		t.Errorf("error = %q", r.Error)
	}
	if code, _, _ := h.get(); code != http.StatusServiceUnavailable {
		t.Errorf("a service that never went live answers %d, want 503", code)
	}
}

func TestScaleInPlace(t *testing.T) {
	h := newHarness(t)
	b := runtimetest.Behaviour{Version: "v1"}
	h.mustApply(h.desired(2, b))
	before := ids(h.status().Live)

	d := h.mustApply(h.desired(3, b))
	if d.Kind != state.KindScale || d.ToRevision != 1 {
		t.Errorf("scale up: %+v", d)
	}
	up := ids(h.status().Live)
	if len(up) != 3 {
		t.Fatalf("after scaling to 3: %v", up)
	}
	for id := range before {
		if !up[id] {
			t.Errorf("scaling up replaced %s", id)
		}
	}
	seen := map[string]bool{}
	for range 30 {
		_, _, inst := h.get()
		seen[inst] = true
	}
	if len(seen) != 3 {
		t.Errorf("requests went to %v, want all 3 instances", seen)
	}

	d = h.mustApply(h.desired(1, b))
	if d.Kind != state.KindScale || len(h.status().Live.Instances) != 1 {
		t.Errorf("scale down: %+v, %d instances", d, len(h.status().Live.Instances))
	}
	for range 10 {
		if code, _, _ := h.get(); code != 200 {
			t.Fatalf("after scaling down: %d", code)
		}
	}
}

func TestInPlaceRouteChange(t *testing.T) {
	h := newHarness(t)
	b := runtimetest.Behaviour{Version: "v1"}
	h.mustApply(h.desired(1, b))
	live := ids(h.status().Live)
	d := h.desired(1, b)
	d.Services[0].Routes[0].Path = "/app/*"
	if r := h.apply(d); r.Error != "" || r.Deployment != nil {
		t.Fatalf("route change: %+v", r)
	}
	if code, _, _ := h.get(); code != http.StatusNotFound {
		t.Errorf("/ after the route moved to /app/*: %d, want 404", code)
	}
	resp, err := http.Get("http://" + h.lbAddr + "/app/x")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/app/x: %v %v", resp, err)
	}
	resp.Body.Close()
	if now := ids(h.status().Live); len(now) != 1 || !now[firstKey(live)] {
		t.Errorf("a route change restarted instances: %v -> %v", live, now)
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func TestDestroy(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	d := h.desired(2, runtimetest.Behaviour{})
	d.Services = nil
	r := h.apply(d)
	if r.Action.String() != "delete" || r.Error != "" || stepNames(*r.Deployment) != "unroute,drain,stop" {
		t.Errorf("destroy: %+v", r)
	}
	if code, _, _ := h.get(); code != http.StatusNotFound {
		t.Errorf("after destroy: %d, want 404", code)
	}
	if st, err := h.eng.Status(""); err != nil || len(st) != 0 {
		t.Errorf("status after destroy: %+v %v", st, err)
	}
	if _, ds, err := h.eng.History("web"); err != nil || len(ds) != 2 {
		t.Errorf("history is kept after destroy: %d deployments, %v", len(ds), err)
	}
}

// A server killed at any moment leaves instances running; the next one
// adopts them and serves at once, with the same instances.
func TestRecoverAdopts(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v2"}))
	before := h.status()
	h.crash()

	h.boot()
	// At once: adopted instances were healthy, so they take traffic
	// before their checks (two passes) could have said so again.
	code, v, inst := h.get()
	if code != 200 || v != "v2" {
		t.Fatalf("right after recovery: %d %q", code, v)
	}
	after := h.status()
	if !ids(before.Live)[inst] || len(ids(after.Live)) != 2 {
		t.Errorf("live instances before %v, after %v, answered by %s", ids(before.Live), ids(after.Live), inst)
	}
	for id := range ids(before.Previous) {
		if !ids(after.Previous)[id] {
			t.Errorf("warm instance %s was not adopted: %v", id, ids(after.Previous))
		}
	}
	rb, err := h.eng.Rollback("web", 0, "test", nil)
	if err != nil || stepNames(rb) != "switch,drain" {
		t.Errorf("rollback after recovery: %+v %v", rb, err)
	}
}

// Deployments a dead server left running are settled: switched ones
// succeeded, the rest failed and their candidates are stopped.
func TestRecoverSettles(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	h.crash()
	st, err := state.Open(filepath.Join(h.dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	var before, after state.Deployment
	st.Update(func(tx *state.Tx) error {
		before, _ = tx.CreateDeployment(state.Deployment{Service: "web", Kind: state.KindDeploy, FromRevision: 1, ToRevision: 2, Status: state.Running,
			Steps: []state.Step{{Name: "start", Status: state.Succeeded}, {Name: "health", Status: state.Running}}})
		after, _ = tx.CreateDeployment(state.Deployment{Service: "web", Kind: state.KindDeploy, FromRevision: 1, ToRevision: 1, Status: state.Running,
			Steps: []state.Step{{Name: "start", Status: state.Succeeded}, {Name: "switch", Status: state.Succeeded}, {Name: "drain", Status: state.Running}}})
		return nil
	})
	st.Close()
	h.boot()
	_, ds, err := h.eng.History("web")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]state.Deployment{}
	for _, d := range ds {
		got[d.ID] = d
	}
	if d := got[before.ID]; d.Status != state.Failed || !strings.Contains(d.Reason, "before the switch") || d.Steps[1].Status != state.Failed {
		t.Errorf("deployment stopped before its switch: %+v", d)
	}
	if d := got[after.ID]; d.Status != state.Succeeded || d.Steps[2].Status != state.Failed {
		t.Errorf("deployment stopped after its switch: %+v", d)
	}
	if code, v, _ := h.get(); code != 200 || v != "v1" {
		t.Errorf("after settling: %d %q", code, v)
	}
}

// One apply at a time; one operation at a time per service; the loser is
// told who holds the lock.
func TestExclusive(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	slow := h.desired(1, runtimetest.Behaviour{Version: "v2", Unhealthy: true})
	slow.Services[0].HealthCheck.GracePeriod = spec.Duration(time.Minute) // fails only at ready_timeout
	slow.Services[0].Deploy.ReadyTimeout = spec.Duration(1500 * time.Millisecond)
	done := make(chan engine.Result)
	go func() { done <- h.apply(slow) }()
	waitFor(t, func() bool { return h.status().Candidate != nil })

	_, _, err := h.eng.Apply(h.desired(1, runtimetest.Behaviour{Version: "v3"}), engine.ApplyOptions{Actor: "second"}, nil)
	var busy *engine.BusyError
	if !errors.As(err, &busy) || busy.Actor != "test" {
		t.Errorf("second apply: %v, want busy naming the first", err)
	}
	if _, err := h.eng.Rollback("web", 0, "operator", nil); !errors.As(err, &busy) || !strings.Contains(err.Error(), "apply by test") {
		t.Errorf("rollback during an apply: %v", err)
	}
	if r := <-done; !strings.Contains(r.Error, "when ready_timeout ran out") {
		t.Errorf("slow apply: %q", r.Error)
	}

	stale := uint64(0)
	if _, _, err := h.eng.Apply(h.desired(1, runtimetest.Behaviour{Version: "v3"}), engine.ApplyOptions{ExpectSerial: &stale}, nil); !errors.Is(err, engine.ErrStale) {
		t.Errorf("apply with a stale serial: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When the drain runs out of time, the WebSockets still open to the old
// slot are closed; new ones go to the new slot.
func TestDrainClosesWebSockets(t *testing.T) {
	h := newHarness(t)
	d := h.desired(1, runtimetest.Behaviour{Version: "v1"})
	d.Services[0].Deploy.DrainTimeout = spec.Duration(300 * time.Millisecond)
	h.mustApply(d)
	v1 := firstKey(ids(h.status().Live))
	ctx := context.Background()
	old, _, err := websocket.Dial(ctx, "ws://"+h.lbAddr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseNow()
	if got := wsEcho(t, old, "hi"); got != v1+": hi" {
		t.Fatalf("WebSocket before the deploy: %q", got)
	}
	d = h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.DrainTimeout = spec.Duration(300 * time.Millisecond)
	dep := h.mustApply(d)
	drain := dep.Steps[len(dep.Steps)-1]
	if drain.Name != "drain" || !strings.Contains(drain.Outcome, "1 requests still in flight after 300ms: closed their") {
		t.Errorf("drain step: %+v", drain)
	}
	if err := old.Write(ctx, websocket.MessageText, []byte("still there?")); err == nil {
		if _, _, err := old.Read(ctx); err == nil {
			t.Error("the WebSocket to the old slot is still open after drain_timeout")
		}
	}
	fresh, _, err := websocket.Dial(ctx, "ws://"+h.lbAddr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.CloseNow()
	if got := wsEcho(t, fresh, "hello"); strings.HasPrefix(got, v1) || !strings.HasSuffix(got, ": hello") {
		t.Errorf("a new WebSocket went to %q, want the new slot", got)
	}
}

func wsEcho(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A pause or a maintenance is kept in the state: a restarted server is
// still in it, until resumed.
func TestGateSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	if err := h.eng.Maintenance("web", "Back soon.", "operator"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := h.get(); code != http.StatusServiceUnavailable {
		t.Fatalf("in maintenance: %d", code)
	}
	h.crash()
	h.boot()
	if code, _, _ := h.get(); code != http.StatusServiceUnavailable {
		t.Errorf("in maintenance after a restart: %d, want 503", code)
	}
	if st := h.status(); st.Gate == nil || !st.Gate.Maintenance || st.Gate.Actor != "operator" {
		t.Errorf("status gate: %+v", st.Gate)
	}
	if err := h.eng.Resume("web", "operator"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := h.get(); code != 200 {
		t.Errorf("after resume: %d", code)
	}
	if err := h.eng.Pause("nope", 0, "x"); err == nil {
		t.Error("pausing an unknown service succeeded")
	}
}

// A live instance that crashes is replaced by a repair deployment, and
// the service serves throughout from the other.
func TestCrashedInstanceIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	live := h.status().Live
	victim := live.Instances[0]
	resp, err := http.Get("http://" + victim.Addr + "/crash")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var now map[string]bool
	waitFor(t, func() bool {
		st := h.status().Live
		now = map[string]bool{}
		for _, in := range st.Instances {
			if in.Health == "healthy" && in.Exit == "" {
				now[in.ID] = true
			}
		}
		return len(now) == 2 && !now[victim.ID]
	})
	waitFor(t, func() bool { // the repair sees its instance healthy at its next look
		d := h.status().Deployment
		return d != nil && d.Kind == state.KindRepair && d.Status != state.Running
	})
	if code, _, _ := h.get(); code != 200 {
		t.Errorf("after the replacement: %d", code)
	}
	revs, ds, err := h.eng.History("web")
	if err != nil {
		t.Fatal(err)
	}
	last := ds[len(ds)-1]
	if len(revs) != 1 || last.Kind != state.KindRepair || last.Status != state.Succeeded {
		t.Errorf("the replacement's deployment: %+v", last)
	}
	evs, _ := h.eng.LastEvents(50, "web")
	var saw []string
	for _, ev := range evs {
		if ev.Type == "instance.exited" || ev.Type == "instance.restarting" {
			saw = append(saw, ev.Type+": "+ev.Message)
		}
	}
	if len(saw) != 2 || !strings.Contains(saw[0], victim.ID+" (revision 1, blue) exited with status 3") ||
		!strings.Contains(saw[1], "replacing 1 instance of revision 1 in blue that exited on its own (1 crash in a row)") {
		t.Errorf("events: %q", saw)
	}
}

// Operations that meet: an apply during a rollback waits for nothing and
// is refused naming the rollback; a promote after an abort is refused
// naming who aborted, and the abort wins.
func TestConcurrentOperations(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v2"}))
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v3"})) // v2 warm, v1 stopped

	// A rollback to v1 is a deployment of it: it takes a while.
	rolled := make(chan error, 1)
	go func() {
		_, err := h.eng.Rollback("web", 1, "operator", nil)
		rolled <- err
	}()
	waitFor(t, func() bool { return h.status().Candidate != nil })
	_, res, err := h.eng.Apply(h.desired(1, runtimetest.Behaviour{Version: "v4"}), engine.ApplyOptions{Actor: "ci"}, nil)
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Error, "rollback by operator") {
		t.Errorf("an apply during a rollback: %v %+v, want the service refused naming the rollback", err, res)
	}
	if err := <-rolled; err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if v := h.status().Live.Version; v != "v1" {
		t.Errorf("after the rollback %s is live", v)
	}

	// A canary holding for promote, then aborted and promoted at once.
	d := h.desired(1, runtimetest.Behaviour{Version: "v5"})
	canary(&d, spec.CanaryStep{Weight: 50})
	d.Services[0].Deploy.Analysis = nil
	done := h.applyAsync(d)
	h.holding(t, "waiting for `teal promote`")
	if err := h.eng.Abort("web", "alice"); err != nil {
		t.Fatal(err)
	}
	err = h.eng.Promote("web", "bob")
	if !errors.Is(err, engine.ErrAborting) && !errors.Is(err, engine.ErrNoDeployment) {
		t.Errorf("a promote after an abort: %v, want it refused", err)
	} else if errors.Is(err, engine.ErrAborting) && !strings.Contains(err.Error(), "aborted by alice") {
		t.Errorf("a promote after an abort does not say who aborted: %v", err)
	}
	r := <-done
	if r.Deployment == nil || r.Deployment.Status != state.Failed || h.status().Live.Version != "v1" {
		t.Errorf("the aborted canary: %+v, %s live", r.Deployment, h.status().Live.Version)
	}
}

// Instances that start slowly, or find their port taken: the first is
// live once healthy within its grace period, or fails at ready_timeout;
// the second never is, and the reason says why. The live one serves
// throughout.
func TestFaultyCandidates(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))

	slow := h.desired(1, runtimetest.Behaviour{Version: "v2", StartDelay: 1500 * time.Millisecond})
	slow.Services[0].HealthCheck.GracePeriod = spec.Duration(3 * time.Second)
	if d := h.mustApply(slow); d.Status != state.Succeeded {
		t.Errorf("a slow start within its grace period: %+v", d)
	}

	tooSlow := h.desired(1, runtimetest.Behaviour{Version: "v3", StartDelay: 5 * time.Second})
	tooSlow.Services[0].HealthCheck.GracePeriod = spec.Duration(10 * time.Second)
	tooSlow.Services[0].Deploy.ReadyTimeout = spec.Duration(time.Second)
	if r := h.apply(tooSlow); !strings.Contains(r.Error, "when ready_timeout ran out") || !strings.Contains(r.Error, "connection refused") {
		t.Errorf("a start slower than ready_timeout: %q", r.Error)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := h.desired(1, runtimetest.Behaviour{Version: "v4", Port: ln.Addr().(*net.TCPAddr).Port})
	taken.Services[0].HealthCheck.HealthyThreshold = 10
	if r := h.apply(taken); !strings.Contains(r.Error, "exited with status 1") || !strings.Contains(r.Error, "address already in use") {
		t.Errorf("a candidate whose port is taken: %q", r.Error)
	}
	if _, v, _ := h.get(); v != "v2" {
		t.Errorf("after the faulty candidates %q answers", v)
	}
}
