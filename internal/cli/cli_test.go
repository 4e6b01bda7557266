package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/server"
	"github.com/teal-deploy/teal/internal/tcptest"
)

func TestMain(m *testing.M) {
	runtimetest.MaybeRunApp()
	os.Exit(m.Run())
}

// teal runs the command line in process, with env as its environment.
func teal(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	environ := func() []string {
		var kv []string
		for k, v := range env {
			kv = append(kv, k+"="+v)
		}
		return kv
	}
	code := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, getenv, environ)
	return out.String(), errOut.String(), code
}

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "teal.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUnknownCommand(t *testing.T) {
	_, stderr, code := teal(t, nil, "", "statsu")
	if code != ExitUsage || !strings.Contains(stderr, `unknown command "statsu"; did you mean "status"?`) {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, _, code := teal(t, nil, ""); code != ExitUsage {
		t.Errorf("no command: exit %d", code)
	}
}

func TestValidate(t *testing.T) {
	dir := writeConfig(t, "variable \"v\" {}\nservice \"web\" {\n  version = var.v\n  process { command = [\"./web\"] }\n}\n")
	out, stderr, code := teal(t, map[string]string{"TEAL_VAR_v": "1"}, "", "validate", dir)
	if code != ExitOK || !strings.Contains(out, "Success! The configuration is valid: 0 load balancers, 1 service.") {
		t.Errorf("valid: exit %d\n%s%s", code, out, stderr)
	}
	// Either dash, and flags after the directory too.
	if _, stderr, code := teal(t, nil, "", "validate", dir, "--var", "v=2"); code != ExitOK {
		t.Errorf("--var after DIR: exit %d\n%s", code, stderr)
	}
	_, stderr, code = teal(t, nil, "", "validate", dir)
	if code != ExitUsage || !strings.Contains(stderr, filepath.Join(dir, "teal.hcl")+":1:1: error: No value for required variable") {
		t.Errorf("missing variable: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := teal(t, nil, "", "validate", "-bogus", dir); code != ExitUsage || !strings.Contains(stderr, "flag provided but not defined: -bogus") {
		t.Errorf("unknown flag: exit %d\n%s", code, stderr)
	}
}

func TestFmt(t *testing.T) {
	dir := writeConfig(t, "service \"web\" {\nversion=\"1\"\n}\n")
	out, _, code := teal(t, nil, "", "fmt", "-check", dir)
	if code != ExitUnformatted || !strings.Contains(out, "teal.hcl") {
		t.Errorf("fmt -check: exit %d\n%s", code, out)
	}
	if _, _, code := teal(t, nil, "", "fmt", dir); code != ExitOK {
		t.Errorf("fmt: exit %d", code)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "teal.hcl"))
	if string(b) != "service \"web\" {\n  version = \"1\"\n}\n" {
		t.Errorf("formatted:\n%s", b)
	}
	if out, _, code := teal(t, nil, "", "fmt", "-check", dir); code != ExitOK || out != "" {
		t.Errorf("fmt -check after fmt: exit %d %q", code, out)
	}
}

func TestNoServer(t *testing.T) {
	_, stderr, code := teal(t, map[string]string{"TEAL_ADDR": "unix://" + filepath.Join(t.TempDir(), "none.sock")}, "", "status", "web", "-json")
	if code != ExitFailure || !strings.Contains(stderr, "cannot reach the teal server at unix://") || !strings.Contains(stderr, "teal up DIR") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, stderr, code := teal(t, map[string]string{"TEAL_ADDR": "ftp://x"}, "", "status"); code != ExitUsage || !strings.Contains(stderr, "expected unix:///path/teal.sock or http://host:port") {
		t.Errorf("bad address: exit %d\n%s", code, stderr)
	}
}

