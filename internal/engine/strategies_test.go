package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// load sends requests through the load balancer from a few clients until
// stopped, counting answers by version and every failure.
type load struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	versions map[string]int
	codes    map[int]int
	errs     []string
	total    atomic.Int64
}

func (h *harness) startLoad(clients int) *load {
	l := &load{stop: make(chan struct{}), versions: map[string]int{}, codes: map[int]int{}}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get("http://" + h.lbAddr + "/")
				l.total.Add(1)
				l.mu.Lock()
				if err != nil {
					l.errs = append(l.errs, err.Error())
				} else {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					l.codes[resp.StatusCode]++
					if resp.StatusCode == 200 {
						l.versions[resp.Header.Get("X-Version")]++
					}
				}
				l.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// failures returns everything that was not a 200.
func (l *load) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := append([]string(nil), l.errs...)
	for code, n := range l.codes {
		if code != 200 {
			out = append(out, http.StatusText(code)+" ×"+strconv.Itoa(n))
		}
	}
	return out
}

func (l *load) count(version string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.versions[version]
}

func canary(d *spec.Desired, steps ...spec.CanaryStep) {
	dep := &d.Services[0].Deploy
	dep.Strategy = spec.Canary
	dep.Steps = steps
	dep.Analysis = &spec.Analysis{MaxErrorRate: 0.05, MinRequests: 20, Interval: spec.Duration(50 * time.Millisecond)}
}

func pause(d time.Duration) *spec.Duration {
	p := spec.Duration(d)
	return &p
}

// applyAsync applies d in the background.
func (h *harness) applyAsync(d spec.Desired) chan engine.Result {
	done := make(chan engine.Result, 1)
	go func() { done <- h.apply(d) }()
	return done
}

// holding waits until the deployment in flight holds with a reason that
// contains what.
func (h *harness) holding(t *testing.T, what string) state.Deployment {
	t.Helper()
	var d state.Deployment
	waitFor(t, func() bool {
		st := h.status()
		if st.Deployment == nil || st.Deployment.Status != state.Running {
			return false
		}
		d = *st.Deployment
		for _, s := range d.Steps {
			if s.Name == "hold" && s.Status == state.Running && strings.Contains(s.Detail, what) {
				return true
			}
		}
		return false
	})
	return d
}

