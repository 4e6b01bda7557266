// Package e2e tests teal from the outside: it builds the teal binary and the
// demo web app, runs `teal server` as a real process, and drives it with
// the real CLI while real HTTP clients send load through the load balancer.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/tcptest"
)

var bins struct {
	teal, webapp string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "teal-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.teal = filepath.Join(dir, "teal")
	bins.webapp = filepath.Join(dir, "webapp")
	for out, pkg := range map[string]string{bins.teal: "../cmd/teal", bins.webapp: "../examples/demo/webapp"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one teal server with a configuration for the demo web app.
type env struct {
	t       *testing.T
	dir     string // the configuration
	data    string // the server's data directory
	lb      string // http://127.0.0.1:PORT
	server  *exec.Cmd
	exited  chan error
	srvLogs *bytes.Buffer
}

const config = `
variable "version" {
  default = "1.0.0"
}
variable "unhealthy" {
  default = "false"
}
load_balancer "public" {
  listen = "%s"
}
service "web" {
  version       = var.version
  desired_count = 2
  process {
    command = ["%s", "-version", var.version, "-unhealthy=${var.unhealthy}"]
  }
  route {
    path = "/*"
  }
  health_check {
    path                = "/health"
    interval            = "100ms"
    timeout             = "1s"
    healthy_threshold   = 2
    unhealthy_threshold = 2
    grace_period        = "1s"
  }
  deploy {
    ready_timeout = "20s"
    drain_timeout = "15s"
    keep_previous = "5m"
  }
}
`

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, func(lbAddr string) string { return fmt.Sprintf(config, lbAddr, bins.webapp) })
}

// startWith starts a server with the configuration that config returns
// for the load balancer's address, passing it serverArgs.
func startWith(t *testing.T, config func(lbAddr string) string, serverArgs ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), data: t.TempDir(), exited: make(chan error, 1), srvLogs: &bytes.Buffer{}}
	addr := tcptest.FreeAddr(t)
	e.lb = "http://" + addr
	if err := os.WriteFile(filepath.Join(e.dir, "teal.hcl"), []byte(config(addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.server = exec.Command(bins.teal, append([]string{"server", "--data-dir", e.data}, serverArgs...)...)
	e.server.Stdout, e.server.Stderr = e.srvLogs, e.srvLogs
	if err := e.server.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.exited <- e.server.Wait() }()
	t.Cleanup(func() {
		if e.server.ProcessState == nil {
			e.server.Process.Signal(syscall.SIGTERM)
			select {
			case <-e.exited:
			case <-time.After(30 * time.Second):
				e.server.Process.Kill()
			}
		}
		// A test that failed half way may leave instances behind; they
		// must not outlive it. One that passed must not leave any.
		if left := running(bins.webapp); len(left) > 0 {
			for _, pid := range left {
				if p, err := strconv.Atoi(pid); err == nil {
					syscall.Kill(p, syscall.SIGKILL)
				}
			}
			if !t.Failed() {
				t.Errorf("instances left running after the server stopped: %v", left)
			}
		}
		if t.Failed() {
			t.Logf("server output:\n%s", e.srvLogs)
		}
	})
	sock := filepath.Join(e.data, "teal.sock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never listened on %s:\n%s", sock, e.srvLogs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// teal runs the CLI against the server and returns its output and exit code.
func (e *env) teal(args ...string) (string, int) {
	e.t.Helper()
	cmd := exec.Command(bins.teal, args...)
	cmd.Env = append(os.Environ(), "TEAL_ADDR=unix://"+filepath.Join(e.data, "teal.sock"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("teal %v: %v", args, err)
	}
	return out.String(), code
}

func (e *env) mustTeal(args ...string) string {
	e.t.Helper()
	out, code := e.teal(args...)
	if code != 0 {
		e.t.Fatalf("teal %s: exit %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (e *env) status() engine.ServiceStatus {
	e.t.Helper()
	var st []engine.ServiceStatus
	if err := json.Unmarshal([]byte(e.mustTeal("status", "-json", "web")), &st); err != nil || len(st) != 1 {
		e.t.Fatalf("status: %v %v", st, err)
	}
	return st[0]
}

func (e *env) history() api.HistoryResponse {
	e.t.Helper()
	var h api.HistoryResponse
	if err := json.Unmarshal([]byte(e.mustTeal("history", "-json", "web")), &h); err != nil {
		e.t.Fatal(err)
	}
	return h
}

// answer is one response seen by the load.
type answer struct {
	version, instance string
}

// load sends requests through the load balancer from several clients
// with kept-alive connections until stopped, and counts every failure.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	seen       map[answer]int
	stop       chan struct{}
	done       sync.WaitGroup
}

func startLoad(url string, clients int) *load {
	l := &load{seen: map[answer]int{}, stop: make(chan struct{})}
	for range clients {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get(url + "/")
				if err != nil {
					l.fail(err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					l.fail(resp.Status)
					continue
				}
				l.ok.Add(1)
				l.mu.Lock()
				l.seen[answer{resp.Header.Get("X-Version"), resp.Header.Get("X-Instance")}]++
				l.mu.Unlock()
				time.Sleep(2 * time.Millisecond) // load, not a benchmark: leave CPU for the deploys
			}
		}()
	}
	return l
}

func (l *load) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, why)
	}
	l.mu.Unlock()
}

func (l *load) end() {
	close(l.stop)
	l.done.Wait()
}

// instancesSeenSince returns the instances that answered with version.
func (l *load) instances(version string) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]bool{}
	for a := range l.seen {
		if a.version == version {
			out[a.instance] = true
		}
	}
	return out
}

