package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/container"
	"github.com/teal-deploy/teal/internal/runtime/container/containertest"
	"github.com/teal-deploy/teal/internal/runtime/process"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// newContainerHarness runs service web as containers of the instance
// program's image on a real engine, behind the real load balancer. Each
// boot makes its drivers anew for the same owner, as a restarted server
// on the same data directory does.
func newContainerHarness(t *testing.T) (*harness, string) {
	owner := containertest.Owner(t)
	image := containertest.Image(t, containertest.DriverFor(t, owner))
	h := &harness{t: t, dir: t.TempDir(), lbAddr: tcptest.FreeAddr(t), image: image}
	h.drivers = func() (runtime.Driver, engine.Builder) {
		c := containertest.DriverFor(t, owner)
		return &runtime.ByKind{Process: &process.Driver{LogDir: filepath.Join(h.dir, "logs")}, Container: c}, c
	}
	h.boot()
	t.Cleanup(h.shutdown)
	return h, owner
}

// endLoad stops l and fails t for every request that did not get a 200.
func endLoad(t *testing.T, l *load) {
	t.Helper()
	l.end()
	if f := l.failures(); len(f) > 0 {
		t.Errorf("%d of %d requests failed: %v", len(f), l.total.Load(), f)
	}
}

// Blue-green on containers, under load: deploy, a candidate that never
// becomes healthy, and an instant rollback, with not one failed request.
func TestContainerBlueGreenUnderLoad(t *testing.T) {
	h, _ := newContainerHarness(t)
	if d := h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"})); stepNames(*d) != "start,health,switch" {
		t.Errorf("first deployment: %+v", d)
	}
	l := h.startLoad(4)
	d := h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v2"}))
	if d.Slot != spec.Green || stepNames(*d) != "start,health,switch,drain" {
		t.Errorf("v2 deployment: %+v", d)
	}
	r := h.apply(h.desired(2, runtimetest.Behaviour{Version: "v3", Unhealthy: true}))
	if !strings.Contains(r.Error, "failed their health checks") {
		t.Errorf("v3: %q", r.Error)
	}
	rb, err := h.eng.Rollback("web", 0, "test", nil)
	if err != nil || stepNames(rb) != "switch,drain" {
		t.Errorf("rollback: %+v %v", rb, err)
	}
	time.Sleep(200 * time.Millisecond) // some requests after the rollback too
	endLoad(t, l)
	if l.count("v1") == 0 || l.count("v2") == 0 || l.count("v3") != 0 {
		t.Errorf("answers by version %v: want v1 and v2, never v3", l.versions)
	}
	if _, v, _ := h.get(); v != "v1" {
		t.Errorf("after the rollback: %q", v)
	}
	t.Logf("%d requests: %v", l.total.Load(), l.versions)
}