func TestCanaryPromoteAndAbort(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	l := h.startLoad(3)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()

	d := h.desired(2, runtimetest.Behaviour{Version: "v2"})
	canary(&d, spec.CanaryStep{Weight: 10, Pause: pause(300 * time.Millisecond)}, spec.CanaryStep{Weight: 50})
	done := h.applyAsync(d)
	h.holding(t, "at 50%: waiting for `teal promote`")
	before1, before2 := l.count("v1"), l.count("v2")
	time.Sleep(300 * time.Millisecond)
	got1, got2 := l.count("v1")-before1, l.count("v2")-before2
	if got2 == 0 || got1 == 0 || got2 < got1/3 {
		t.Errorf("at 50%%: %d answers from v1, %d from v2", got1, got2)
	}
	if err := h.eng.Promote("web", "tester"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.Error != "" {
		t.Fatalf("promoted canary: %s", r.Error)
	}
	// A step may hold twice: for its pause, then for want of traffic
	// when the load was too slow to give the analysis its minimum.
	names := strings.ReplaceAll(stepNames(*r.Deployment), "hold,hold", "hold")
	if want := "start,health,shift,hold,shift,hold,switch,drain"; names != want {
		t.Errorf("canary steps %s, want %s", stepNames(*r.Deployment), want)
	}
	waitFor(t, func() bool { _, v, _ := h.get(); return v == "v2" })

	d = h.desired(2, runtimetest.Behaviour{Version: "v3"})
	canary(&d, spec.CanaryStep{Weight: 20})
	done = h.applyAsync(d)
	h.holding(t, "at 20%")
	if err := h.eng.Abort("web", "tester"); err != nil {
		t.Fatal(err)
	}
	r = <-done
	if r.Deployment.Status != state.Failed || !strings.Contains(r.Error, "aborted by tester") {
		t.Errorf("aborted canary: %+v %q", r.Deployment, r.Error)
	}
	st := h.status()
	if st.Live.Version != "v2" || st.Candidate != nil {
		t.Errorf("after abort: live %s, candidate %+v", st.Live.Version, st.Candidate)
	}
	mark := l.count("v3")
	time.Sleep(200 * time.Millisecond)
	l.end()
	if n := l.count("v3") - mark; n != 0 {
		t.Errorf("v3 answered %d requests after the abort", n)
	}
	if f := l.failures(); len(f) > 0 {
		t.Errorf("requests failed during canaries: %v", f)
	}
	if err := h.eng.Promote("web", "tester"); !errors.Is(err, engine.ErrNoDeployment) {
		t.Errorf("promote with nothing in flight: %v", err)
	}
}

// A candidate that fails on real traffic is judged by the load balancer's
// counters and rolled back by itself.
func TestCanaryAnalysisRollsBack(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	l := h.startLoad(3)
	d := h.desired(1, runtimetest.Behaviour{Version: "v2", Fail: true})
	canary(&d, spec.CanaryStep{Weight: 30, Pause: pause(time.Minute)})
	// Passive health would take the failing instance out after 5 errors,
	// before the analysis has the 20 requests it needs: here the analysis
	// is what is tested.
	d.Services[0].HealthCheck.Consecutive5xx = 0
	r := h.apply(d)
	l.end()
	if !strings.Contains(r.Error, "at 30%: analysis failed: error rate 100.0%") {
		t.Fatalf("failing canary: %q", r.Error)
	}
	names := stepNames(*r.Deployment)
	if !strings.HasPrefix(names, "start,health,shift,hold,shift,roll back") {
		t.Errorf("steps %s: want the weight set back to 0 before the roll back", names)
	}
	if _, v, _ := h.get(); v != "v1" {
		t.Errorf("after the rollback: %q", v)
	}
}

// With too little traffic to judge, a canary holds and says so, and the
// progress deadline ends it.
func TestCanaryHoldsWithTooLittleTraffic(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	d := h.desired(1, runtimetest.Behaviour{Version: "v2"})
	canary(&d, spec.CanaryStep{Weight: 10, Pause: pause(0)})
	d.Services[0].Deploy.ProgressDeadline = spec.Duration(600 * time.Millisecond)
	r := h.apply(d)
	if !strings.Contains(r.Error, "no progress for 600ms: only 0 of the 20 requests the analysis needs") {
		t.Fatalf("canary without traffic: %q", r.Error)
	}
	var hold string
	for _, s := range r.Deployment.Steps {
		if s.Name == "hold" {
			hold = s.Detail
		}
	}
	if !strings.Contains(hold, "holding, 0 of the 20 requests the analysis needs; send traffic or `teal promote`") {
		t.Errorf("hold said %q", hold)
	}
}

// Ten instances, two at a time, under load: not one request fails.
func TestRollingUnderLoad(t *testing.T) {
	h := newHarness(t)
	d := h.desired(10, runtimetest.Behaviour{Version: "v1"})
	h.mustApply(d)
	old := ids(h.status().Live)
	l := h.startLoad(4)
	d = h.desired(10, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.Strategy = spec.Rolling
	d.Services[0].Deploy.BatchSize = 2
	dep := h.mustApply(d)
	time.Sleep(100 * time.Millisecond)
	l.end()
	if f := l.failures(); len(f) > 0 {
		t.Errorf("%d of %d requests failed during the rolling deployment: %v", len(f), l.total.Load(), f)
	}
	takeOuts := strings.Count(stepNames(*dep), "take out")
	if takeOuts != 5 || dep.Slot != spec.Blue || !strings.HasSuffix(stepNames(*dep), "switch") {
		t.Errorf("rolling steps: %s in %s; want 5 batches in the live slot", stepNames(*dep), dep.Slot)
	}
	st := h.status()
	if st.Live.Version != "v2" || len(st.Live.Instances) != 10 || st.Previous != nil {
		t.Errorf("after rolling: %s with %d instances, warm %+v", st.Live.Version, len(st.Live.Instances), st.Previous)
	}
	for _, in := range st.Live.Instances {
		if old[in.ID] {
			t.Errorf("old instance %s is still live", in.ID)
		}
	}
	t.Logf("%d requests through a rolling deployment of 10 instances in batches of 2, %d failed", l.total.Load(), len(l.failures()))
}

// A batch that never gets healthy fails the deployment, and the old
// revision is brought back to its full count.
func TestRollingFailureRestores(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(4, runtimetest.Behaviour{Version: "v1"}))
	l := h.startLoad(2)
	d := h.desired(4, runtimetest.Behaviour{Version: "v2", Unhealthy: true})
	d.Services[0].Deploy.Strategy = spec.Rolling
	d.Services[0].Deploy.BatchSize = 2
	r := h.apply(d)
	l.end()
	if !strings.Contains(r.Error, "failed their health checks") || !strings.Contains(stepNames(*r.Deployment), "restore") {
		t.Fatalf("failing rolling: %q, steps %s", r.Error, stepNames(*r.Deployment))
	}
	st := h.status()
	healthy := 0
	for _, in := range st.Live.Instances {
		if in.Health == "healthy" {
			healthy++
		}
	}
	if st.Live.Version != "v1" || healthy != 4 {
		t.Errorf("after the failed rolling deployment: %s with %d healthy of %+v", st.Live.Version, healthy, st.Live.Instances)
	}
	if f := l.failures(); len(f) > 0 {
		t.Errorf("requests failed: %v", f)
	}
}

// Hooks run with the deployment described in their environment and their
// output in its record. A failing before_switch rolls back; a failing
// after_switch switches back; on_rollback runs then; after_bake runs once
// keep_previous has passed.
func TestHooks(t *testing.T) {
	h := newHarness(t)
	h.mustApply(h.desired(1, runtimetest.Behaviour{Version: "v1"}))
	envFile := filepath.Join(t.TempDir(), "env")
	rolledBack := filepath.Join(t.TempDir(), "rolled-back")

	d := h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.BeforeSwitch = []string{"sh", "-c", "echo migrating; echo 'error: relation exists' >&2; exit 3"}
	d.Services[0].Deploy.OnRollback = []string{"sh", "-c", "echo $TEAL_ROLLBACK_REASON > " + rolledBack}
	r := h.apply(d)
	if !strings.Contains(r.Error, "before_switch hook failed: exit status 3") || !strings.Contains(r.Error, "error: relation exists") {
		t.Errorf("failing before_switch: %q", r.Error)
	}
	if got := stepNames(*r.Deployment); got != "start,health,hook before_switch,roll back,hook on_rollback" {
		t.Errorf("steps %s", got)
	}
	if out := r.Deployment.Steps[2].Outcome; !strings.Contains(out, "migrating") {
		t.Errorf("hook output not kept: %q", out)
	}
	if b, _ := os.ReadFile(rolledBack); !strings.Contains(string(b), "before_switch hook failed") {
		t.Errorf("on_rollback did not run with the reason: %q", b)
	}
	if _, v, _ := h.get(); v != "v1" {
		t.Errorf("after a failed before_switch: %q", v)
	}

	d = h.desired(1, runtimetest.Behaviour{Version: "v3"})
	d.Services[0].Deploy.BeforeSwitch = []string{"sh", "-c", "env | grep ^TEAL_ | sort > " + envFile}
	d.Services[0].Deploy.AfterSwitch = []string{"sh", "-c", "echo smoke test failed; exit 1"}
	r = h.apply(d)
	if !strings.Contains(r.Error, "after_switch hook failed") {
		t.Errorf("failing after_switch: %q", r.Error)
	}
	if got := stepNames(*r.Deployment); got != "start,health,hook before_switch,switch,hook after_switch,switch,roll back" {
		t.Errorf("steps %s", got)
	}
	if st := h.status(); st.Live.Version != "v1" {
		t.Errorf("after a failed after_switch: live %s, want v1 switched back", st.Live.Version)
	}
	env, _ := os.ReadFile(envFile)
	for _, want := range []string{"TEAL_SERVICE=web", "TEAL_NEW_REVISION=3", "TEAL_NEW_VERSION=v3", "TEAL_OLD_REVISION=1", "TEAL_OLD_VERSION=v1", "TEAL_HOOK=before_switch", "TEAL_NEW_SLOT=green", "TEAL_OLD_SLOT=blue"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("hook environment lacks %s:\n%s", want, env)
		}
	}

	baked := filepath.Join(t.TempDir(), "baked")
	d = h.desired(1, runtimetest.Behaviour{Version: "v4"})
	d.Services[0].Deploy.KeepPrevious = spec.Duration(200 * time.Millisecond)
	d.Services[0].Deploy.AfterBake = []string{"sh", "-c", "echo contract $TEAL_RETIRED_VERSION > " + baked}
	dep := h.mustApply(d)
	waitFor(t, func() bool { b, _ := os.ReadFile(baked); return strings.TrimSpace(string(b)) == "contract v1" })
	_, ds, _ := h.eng.History("web")
	if last := ds[len(ds)-1]; last.ID != dep.ID || !strings.HasSuffix(stepNames(last), "hook after_bake") {
		t.Errorf("after_bake is not in the record of the deployment that left v1 warm: %s", stepNames(last))
	}

	d = h.desired(1, runtimetest.Behaviour{Version: "v5"})
	d.Services[0].Deploy.BeforeSwitch = []string{"sleep", "10"}
	d.Services[0].Deploy.HookTimeout = spec.Duration(200 * time.Millisecond)
	if r := h.apply(d); !strings.Contains(r.Error, "timed out after 200ms (hook_timeout) and was killed") {
		t.Errorf("a hook past its timeout: %q", r.Error)
	}
}