// plan, apply (with and without approval), status and history against a
// real server, in this process, running the test binary as instances.
// testServer starts a real server in this process and writes a
// configuration of one service whose instances are the test binary.
func testServer(t *testing.T) (srv *server.Server, env map[string]string, listen, dir string) {
	t.Helper()
	srv, err := server.New(server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	env = map[string]string{"TEAL_ADDR": srv.APIAddr(), "USER": "tester"}
	self, _ := os.Executable()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen = ln.Addr().String()
	ln.Close()
	dir = writeConfig(t, fmt.Sprintf(`
variable "version" { default = "1.0" }
load_balancer "public" { listen = %q }
service "web" {
  version = var.version
  process {
    command = [%q]
    env     = { TEAL_TESTAPP = "1", TEAL_TESTAPP_VERSION = var.version }
  }
  route {}
  health_check {
    interval = "50ms"
  }
}
`, listen, self))
	return srv, env, listen, dir
}

func TestAgainstServer(t *testing.T) {
	srv, env, listen, dir := testServer(t)

	out, _, code := teal(t, env, "", "plan", "-detailed-exitcode", dir)
	if code != ExitUsage || !strings.Contains(out, "Plan: 2 to add, 0 to change, 0 to destroy.") {
		t.Fatalf("plan: exit %d\n%s", code, out)
	}
	out, _, code = teal(t, env, "no\n", "apply", dir)
	if code != ExitFailure || !strings.Contains(out, "Apply cancelled.") {
		t.Fatalf("apply answered no: exit %d\n%s", code, out)
	}
	out, stderr, code := teal(t, env, "yes\n", "apply", dir)
	if code != ExitOK || !strings.Contains(out, "revision 1 is live in blue") || !strings.Contains(out, "web: switch: done") {
		t.Fatalf("apply answered yes: exit %d\n%s%s", code, out, stderr)
	}
	if out, _, code := teal(t, env, "", "plan", "--detailed-exitcode", dir); code != ExitOK || !strings.Contains(out, "No changes.") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}
	out, _, _ = teal(t, env, "", "plan", "-json", "-var", "version=2.0", dir)
	var p plan.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil || len(p.Changes) != 1 || p.Changes[0].Revision != 2 {
		t.Errorf("plan -json: %v\n%s", err, out)
	}
	out, _, code = teal(t, env, "", "status")
	if code != ExitOK || !strings.Contains(out, "web      1.0      1         blue  1/1 healthy") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	out, _, code = teal(t, env, "", "history", "web")
	if code != ExitOK || !strings.Contains(out, "start → health → switch") {
		t.Errorf("history: exit %d\n%s", code, out)
	}
	_, stderr, code = teal(t, env, "", "rollback", "web")
	if code != ExitFailure || !strings.Contains(stderr, "revision 1 was the first to go live: nothing to roll back to") {
		t.Errorf("rollback with nothing before: exit %d\n%s", code, stderr)
	}
	out, _, code = teal(t, env, "", "pause", "web", "--max", "5s")
	if code != ExitOK || !strings.Contains(out, "web is paused: new requests wait, each for at most 5s") {
		t.Errorf("pause: exit %d\n%s", code, out)
	}
	if out, _, _ := teal(t, env, "", "status"); !strings.Contains(out, "paused") {
		t.Errorf("status of a paused service:\n%s", out)
	}
	out, _, code = teal(t, env, "", "maintenance", "web", "--message", "Back at noon.")
	if code != ExitOK || !strings.Contains(out, "web is in maintenance") {
		t.Errorf("maintenance: exit %d\n%s", code, out)
	}
	resp, err := http.Get("http://" + listen + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(page), "Back at noon.") {
		t.Errorf("in maintenance: %d %s", resp.StatusCode, page)
	}
	out, _, code = teal(t, env, "", "resume", "web")
	if code != ExitOK || !strings.Contains(out, "web is serving.") {
		t.Errorf("resume: exit %d\n%s", code, out)
	}
	if resp, err := http.Get("http://" + listen + "/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("after resume: %v %v", resp, err)
	}
	out, _, code = teal(t, env, "", "events", "-n", "50", "--service", "web")
	if code != ExitOK || !strings.Contains(out, "service web: deployment 1: switch: all new requests to revision 1 in blue") ||
		!strings.Contains(out, "the service has reached a steady state") || !strings.Contains(out, "(by tester@") {
		t.Errorf("events: exit %d\n%s", code, out)
	}
	if _, stderr, code := teal(t, env, "", "promote", "web"); code != ExitFailure || !strings.Contains(stderr, "no deployment is in flight") {
		t.Errorf("promote with nothing in flight: exit %d %s", code, stderr)
	}
	evs, err := srv.Engine().Events(context.Background(), 0, 1000, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	who := false
	for _, e := range evs {
		who = who || strings.HasPrefix(e.Actor, "tester@")
	}
	if !who {
		t.Errorf("no event names who applied: %+v", evs)
	}
}

// A saved plan is carried out exactly, and refused once the state has
// moved on or when it was made against another state.
func TestSavedPlan(t *testing.T) {
	_, env, listen, dir := testServer(t)
	planFile := filepath.Join(t.TempDir(), "v1.plan")
	out, _, code := teal(t, env, "", "plan", "-out", planFile, dir)
	if code != ExitOK || !strings.Contains(out, "Saved the plan to "+planFile) {
		t.Fatalf("plan -out: exit %d\n%s", code, out)
	}
	if st, _ := os.Stat(planFile); st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600: it holds sensitive values", st.Mode())
	}
	stale := filepath.Join(t.TempDir(), "stale.plan")
	teal(t, env, "", "plan", "-out", stale, "-var", "version=9", dir)

	out, _, code = teal(t, env, "", "apply", planFile)
	if code != ExitOK || !strings.Contains(out, "revision 1 is live in blue") || strings.Contains(out, "Enter a value") {
		t.Fatalf("apply PLANFILE: exit %d\n%s", code, out)
	}
	resp, err := http.Get("http://" + listen + "/")
	if err != nil || resp.Header.Get("X-Version") != "1.0" {
		t.Fatalf("after apply of the saved plan: %v %v", resp, err)
	}
	resp.Body.Close()
	_, stderr, code := teal(t, env, "", "apply", stale)
	if code != ExitFailure || !strings.Contains(stderr, "the state has changed since the plan was made") {
		t.Errorf("apply of a stale plan: exit %d\n%s", code, stderr)
	}

	// Another server: another lineage.
	_, other, _, _ := testServer(t)
	again := filepath.Join(t.TempDir(), "again.plan")
	teal(t, env, "", "plan", "-out", again, "-var", "version=2", dir)
	_, stderr, code = teal(t, other, "", "apply", again)
	if code != ExitFailure || !strings.Contains(stderr, "the plan was made against another state") {
		t.Errorf("apply on another state: exit %d\n%s", code, stderr)
	}
	os.WriteFile(again, []byte(`{"hello": 1}`), 0o600)
	if _, stderr, code := teal(t, env, "", "apply", again); code != ExitUsage || !strings.Contains(stderr, "not a teal plan file") {
		t.Errorf("apply of a file that is not a plan: exit %d\n%s", code, stderr)
	}
}