// The walking skeleton's promise, end to end: v1 deploys; v2 replaces it
// under load while a slow request is in flight; a v3 that never becomes
// healthy never takes traffic; a rollback is one switch; not one request
// fails; and nothing is left running when the server stops.
func TestBlueGreenUnderLoad(t *testing.T) {
	e := start(t)
	out := e.mustTeal("apply", "-auto-approve", e.dir)
	if !strings.Contains(out, "revision 1 is live in blue") {
		t.Fatalf("apply v1:\n%s", out)
	}
	if out, code := e.teal("plan", "-detailed-exitcode", e.dir); code != 0 {
		t.Fatalf("plan after apply: exit %d, want 0 (no changes):\n%s", code, out)
	}
	if out, code := e.teal("plan", "-detailed-exitcode", "-var", "version=2.0.0", e.dir); code != 2 || !strings.Contains(out, `~ version         = "1.0.0" -> "2.0.0" # new revision`) {
		t.Fatalf("plan v2: exit %d, want 2 with the version change:\n%s", code, out)
	}

	l := startLoad(e.lb, 3)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	v1 := e.status().Live
	if v1 == nil || v1.Version != "1.0.0" || len(v1.Instances) != 2 {
		t.Fatalf("live after v1: %+v", v1)
	}

	// A slow request, in flight on v1 when v2 takes over.
	type slowResult struct {
		version string
		code    int
		err     error
	}
	slow := make(chan slowResult, 1)
	go func() {
		resp, err := http.Get(e.lb + "/?sleep=3s")
		if err != nil {
			slow <- slowResult{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- slowResult{version: resp.Header.Get("X-Version"), code: resp.StatusCode}
	}()
	waitFor(t, "the slow request to be in flight", func() bool {
		for _, in := range e.status().Live.Instances {
			if in.InFlight > 0 {
				return true
			}
		}
		return false
	})

	out = e.mustTeal("apply", "-auto-approve", "-var", "version=2.0.0", e.dir)
	if !strings.Contains(out, "revision 2 is live in green") {
		t.Fatalf("apply v2:\n%s", out)
	}
	select {
	case r := <-slow:
		if r.err != nil || r.code != 200 || r.version != "1.0.0" {
			t.Errorf("slow request: %+v, want 200 from 1.0.0", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never finished")
	}
	if !strings.Contains(out, "drain: done: no request in flight after") {
		t.Errorf("apply v2 did not wait for the slow request to drain:\n%s", out)
	}
	v1IDs := map[string]bool{}
	for _, in := range v1.Instances {
		v1IDs[in.ID] = true
	}
	waitFor(t, "v2 to answer", func() bool { return len(l.instances("2.0.0")) > 0 })

	// v3 never becomes healthy: apply fails, says why, and v2 keeps serving.
	out, code := e.teal("apply", "-auto-approve", "-var", "version=3.0.0", "-var", "unhealthy=true", e.dir)
	if code != 1 {
		t.Fatalf("apply v3: exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{"failed their health checks", "GET /health: 503 Service Unavailable", "version 3.0.0 listening on"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply v3 output lacks %q:\n%s", want, out)
		}
	}
	if st := e.status(); st.Live.Version != "2.0.0" || st.Previous == nil || st.Previous.Version != "1.0.0" {
		t.Fatalf("after v3 failed: live %+v, warm %+v; want 2.0.0 live and 1.0.0 still warm", st.Live, st.Previous)
	}

	// Rollback: v1 is still warm, so it is one switch back to the same
	// instances.
	seenBefore := len(l.instances("1.0.0"))
	out = e.mustTeal("rollback", "web")
	if !strings.Contains(out, "with one switch") {
		t.Errorf("rollback:\n%s", out)
	}
	h := e.history()
	rb := h.Deployments[len(h.Deployments)-1]
	if rb.Kind != "rollback" || rb.Status != "succeeded" || len(rb.Steps) == 0 || rb.Steps[0].Name != "switch" {
		t.Errorf("rollback deployment: %+v", rb)
	}
	for _, st := range rb.Steps {
		if st.Name == "start" {
			t.Errorf("the rollback started instances: %+v", rb.Steps)
		}
	}
	waitFor(t, "v1 to answer again", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for a, c := range l.seen {
			if a.version == "1.0.0" {
				n += c
			}
		}
		return n > seenBefore+10
	})
	time.Sleep(200 * time.Millisecond)
	l.end()

	t.Logf("load: %d requests answered, %d failed", l.ok.Load(), l.failed.Load())
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d requests failed during the deploys: %v", n, l.failures)
	}
	if l.ok.Load() < 200 {
		t.Errorf("only %d requests were answered; the load did not run", l.ok.Load())
	}
	for id := range l.instances("1.0.0") {
		if !v1IDs[id] {
			t.Errorf("version 1.0.0 answered from %s, which is not one of the first instances %v: the rollback started new ones", id, v1IDs)
		}
	}
	if v3 := l.instances("3.0.0"); len(v3) > 0 {
		t.Errorf("v3 answered requests from %v", v3)
	}
	v3logs, _ := filepath.Glob(filepath.Join(e.data, "logs", "web", "web-r3-*.log"))
	if len(v3logs) != 2 {
		t.Errorf("want the logs of 2 v3 instances, found %v", v3logs)
	}
	for _, p := range v3logs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "GET /") {
			t.Errorf("v3 instance answered a request:\n%s", b)
		}
	}

	// SIGTERM drains and stops everything the server started.
	e.server.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.exited:
		if err != nil {
			t.Errorf("server exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30s of SIGTERM")
	}
	if left := running(bins.webapp); len(left) > 0 {
		t.Errorf("instances still running after the server stopped: %v", left)
	}
}

// running lists the processes (not zombies) whose program is path.
func running(path string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", en.Name(), "exe"))
		if err != nil || exe != path {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		out = append(out, en.Name())
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
