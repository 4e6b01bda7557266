package container_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/container"
	"github.com/teal-deploy/teal/internal/runtime/container/containertest"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
)

func start(t *testing.T, d *container.Driver, s runtime.InstanceSpec) runtime.Instance {
	t.Helper()
	in, err := d.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Stop(context.Background(), time.Second) })
	return in
}

func inspect(t *testing.T, in runtime.Instance) client.ContainerInspectResult {
	t.Helper()
	api, err := client.New(client.WithHost(containertest.Host(t)), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	var h struct{ Container string }
	if err := json.Unmarshal([]byte(in.Handle()), &h); err != nil {
		t.Fatal(err)
	}
	res, err := api.ContainerInspect(context.Background(), h.Container, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// What the configuration asks for is what the engine enforces: limits,
// labels for re-adoption, and a port published on loopback only.
func TestLimitsLabelsAndLoopback(t *testing.T) {
	d := containertest.Driver(t)
	s := appSpec(containertest.Image(t, d), "web-r3-green-abc123", runtimetest.Behaviour{})
	s.Service, s.Revision, s.Slot = "web", 3, spec.Green
	s.Container.Memory, s.Container.CPUs = 64<<20, 0.5
	in := start(t, d, s)
	ct := inspect(t, in).Container
	if hc := ct.HostConfig; hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 || hc.NanoCPUs != 5e8 {
		t.Errorf("memory %d swap %d nanocpus %d, want 64MiB, no swap, 0.5 CPU", hc.Memory, hc.MemorySwap, hc.NanoCPUs)
	}
	want := map[string]string{container.LabelService: "web", container.LabelRevision: "3", container.LabelSlot: "green", container.LabelInstance: "web-r3-green-abc123"}
	for k, v := range want {
		if ct.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, ct.Config.Labels[k], v)
		}
	}
	for port, bs := range ct.HostConfig.PortBindings {
		for _, b := range bs {
			if b.HostIP.String() != "127.0.0.1" {
				t.Errorf("port %v is published on %v, want loopback only", port, b.HostIP)
			}
		}
	}
	if !strings.HasPrefix(in.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q", in.Addr())
	}
	env := strings.Join(ct.Config.Env, " ")
	for _, w := range []string{"PORT=8080", "TEAL_SERVICE=web", "TEAL_REVISION=3", "TEAL_SLOT=green", "TEAL_INSTANCE=web-r3-green-abc123"} {
		if !strings.Contains(env, w) {
			t.Errorf("environment lacks %s: %s", w, env)
		}
	}
}

// With network "host" there is nothing to publish: teal picks a free
// loopback port and passes it as $PORT, as for a process.
func TestHostNetwork(t *testing.T) {
	d := containertest.Driver(t)
	s := appSpec(containertest.Image(t, d), "host-1", runtimetest.Behaviour{})
	s.Container.Network, s.Container.Port = spec.HostNetwork, 0
	s.Container.Env[runtimetest.EnvHost] = "127.0.0.1"
	in := start(t, d, s)
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var resp *http.Response
		if resp, err = http.Get("http://" + in.Addr() + "/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("a host-network container never answered on %s: %v", in.Addr(), err)
}

// A sweep removes this server's containers that nothing claims, and no
// one else's.
func TestSweep(t *testing.T) {
	mine, theirs := containertest.Driver(t), containertest.Driver(t)
	img := containertest.Image(t, mine)
	kept := start(t, mine, appSpec(img, "kept-1", runtimetest.Behaviour{}))
	orphan := start(t, mine, appSpec(img, "orphan-1", runtimetest.Behaviour{}))
	other := start(t, theirs, appSpec(img, "orphan-1", runtimetest.Behaviour{}))
	swept, err := mine.Sweep(context.Background(), func(id string) bool { return id == "kept-1" })
	if err != nil || len(swept) != 1 || swept[0] != "orphan-1" {
		t.Fatalf("Sweep = %v, %v; want [orphan-1]", swept, err)
	}
	select {
	case <-orphan.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the swept container still runs")
	}
	for _, in := range []runtime.Instance{kept, other} {
		select {
		case <-in.Done():
			t.Errorf("sweep stopped %s: %s", in.ID(), in.Exit())
		default:
		}
	}
	if _, err := mine.Adopt(context.Background(), appSpec(img, "orphan-1", runtimetest.Behaviour{}), orphan.Handle()); !errors.Is(err, runtime.ErrGone) {
		t.Errorf("Adopt of a swept container: %v, want ErrGone", err)
	}
}

// An instance of one server's cannot be adopted by another's.
func TestAdoptChecksTheOwner(t *testing.T) {
	mine, theirs := containertest.Driver(t), containertest.Driver(t)
	in := start(t, mine, appSpec(containertest.Image(t, mine), "owned-1", runtimetest.Behaviour{}))
	if _, err := theirs.Adopt(context.Background(), appSpec("x", "owned-1", runtimetest.Behaviour{}), in.Handle()); !errors.Is(err, runtime.ErrGone) {
		t.Errorf("Adopt by another server: %v, want ErrGone", err)
	}
}

func TestPullFailureSaysWhat(t *testing.T) {
	d := containertest.Driver(t)
	s := appSpec("127.0.0.1:1/teal/nothing:1", "pull-1", runtimetest.Behaviour{})
	s.Container.Pull = spec.PullMissing
	_, err := d.Start(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "instance pull-1: pull 127.0.0.1:1/teal/nothing:1") {
		t.Errorf("err = %v, want one that names the instance and the pull", err)
	}
}

// A build that fails says why, with the engine's words.
func TestBuildFailure(t *testing.T) {
	d := containertest.Driver(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY missing-file /x\n"), 0o644)
	out, err := d.Build(context.Background(), spec.Build{Context: dir, Dockerfile: "Dockerfile"}, "localhost/teal-broken-build:1", spec.PullMissing)
	if err == nil || !strings.Contains(err.Error(), "missing-file") {
		t.Errorf("Build: err = %v, want one that names the missing file; output:\n%s", err, out)
	}
}

// Without an engine, a start fails with an error that says where teal
// looked and how to point it elsewhere.
func TestNoEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nothing.sock")
	d, err := container.New(container.Config{Host: "unix://" + sock, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s := appSpec("localhost/x:1", "lonely-1", runtimetest.Behaviour{})
	_, err = d.Start(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "no container engine answers at unix://"+sock) || !strings.Contains(err.Error(), "--docker-host") {
		t.Errorf("err = %v", err)
	}
	if err := d.Ping(context.Background()); err == nil {
		t.Error("Ping succeeded with no engine")
	}
}

// BenchmarkStartToFirstAnswer measures what a deployment waits for per
// instance: create, start and the first HTTP answer through the
// published port; then the stop, graceful, and the removal.
//
//	TEAL_TEST_DOCKER_HOST=unix:///PATH/podman.sock go test -run '^$' -bench StartToFirstAnswer -benchtime 20x ./internal/runtime/container
func BenchmarkStartToFirstAnswer(b *testing.B) {
	d := containertest.Driver(b)
	img := containertest.Image(b, d)
	var stops time.Duration
	for i := 0; b.Loop(); i++ {
		in, err := d.Start(context.Background(), appSpec(img, fmt.Sprintf("bench-%d", i), runtimetest.Behaviour{}))
		if err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get("http://" + in.Addr() + "/")
			if err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		began := time.Now()
		if err := in.Stop(context.Background(), 10*time.Second); err != nil {
			b.Fatal(err)
		}
		stops += time.Since(began)
		b.StartTimer()
	}
	b.ReportMetric(float64(stops.Milliseconds())/float64(b.N), "stop-ms/op")
}

// A private registry: without credentials the pull is refused; with
// them in the Docker config file, as docker login writes them, Start
// pulls the image and runs it.
func TestPullWithCredentials(t *testing.T) {
	host := containertest.Host(t)
	ref := containertest.Registry(t, "teal/private-app", "1", "ann", "s3cret")
	cfgDir := t.TempDir()
	d, err := container.New(container.Config{Host: host, Owner: containertest.Owner(t), DockerConfig: cfgDir})
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	t.Cleanup(func() {
		d.Sweep(context.Background(), func(string) bool { return false })
		api.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})
	})
	api.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}) // from an earlier run

	s := appSpec(ref, "private-1", runtimetest.Behaviour{})
	s.Container.Pull = spec.PullAlways
	_, err = d.Start(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "pull "+ref) || !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Fatalf("a pull without credentials: %v, want it refused as unauthorized", err)
	}
	registry, _, _ := strings.Cut(ref, "/")
	auth := base64.StdEncoding.EncodeToString([]byte("ann:s3cret"))
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"auths": {"`+registry+`": {"auth": "`+auth+`"}}}`), 0o600)
	in := start(t, d, s)
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get("http://" + in.Addr() + "/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("the pulled image never answered: %v", err)
}

// teal logs reads an instance's output through the engine's log API: the
// last lines, and, followed, what it writes until it exits; once the
// container is removed, the lines kept of it.
func TestLogs(t *testing.T) {
	d := containertest.Driver(t)
	in := start(t, d, appSpec(containertest.Image(t, d), "logs-2", runtimetest.Behaviour{Say: "first line", ExitAfter: 1500 * time.Millisecond}))
	read := func(ctx context.Context, opts runtime.LogOptions) string {
		t.Helper()
		rc, err := d.Logs(ctx, "test", "logs-2", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	var got string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(got, "first line") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got = read(context.Background(), runtime.LogOptions{Tail: 1})
	}
	if got != "first line\n" {
		t.Errorf("Logs(Tail 1) = %q, want the one line written so far", got)
	}
	if ids := d.Logged("test"); len(ids) != 1 || ids[0] != "logs-2" {
		t.Errorf("Logged = %v, want the running instance", ids)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := read(ctx, runtime.LogOptions{Follow: true}); !strings.Contains(got, "first line\n") || !strings.Contains(got, "exiting with 0") {
		t.Errorf("followed Logs = %q; want every line up to the exit", got) // it ends when the container exits
	}
	select {
	case <-in.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the instance did not exit")
	}
	if got := read(context.Background(), runtime.LogOptions{Tail: 1}); got != "exiting with 0\n" {
		t.Errorf("Logs after the container is removed = %q, want its kept last line", got)
	}
	if ids := d.Logged("test"); len(ids) != 1 || ids[0] != "logs-2" {
		t.Errorf("Logged after removal = %v, want the kept instance", ids)
	}
	if _, err := d.Logs(context.Background(), "test", "no-such-instance", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNoLogs) {
		t.Errorf("Logs of an unknown instance: %v, want ErrNoLogs", err)
	}
}

// A container that dies as it starts is still an instance whose exit says
// why, not a start error: here, containers that run out of memory at once,
// started together so that some die while the engine still reports on them
// (Podman then fails the inspection: "read /proc/PID/cgroup: no such
// process"). On a quiet machine the race may not happen; the test then
// checks the ordinary path.
func TestEndedAtOnce(t *testing.T) {
	d := containertest.Driver(t)
	img := containertest.Image(t, d)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := appSpec(img, fmt.Sprintf("sudden-%d", i), runtimetest.Behaviour{EatMemory: 64})
			s.Container.Memory = spec.MinMemory
			in, err := d.Start(context.Background(), s)
			if err != nil {
				t.Errorf("Start of a container that dies at once: %v", err)
				return
			}
			select {
			case <-in.Done():
			case <-time.After(20 * time.Second):
				t.Errorf("%s did not end", in.ID())
				return
			}
			if ex := in.Exit(); !ex.OOMKilled {
				t.Errorf("%s: Exit() = %s, want killed for memory", in.ID(), ex)
			}
		}()
	}
	wg.Wait()
}