func TestTarget(t *testing.T) {
	_, env, _, dir := testServer(t)
	out, _, code := teal(t, env, "", "plan", "-target", "load_balancer.public", dir)
	if code != ExitOK || !strings.Contains(out, "Plan: 1 to add, 0 to change, 0 to destroy.") || !strings.Contains(out, "-target") {
		t.Errorf("targeted plan: exit %d\n%s", code, out)
	}
	out, _, code = teal(t, env, "", "apply", "-auto-approve", "-target", "load_balancer.public", dir)
	if code != ExitOK {
		t.Fatalf("targeted apply: exit %d\n%s", code, out)
	}
	out, _, _ = teal(t, env, "", "plan", dir)
	if !strings.Contains(out, "Plan: 1 to add, 0 to change, 0 to destroy.") || !strings.Contains(out, `+ service "web"`) {
		t.Errorf("after a targeted apply, the service is still to add:\n%s", out)
	}
	if _, stderr, code := teal(t, env, "", "plan", "-target", "web", dir); code != ExitFailure || !strings.Contains(stderr, `"web" is not an address`) {
		t.Errorf("a malformed target: exit %d\n%s", code, stderr)
	}
}

// One configuration, applied as QA and as prod on one server: each has
// its own state, variables and load balancers, and both come back after
// a restart.
func TestEnvironments(t *testing.T) {
	data := t.TempDir()
	srv, err := server.New(server.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEAL_ADDR": srv.APIAddr(), "USER": "tester"}
	self, _ := os.Executable()
	dir := writeConfig(t, fmt.Sprintf(`
variable "version" {}
variable "listen" {}
load_balancer "public" { listen = var.listen }
service "web" {
  version = var.version
  process {
    command = [%q]
    env     = { TEAL_TESTAPP = "1", TEAL_TESTAPP_VERSION = var.version }
  }
  route {}
  health_check { interval = "50ms" }
}
`, self))
	addrs := map[string]string{}
	for _, name := range []string{"qa", "prod"} {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addrs[name] = ln.Addr().String()
		ln.Close()
		vars := filepath.Join(t.TempDir(), name+".tealvars")
		os.WriteFile(vars, fmt.Appendf(nil, "version = %q\nlisten = %q\n", name+"-1", addrs[name]), 0o644)
		if out, _, code := teal(t, env, "", "apply", "-auto-approve", "-env", name, "-var-file", vars, dir); code != ExitOK {
			t.Fatalf("apply -env %s: exit %d\n%s", name, code, out)
		}
	}
	check := func(when string) {
		for name, addr := range addrs {
			resp, err := http.Get("http://" + addr + "/")
			if err != nil || resp.Header.Get("X-Version") != name+"-1" {
				t.Errorf("%s: %s answered %v %v", when, name, resp, err)
				continue
			}
			resp.Body.Close()
		}
	}
	check("after both applies")
	if out, _, code := teal(t, map[string]string{"TEAL_ADDR": srv.APIAddr(), "TEAL_ENV": "qa"}, "", "status"); code != ExitOK || !strings.Contains(out, "qa-1") || strings.Contains(out, "prod-1") {
		t.Errorf("status in qa: exit %d\n%s", code, out)
	}
	if _, stderr, code := teal(t, env, "", "status", "-env", "staging"); code != ExitFailure || !strings.Contains(stderr, `environment "staging": no such environment`) {
		t.Errorf("status of an environment that was never applied: exit %d %s", code, stderr)
	}
	if _, stderr, code := teal(t, env, "", "status", "-env", "Prod!"); code != ExitFailure || !strings.Contains(stderr, "is not an environment name") {
		t.Errorf("a bad environment name: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "env", "qa", "state.db")); err != nil {
		t.Errorf("qa's own state: %v", err)
	}
	srv.Shutdown(context.Background())

	srv, err = server.New(server.Config{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for _, addr := range addrs {
		for {
			resp, err := http.Get("http://" + addr + "/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never served after the restart", addr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	check("after a restart")
}

// apply -json prints progress and the result as JSON lines.
func TestApplyJSON(t *testing.T) {
	_, env, _, dir := testServer(t)
	if _, stderr, code := teal(t, env, "", "apply", "-json", dir); code != ExitUsage || !strings.Contains(stderr, "needs -auto-approve") {
		t.Errorf("apply -json without -auto-approve: exit %d %s", code, stderr)
	}
	out, _, code := teal(t, env, "", "apply", "-json", "-auto-approve", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var last map[string]any
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, l)
		}
		last = m
	}
	if results, _ := last["results"].([]any); len(results) != 2 || len(lines) < 5 {
		t.Errorf("%d lines, last %v", len(lines), last)
	}
	// status -w follows until its context ends: a second of it, here.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var buf, errBuf bytes.Buffer
	getenv := func(k string) string { return env[k] }
	if code := Run(ctx, []string{"status", "-w", "-json"}, strings.NewReader(""), &buf, &errBuf, getenv, os.Environ); code != ExitOK || strings.Count(buf.String(), `"name":"web"`) != 1 {
		t.Errorf("status -w: exit %d, %q %s; want one snapshot (nothing changed)", code, buf.String(), errBuf.String())
	}
}

// teal logs shows what the instances wrote; -f follows it, and the
// instances a deployment starts as they start; a failed candidate's
// output stays, named in the error that lists what is kept.
func TestLogs(t *testing.T) {
	srv, env, listen, _ := testServer(t)
	self, _ := os.Executable()
	config := func(version, extra string) string {
		return writeConfig(t, fmt.Sprintf(`
load_balancer "public" { listen = %q }
service "web" {
  version = %q
  process {
    command = [%q]
    env     = { TEAL_TESTAPP = "1", TEAL_TESTAPP_LOG = "1", TEAL_TESTAPP_SAY = "hello from %s" %s }
  }
  route {}
  health_check {
    path     = "/health"
    interval = "50ms"
  }
  deploy {
    ready_timeout = "3s"
  }
}
`, listen, version, self, version, extra))
	}
	if out, stderr, code := teal(t, env, "", "apply", "-auto-approve", config("1.0", "")); code != ExitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, stderr)
	}
	get := func(path string) {
		t.Helper()
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get("/first")
	out, stderr, code := teal(t, env, "", "logs", "web")
	if code != ExitOK || !regexp.MustCompile(`(?m)^web-r1-blue-\S+ \| hello from 1.0$`).MatchString(out) {
		t.Fatalf("logs: exit %d\n%s%s", code, out, stderr)
	}
	waitFor(t, "the request to be logged", func() bool {
		out, _, _ := teal(t, env, "", "logs", "web", "-n", "1")
		return strings.HasSuffix(out, "| GET /first\n")
	})

	// Follow, through a deployment.
	c, err := api.NewClient(srv.APIAddr(), "", "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan engine.LogLine, 1000)
	followed := make(chan error, 1)
	go func() {
		followed <- c.Logs(ctx, "web", api.LogsQuery{Tail: 1, Follow: true}, func(l engine.LogLine) { lines <- l })
	}()
	await := func(want string) engine.LogLine {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case l := <-lines:
				if l.Line == want {
					return l
				}
			case <-timeout:
				t.Fatalf("following, %q never came", want)
			}
		}
	}
	await("GET /first")
	get("/second")
	await("GET /second")
	if out, stderr, code := teal(t, env, "", "apply", "-auto-approve", config("2.0", "")); code != ExitOK {
		t.Fatalf("apply 2.0: exit %d\n%s%s", code, out, stderr)
	}
	if l := await("hello from 2.0"); !strings.HasPrefix(l.Instance, "web-r2-green-") {
		t.Errorf("the new instance's line came from %s", l.Instance)
	}
	cancel()
	if err := <-followed; err != nil {
		t.Errorf("following ended with %v", err)
	}

	// A candidate that crashes: its output is kept and can be named.
	out, stderr, code = teal(t, env, "", "apply", "-auto-approve", config("3.0", `, TEAL_TESTAPP_EXIT_AFTER = "1ms", TEAL_TESTAPP_EXIT_CODE = "3"`))
	if code == ExitOK {
		t.Fatalf("apply of a crashing 3.0 succeeded\n%s", out)
	}
	_, stderr, code = teal(t, env, "", "logs", "web", "--instance", "nope")
	m := regexp.MustCompile(`stopped, the latest last: .*(web-r3-blue-\S+)$`).FindStringSubmatch(strings.TrimSpace(stderr))
	if code != ExitFailure || m == nil {
		t.Fatalf("logs of an unknown instance: exit %d\n%s", code, stderr)
	}
	out, stderr, code = teal(t, env, "", "logs", "web", "--instance", m[1])
	if code != ExitOK || out != "hello from 3.0\nexiting with 3\n" {
		t.Errorf("logs of the failed candidate: exit %d\n%q%s", code, out, stderr)
	}
	if _, stderr, code := teal(t, env, "", "logs", "web", "--slot", "red"); code != ExitFailure || !strings.Contains(stderr, `slot "red": expected blue or green`) {
		t.Errorf("bad slot: exit %d %s", code, stderr)
	}
	if _, stderr, code := teal(t, env, "", "logs", "web", "--since", "yesterday"); code != ExitUsage || !strings.Contains(stderr, "expected a duration like 10m") {
		t.Errorf("bad since: exit %d %s", code, stderr)
	}
	if _, stderr, code := teal(t, env, "", "logs", "nosuch"); code != ExitFailure || !strings.Contains(stderr, `service "nosuch"`) {
		t.Errorf("unknown service: exit %d %s", code, stderr)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"10MiB": 10 << 20, "500KB": 500_000, "1048576": 1 << 20, "2GiB": 2 << 30, "64B": 64} {
		var s sizeFlag
		if err := s.Set(in); err != nil || int64(s) != want {
			t.Errorf("%s: %d, %v; want %d", in, s, err, want)
		}
	}
	for _, in := range []string{"", "5XB", "-1MiB", "0", "MiB"} {
		var s sizeFlag
		if err := s.Set(in); err == nil {
			t.Errorf("%q was taken as %d bytes", in, s)
		}
	}
}

func TestTokenRotate(t *testing.T) {
	srv, env, _, _ := testServer(t)
	old, _ := os.ReadFile(srv.TokenFile())
	out, stderr, code := teal(t, env, "", "token", "rotate")
	now, _ := os.ReadFile(srv.TokenFile())
	if code != ExitOK || strings.TrimSpace(out) != strings.TrimSpace(string(now)) || string(now) == string(old) || !strings.Contains(stderr, "the old one no longer works") {
		t.Errorf("token rotate: exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code := teal(t, env, "", "token"); code != ExitUsage || !strings.Contains(stderr, "one subcommand: rotate") {
		t.Errorf("token without rotate: exit %d %s", code, stderr)
	}
}

// A sensitive variable reaches the instance and nothing else: not the
// plan, the apply's output, status, history, events, the state shown or
// stored, its backup; after a restart the instance gets it again from the
// sealed state.
func TestSecretsNeverShown(t *testing.T) {
	const secret = "s3cret-Zq9-do-not-show"
	data := t.TempDir()
	start := func() *server.Server {
		srv, err := server.New(server.Config{DataDir: data})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	defer func() { srv.Shutdown(context.Background()) }()
	env := map[string]string{"TEAL_ADDR": srv.APIAddr(), "USER": "tester", "TEAL_VAR_db_password": secret}
	self, _ := os.Executable()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := ln.Addr().String()
	ln.Close()
	dir := writeConfig(t, fmt.Sprintf(`
variable "db_password" {
  type      = string
  sensitive = true
}
load_balancer "public" { listen = %q }
service "web" {
  process {
    command = [%q]
    env     = { TEAL_TESTAPP = "1", TEAL_TESTAPP_VERSION = var.db_password, MODE = "qa" }
  }
  route {}
  health_check {
    path     = "/health"
    interval = "50ms"
  }
}
`, listen, self))
	var shown strings.Builder
	run := func(args ...string) {
		t.Helper()
		out, stderr, code := teal(t, env, "", args...)
		if code != ExitOK {
			t.Fatalf("teal %v: exit %d\n%s%s", args, code, out, stderr)
		}
		shown.WriteString(out + stderr)
	}
	run("plan", dir)
	run("apply", "-auto-approve", dir)
	run("status", "-json")
	run("history", "-json", "web")
	run("events", "-json", "-n", "1000")
	run("state", "show", "service.web")
	run("state", "show", "-json", "service.web")
	run("logs", "web", "-n", "0")
	if strings.Contains(shown.String(), secret) {
		t.Errorf("the secret was shown:\n%s", shown.String())
	}
	if !strings.Contains(shown.String(), "MODE") || !strings.Contains(shown.String(), "(sensitive value)") {
		t.Errorf("what is not secret should show, and the secret as (sensitive value):\n%s", shown.String())
	}
	answer := func() string {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return resp.Header.Get("X-Version")
	}
	if got := answer(); got != secret {
		t.Errorf("the instance got %q, not the secret", got)
	}
	srv.Shutdown(context.Background())

	// What the server keeps: the state, its backup, the logs.
	filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || info.Mode()&os.ModeSocket != 0 {
			return nil
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", path)
		}
		return nil
	})

	srv = start() // starts the live revision again, from the sealed state
	waitFor(t, "the restarted instance", func() bool { return answer() == secret })
}

// fmt -recursive formats the modules below the directory too, as
// terraform fmt -recursive does, and leaves hidden directories (the data
// directory .teal, .git) alone.
func TestFmtRecursive(t *testing.T) {
	dir := writeConfig(t, "module \"web\" {\n  source = \"./modules/web\"\n}\n")
	unformatted := "service \"web\" {\nversion=\"1\"\n}\n"
	module := filepath.Join(dir, "modules", "web", "main.hcl")
	hidden := filepath.Join(dir, ".teal", "kept.hcl")
	for _, p := range []string{module, hidden} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(unformatted), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, _, code := teal(t, nil, "", "fmt", "-check", dir); code != ExitOK || out != "" {
		t.Errorf("fmt -check without -recursive looked below the directory: exit %d %q", code, out)
	}
	out, _, code := teal(t, nil, "", "fmt", "-check", "-recursive", dir)
	if code != ExitUnformatted || strings.TrimSpace(out) != module {
		t.Errorf("fmt -check -recursive: exit %d %q; want exit %d and only %s", code, out, ExitUnformatted, module)
	}
	if _, _, code := teal(t, nil, "", "fmt", "-recursive", dir); code != ExitOK {
		t.Errorf("fmt -recursive: exit %d", code)
	}
	if b, _ := os.ReadFile(module); string(b) != "service \"web\" {\n  version = \"1\"\n}\n" {
		t.Errorf("the module's file after fmt -recursive:\n%s", b)
	}
	if b, _ := os.ReadFile(hidden); string(b) != unformatted {
		t.Errorf("fmt -recursive rewrote a file in a hidden directory:\n%s", b)
	}
}

// teal state list and show include the DNS zones of the current state,
// with the TSIG secret never shown; an earlier version says it was kept
// without them.
func TestStateShowsDNSZones(t *testing.T) {
	_, env, _, _ := testServer(t)
	listen := tcptest.FreeAddr(t)
	const secret = "c2VjcmV0LWtleS1kby1ub3Qtc2hvdw=="
	dir := writeConfig(t, fmt.Sprintf(`
dns_zone "own.test" {
  listen = %q
}
dns_zone "bind.test" {
  update {
    server     = "127.0.0.1:1"
    key_name   = "teal-key."
    key_secret = %q
  }
}
`, listen, secret))
	run := func(args ...string) string {
		t.Helper()
		out, stderr, code := teal(t, env, "", args...)
		if code != ExitOK {
			t.Fatalf("teal %v: exit %d\n%s%s", args, code, out, stderr)
		}
		if strings.Contains(out+stderr, secret) {
			t.Fatalf("teal %v showed the TSIG secret:\n%s%s", args, out, stderr)
		}
		return out
	}
	run("apply", "-auto-approve", dir)
	list := run("state", "list")
	for _, want := range []string{"dns_zone.own.test\t(answered by teal on " + listen + ")", "dns_zone.bind.test\t(updates to 127.0.0.1:1)"} {
		if !strings.Contains(list, want) {
			t.Errorf("state list lacks %q:\n%s", want, list)
		}
	}
	if out := run("state", "show", "dns_zone.bind.test"); !strings.Contains(out, `update.key_name`) || !strings.Contains(out, "(sensitive value)") {
		t.Errorf("state show dns_zone.bind.test:\n%s", out)
	}
	if out := run("state", "show", "-json", "dns_zone.bind.test"); !strings.Contains(out, `"key_name": "teal-key"`) || !strings.Contains(out, `"key_secret": "(sensitive value)"`) {
		t.Errorf("state show -json dns_zone.bind.test:\n%s", out)
	}
	out, stderr, code := teal(t, env, "", "state", "show", "-serial", "1", "dns_zone.own.test")
	if code != ExitFailure || !strings.Contains(stderr, "kept without their DNS zones") {
		t.Errorf("state show -serial 1 dns_zone.own.test: exit %d\n%s%s", code, out, stderr)
	}
}