// auto_promote = false holds a healthy candidate, which preview requests
// reach, until teal promote.
func TestManualPromoteWithPreview(t *testing.T) {
	h := newHarness(t)
	d := h.desired(1, runtimetest.Behaviour{Version: "v1"})
	d.Services[0].Preview = spec.NewPreview()
	h.mustApply(d)
	d = h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Preview = spec.NewPreview()
	d.Services[0].Deploy.AutoPromote = false
	done := h.applyAsync(d)
	h.holding(t, "waiting for `teal promote`")
	req, _ := http.NewRequest("GET", "http://"+h.lbAddr+"/", nil)
	req.Header.Set("X-Teal-Slot", "candidate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("X-Version"); v != "v2" || resp.Header.Get("X-Teal-Slot") != "green" {
		t.Errorf("preview request went to %q in %q", v, resp.Header.Get("X-Teal-Slot"))
	}
	if _, v, _ := h.get(); v != "v1" {
		t.Errorf("a plain request during the hold went to %q", v)
	}
	if err := h.eng.Promote("web", "tester"); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Error != "" {
		t.Fatal(r.Error)
	}
	if _, v, _ := h.get(); v != "v2" {
		t.Errorf("after promote: %q", v)
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	h := newHarness(t)
	for _, v := range []string{"v1", "v2", "v3", "v4", "v5"} {
		d := h.desired(1, runtimetest.Behaviour{Version: v})
		d.Services[0].RevisionHistoryLimit = 2
		h.mustApply(d)
	}
	revs, ds, err := h.eng.History("web")
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, r := range revs {
		nums = append(nums, r.Number)
	}
	if len(nums) != 2 || nums[0] != 4 || nums[1] != 5 || len(ds) != 5 {
		t.Errorf("revisions %v and %d deployments kept; want 4, 5 and all 5 deployments", nums, len(ds))
	}
}

// An instance killed outside teal is drift: the plan says so, and an
// apply of the same configuration replaces it.
func TestDriftIsRepaired(t *testing.T) {
	h := newHarness(t)
	d := h.desired(2, runtimetest.Behaviour{Version: "v1"})
	h.mustApply(d)
	var victim state.Instance
	h.store.View(func(tx *state.Tx) error {
		ins, _ := tx.Instances()
		victim = ins[0]
		return nil
	})
	var handle struct{ Pid int }
	if err := json.Unmarshal([]byte(victim.Handle), &handle); err != nil || handle.Pid == 0 {
		t.Fatalf("handle %q: %v", victim.Handle, err)
	}
	syscall.Kill(-handle.Pid, syscall.SIGKILL)
	waitFor(t, func() bool { running, _ := h.drift(); return running == 1 })

	p, err := h.eng.Plan(d)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := p.Change("service", "web")
	if !ok || c.Repair != 1 || len(c.Drift) != 1 || !strings.Contains(c.Drift[0], victim.ID+" of revision 1 killed by signal KILL") {
		t.Fatalf("plan after a kill outside teal: %+v", c)
	}
	r := h.apply(d)
	if r.Error != "" || r.Deployment == nil || r.Deployment.Kind != state.KindRepair {
		t.Fatalf("repair: %+v", r)
	}
	if running, drift := h.drift(); running != 2 || len(drift) != 0 {
		t.Errorf("after the repair: %d running, drift %v", running, drift)
	}
	if p, _ := h.eng.Plan(d); p.HasChanges() {
		t.Errorf("a plan after the repair still has changes: %+v", p.Changes)
	}
}

// drift asks the engine, through a plan of nothing new, what runs.
func (h *harness) drift() (int, []string) {
	cur, err := h.eng.Current()
	if err != nil || len(cur.Services) == 0 {
		return 0, nil
	}
	return cur.Services[0].Running, cur.Services[0].Drift
}

// An application that already runs is imported with no downtime, and the
// next apply replaces it by blue-green.
func TestImport(t *testing.T) {
	h := newHarness(t)
	d := h.desired(1, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.KeepPrevious = 0
	lbOnly := d
	lbOnly.Services = nil
	h.mustApplyAll(lbOnly)

	self, _ := os.Executable()
	port := freePortOf(t)
	legacy := exec.Command(self)
	legacy.Env = append(os.Environ(), "TEAL_TESTAPP=1", "TEAL_TESTAPP_VERSION=legacy", "PORT="+port)
	if err := legacy.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { legacy.Wait(); close(exited) }()
	t.Cleanup(func() { legacy.Process.Kill() })
	waitFor(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + port + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	dep, err := h.eng.Import(context.Background(), d.Services[0], "127.0.0.1:"+port, 0, "tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	if dep.Kind != state.KindImport || stepNames(dep) != "adopt,switch" {
		t.Errorf("import: %+v", dep)
	}
	if code, v, _ := h.get(); code != 200 || v != "legacy" {
		t.Fatalf("right after the import: %d %q", code, v)
	}
	if _, err := h.eng.Import(context.Background(), d.Services[0], "127.0.0.1:"+port, 0, "tester", nil); !errors.Is(err, engine.ErrCannotImport) {
		t.Errorf("a second import: %v", err)
	}
	p, _ := h.eng.Plan(d)
	c, ok := p.Change("service", "web")
	if !ok || c.Revision != 2 || !strings.Contains(strings.Join(c.Traffic, " "), "revision 1 was imported") {
		t.Fatalf("plan after the import: %+v", c)
	}
	l := h.startLoad(2)
	h.mustApply(d)
	l.end()
	if f := l.failures(); len(f) > 0 {
		t.Errorf("requests failed while the imported application was replaced: %v", f)
	}
	if _, v, _ := h.get(); v != "v2" {
		t.Errorf("after the apply: %q", v)
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Error("the imported process was not stopped once replaced")
	}
}

func (h *harness) mustApplyAll(d spec.Desired) {
	h.t.Helper()
	_, results, err := h.eng.Apply(d, engine.ApplyOptions{Actor: "test"}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range results {
		if r.Error != "" {
			h.t.Fatalf("%s: %s", r.Address, r.Error)
		}
	}
}

func freePortOf(t *testing.T) string {
	addr := tcptest.FreeAddr(t)
	return addr[strings.LastIndexByte(addr, ':')+1:]
}
