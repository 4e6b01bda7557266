package process

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
)

func TestMain(m *testing.M) {
	runtimetest.MaybeRunApp()
	os.Exit(m.Run())
}

func harness(t *testing.T) runtimetest.Harness {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ()}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return runtimetest.Harness{
		Driver: d,
		Spec: func(id string, b runtimetest.Behaviour) runtime.InstanceSpec {
			return runtime.InstanceSpec{
				ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
				Process: &spec.Process{Command: []string{self}, Env: b.Env(), Dir: t.TempDir()},
			}
		},
		Broken: func(id string) runtime.InstanceSpec {
			return runtime.InstanceSpec{
				ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
				Process: &spec.Process{Command: []string{"/nonexistent/program"}, Dir: t.TempDir()},
			}
		},
	}
}

func TestConformance(t *testing.T) {
	runtimetest.Run(t, harness(t))
}

// A stop reaches every process of the group, not only the one teal
// started: a wrapper like "sh -c" or "go run" leaves no child behind.
func TestStopReachesTheWholeGroup(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ()}
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: "group-1", Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: []string{"sh", "-c", "sleep 300 & sleep 300 & wait"}, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	pgid := in.(*instance).pid
	deadline := time.Now().Add(5 * time.Second)
	for countGroup(t, pgid) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := countGroup(t, pgid); n < 3 {
		t.Fatalf("group has %d processes, want the shell and two sleeps", n)
	}
	if err := in.Stop(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if groupAlive(pgid) {
		t.Errorf("processes of group %d still run after Stop", pgid)
	}
}

func countGroup(t *testing.T, pgid int) int {
	out, err := exec.Command("ps", "-e", "-o", "pgid=,stat=").Output()
	if err != nil {
		t.Skipf("ps: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == strconv.Itoa(pgid) && !strings.HasPrefix(f[1], "Z") {
			n++
		}
	}
	return n
}

// The environment holds what teal promises: PORT and the instance's names,
// which the configuration cannot override.
func TestEnvironment(t *testing.T) {
	d := &Driver{Env: []string{"PATH=/bin", "PORT=1", "TEAL_SLOT=x", "HOME=/root"}}
	env := d.environ(runtime.InstanceSpec{
		ID: "web-r2-green-1", Service: "web", Revision: 2, Slot: spec.Green,
		Process: &spec.Process{Env: map[string]string{"ENVIRONMENT": "qa"}},
	}, 4000)
	got := strings.Join(env, " ")
	for _, want := range []string{"PATH=/bin", "HOME=/root", "ENVIRONMENT=qa", "PORT=4000", "TEAL_SERVICE=web", "TEAL_REVISION=2", "TEAL_SLOT=green", "TEAL_INSTANCE=web-r2-green-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("environment lacks %s: %s", want, got)
		}
	}
	for _, bad := range []string{"PORT=1", "TEAL_SLOT=x"} {
		if strings.Contains(got, bad+" ") || strings.HasSuffix(got, bad) {
			t.Errorf("environment keeps the server's %s: %s", bad, got)
		}
	}
}

// A process teal did not start is found by the address it listens on,
// taken over, and stopped alone.
func TestImport(t *testing.T) {
	self, _ := os.Executable()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "TEAL_TESTAPP=1", "PORT="+port, "TEAL_INSTANCE=legacy")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the process never listened")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := &Driver{LogDir: t.TempDir()}
	in, err := d.Import(context.Background(), runtime.InstanceSpec{ID: "web-r1-blue-imported", Service: "web", Revision: 1}, addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	if in.(*instance).pid != cmd.Process.Pid || in.Addr() != addr {
		t.Errorf("imported pid %d on %s; want %d on %s", in.(*instance).pid, in.Addr(), cmd.Process.Pid, addr)
	}
	if _, err := d.Import(context.Background(), runtime.InstanceSpec{ID: "x"}, "127.0.0.1:1", 0); err == nil || !strings.Contains(err.Error(), "nothing listens on 127.0.0.1:1") {
		t.Errorf("import of nothing: %v", err)
	}
	if err := in.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the imported process did not stop")
	}
	select {
	case <-in.Done():
	case <-time.After(5 * time.Second):
		t.Error("the stop of an imported process was not noticed")
	}
}