// A server killed in the middle of a deployment: the next one serves at
// once from the adopted live containers, settles the deployment as
// failed, stops the candidate, and removes a container that a server
// started but never recorded.
func TestContainerRestartMidDeployment(t *testing.T) {
	h, owner := newContainerHarness(t)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v1"}))
	live := ids(h.status().Live)

	slow := h.desired(2, runtimetest.Behaviour{Version: "v2", Unhealthy: true})
	slow.Services[0].HealthCheck.GracePeriod = spec.Duration(time.Minute)
	slow.Services[0].Deploy.ReadyTimeout = spec.Duration(time.Minute)
	eng := h.eng
	go eng.Apply(slow, engine.ApplyOptions{Actor: "test"}, nil) // ends, failing, after the test
	waitFor(t, func() bool { st := h.status(); return st.Candidate != nil && len(st.Candidate.Instances) == 2 })
	candidates := ids(h.status().Candidate)

	// A container started and never recorded, as by a server that died
	// between the two.
	stray, err := containertest.DriverFor(t, owner).Start(context.Background(), runtime.InstanceSpec{
		ID: "web-r9-blue-stray", Service: "web", Revision: 9, Slot: spec.Blue,
		Container: &spec.Container{Image: h.image, Port: 8080, Env: map[string]string{runtimetest.EnvHost: "0.0.0.0"}, Pull: spec.PullNever},
	})
	if err != nil {
		t.Fatal(err)
	}

	h.crash()
	h.boot()
	code, v, inst := h.get()
	if code != 200 || v != "v1" || !live[inst] {
		t.Fatalf("right after the restart: %d %q from %s; want v1 from %v", code, v, inst, live)
	}
	st := h.status()
	if st.Candidate != nil || st.Deployment.Status != state.Failed || !strings.Contains(st.Deployment.Reason, "before the switch") {
		t.Errorf("after the restart: candidate %+v, deployment %+v", st.Candidate, st.Deployment)
	}
	if now := ids(st.Live); len(now) != 2 || !now[firstKey(live)] {
		t.Errorf("live instances %v, want the adopted %v", now, live)
	}
	select {
	case <-stray.Done():
	case <-time.After(10 * time.Second):
		t.Error("the unrecorded container still runs after the restart")
	}
	probe := containertest.DriverFor(t, owner)
	for id := range candidates {
		// The new server stopped the candidates: nothing of them is left
		// to adopt.
		var handle string
		h.store.View(func(tx *state.Tx) error {
			recs, _ := tx.Instances()
			for _, r := range recs {
				if r.ID == id {
					handle = r.Handle
				}
			}
			return nil
		})
		if handle != "" {
			t.Errorf("candidate %s is still recorded", id)
			if _, err := probe.Adopt(context.Background(), runtime.InstanceSpec{ID: id}, handle); !errors.Is(err, runtime.ErrGone) {
				t.Errorf("candidate %s still runs: %v", id, err)
			}
		}
	}
	l := h.startLoad(2)
	h.mustApply(h.desired(2, runtimetest.Behaviour{Version: "v4"}))
	waitFor(t, func() bool { return l.count("v4") > 0 }) // the load's next requests, on a busy machine
	endLoad(t, l)
}

// A service with a build block: apply builds the image through the
// engine, tagged as the container's image, then deploys it; a build that
// fails stops the deployment before anything starts.
func TestContainerBuildThenDeploy(t *testing.T) {
	h, _ := newContainerHarness(t)
	src := t.TempDir()
	dockerfile := fmt.Sprintf("FROM %s\nENV %s=built-from-source\n", h.image, runtimetest.EnvVersion)
	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte(dockerfile), 0o644)
	d := h.desired(1, runtimetest.Behaviour{})
	web := &d.Services[0]
	web.Version = "1"
	web.Container.Image, web.Container.Pull = "localhost/teal-test-built:1", spec.PullMissing
	web.Build = &spec.Build{Context: src, Dockerfile: "Dockerfile"}
	dep := h.mustApply(d)
	if stepNames(*dep) != "build,start,health,switch" || !strings.Contains(dep.Steps[0].Outcome, "built in") {
		t.Errorf("deployment: %s: %+v", stepNames(*dep), dep.Steps[0])
	}
	if _, v, _ := h.get(); v != "built-from-source" {
		t.Errorf("the deployed image answers version %q, want the one its build set", v)
	}

	os.WriteFile(filepath.Join(src, "Dockerfile"), []byte(dockerfile+"COPY no-such-file /x\n"), 0o644)
	web.Version, web.Container.Image = "2", "localhost/teal-test-built:2"
	r := h.apply(d)
	if r.Deployment == nil || stepNames(*r.Deployment) != "build" || r.Deployment.Steps[0].Status != state.Failed || !strings.Contains(r.Error, "no-such-file") {
		t.Errorf("a failed build: %q %+v", r.Error, r.Deployment)
	}
	if _, v, _ := h.get(); v != "built-from-source" {
		t.Errorf("after a failed build: %q", v)
	}
}

