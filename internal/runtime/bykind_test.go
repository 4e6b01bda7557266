package runtime_test

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/process"
	"github.com/teal-deploy/teal/internal/spec"
)

// ByKind runs each spec on the driver it names, and says plainly when
// the server has no such driver.
func TestByKind(t *testing.T) {
	d := &runtime.ByKind{Process: &process.Driver{LogDir: t.TempDir()}}
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: "p-1", Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: []string{"sleep", "30"}, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Stop(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	_, err = d.Start(context.Background(), runtime.InstanceSpec{ID: "c-1", Container: &spec.Container{Image: "x:1"}})
	if err == nil || !strings.Contains(err.Error(), "instance c-1 runs as a container, but this server has no container engine") {
		t.Errorf("container spec without a container driver: %v", err)
	}
	if _, err := d.Adopt(context.Background(), runtime.InstanceSpec{ID: "n-1"}, "{}"); err == nil || !strings.Contains(err.Error(), "neither a process nor a container") {
		t.Errorf("spec with no driver: %v", err)
	}
	if swept, err := d.Sweep(context.Background(), func(string) bool { return true }); err != nil || len(swept) != 0 {
		t.Errorf("Sweep with no sweeper: %v %v", swept, err)
	}
}

// teal import goes to the process driver (its spec names no driver); a
// container cannot be imported.
func TestByKindImport(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	d := &runtime.ByKind{Process: &process.Driver{LogDir: t.TempDir()}}
	in, err := d.Import(context.Background(), runtime.InstanceSpec{ID: "imported-1", Service: "web", Revision: 1, Slot: spec.Blue}, "127.0.0.1:1", cmd.Process.Pid)
	if err != nil || in.ID() != "imported-1" {
		t.Fatalf("Import of a running process: %v", err)
	}
	_, err = d.Import(context.Background(), runtime.InstanceSpec{ID: "c-1", Container: &spec.Container{Image: "x:1"}}, "127.0.0.1:1", 0)
	if err == nil || !strings.Contains(err.Error(), "cannot take over") {
		t.Errorf("Import of a container: %v", err)
	}
}

// teal logs reads through ByKind from whichever driver keeps the output.
func TestByKindLogs(t *testing.T) {
	d := &runtime.ByKind{Process: &process.Driver{LogDir: t.TempDir()}}
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: "p-2", Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: []string{"sh", "-c", "echo hello from p-2; sleep 30"}, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background(), time.Second)
	var got string
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(got, "hello from p-2") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		rc, err := d.Logs(context.Background(), "test", "p-2", runtime.LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got = string(b)
	}
	if !strings.Contains(got, "hello from p-2") {
		t.Errorf("Logs = %q", got)
	}
	if ids := d.Logged("test"); len(ids) != 1 || ids[0] != "p-2" {
		t.Errorf("Logged = %v", ids)
	}
	if _, err := d.Logs(context.Background(), "test", "nobody", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNoLogs) {
		t.Errorf("Logs of an unknown instance: %v, want ErrNoLogs", err)
	}
}