// A candidate killed for memory fails the deployment, which says so.
func TestContainerOutOfMemory(t *testing.T) {
	h, _ := newContainerHarness(t)
	d := h.desired(1, runtimetest.Behaviour{Version: "v1", EatMemory: 256})
	d.Services[0].Container.Memory = 32 << 20
	// It eats before it listens: no failed check may end the deployment
	// (and stop it) before the kernel kills it.
	d.Services[0].HealthCheck.GracePeriod = spec.Duration(time.Minute)
	r := h.apply(d)
	if !strings.Contains(r.Error, "killed for running out of memory") {
		t.Errorf("error = %q, want it to say the instance ran out of memory", r.Error)
	}
}

// Without a container engine, process services go on working and a
// container service fails its deployment, saying where teal looked.
func TestNoContainerEngine(t *testing.T) {
	h := &harness{t: t, dir: t.TempDir(), lbAddr: tcptest.FreeAddr(t)}
	sock := filepath.Join(h.dir, "no-engine.sock")
	h.drivers = func() (runtime.Driver, engine.Builder) {
		c, err := container.New(container.Config{Host: "unix://" + sock, Owner: h.dir})
		if err != nil {
			t.Fatal(err)
		}
		return &runtime.ByKind{Process: &process.Driver{LogDir: filepath.Join(h.dir, "logs"), Env: os.Environ()}, Container: c}, c
	}
	h.boot()
	t.Cleanup(h.shutdown)
	d := h.desired(1, runtimetest.Behaviour{Version: "v1"})
	api := spec.NewService("api")
	api.Container = &spec.Container{Image: "registry.example/api:1", Port: 8080, Pull: spec.PullMissing}
	api.Routes = []spec.Route{{LoadBalancer: "public", Path: "/api/*"}}
	d.Services = append(d.Services, api)
	_, results, err := h.eng.Apply(d, engine.ApplyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		switch r.Address {
		case "service.web":
			if r.Error != "" {
				t.Errorf("the process service failed: %s", r.Error)
			}
		case "service.api":
			if !strings.Contains(r.Error, "no container engine answers at unix://"+sock) {
				t.Errorf("the container service: %q", r.Error)
			}
		}
	}
	if code, v, _ := h.get(); code != 200 || v != "v1" {
		t.Errorf("the process service answers %d %q", code, v)
	}
}

// Canary and rolling run on containers as on processes, under load, with
// not one failed request.
func TestContainerCanaryAndRollingUnderLoad(t *testing.T) {
	h, _ := newContainerHarness(t)
	h.mustApply(h.desired(4, runtimetest.Behaviour{Version: "v1"}))
	l := h.startLoad(3)

	d := h.desired(4, runtimetest.Behaviour{Version: "v2"})
	d.Services[0].Deploy.Strategy = spec.Rolling
	d.Services[0].Deploy.BatchSize = 2
	dep := h.mustApply(d)
	if n := strings.Count(stepNames(*dep), "take out"); n != 2 {
		t.Errorf("rolling steps %s: want 2 batches", stepNames(*dep))
	}

	d = h.desired(4, runtimetest.Behaviour{Version: "v3"})
	canary(&d, spec.CanaryStep{Weight: 25, Pause: pause(300 * time.Millisecond)}, spec.CanaryStep{Weight: 50, Pause: pause(300 * time.Millisecond)})
	dep = h.mustApply(d)
	// "health" shows only when an instance was not healthy yet by the
	// time the last one had started, which depends on timing.
	if names := stepNames(*dep); !strings.HasPrefix(names, "start,") || !strings.Contains(names, "shift,hold,shift,hold,switch") {
		t.Errorf("canary steps %s", stepNames(*dep))
	}
	waitFor(t, func() bool { return l.count("v3") > 0 }) // the load's next requests, on a busy machine
	endLoad(t, l)
	for _, v := range []string{"v1", "v2", "v3"} {
		if l.count(v) == 0 {
			t.Errorf("no answer from %s: %v", v, l.versions)
		}
	}
	t.Logf("%d requests through a rolling and a canary deployment of containers: %v", l.total.Load(), l.versions)
}
