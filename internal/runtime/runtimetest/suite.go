package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
)

// Harness is what the suite needs from a driver under test.
type Harness struct {
	Driver runtime.Driver
	// Spec returns the spec of an instance of the test program that
	// behaves as b, with the given ID.
	Spec func(id string, b Behaviour) runtime.InstanceSpec
	// Broken returns a spec the driver cannot start.
	Broken func(id string) runtime.InstanceSpec
	// OutOfMemory returns a spec of the test program that allocates more
	// memory than its limit allows; nil for a driver that sets no memory
	// limit (the process driver).
	OutOfMemory func(id string) runtime.InstanceSpec
}

// Run runs the conformance suite against h.
func Run(t *testing.T, h Harness) {
	t.Run("ServesHTTPOnItsAddress", func(t *testing.T) { testServes(t, h) })
	t.Run("ExitIsNoticedAtOnce", func(t *testing.T) { testExit(t, h) })
	t.Run("StopIsGraceful", func(t *testing.T) { testStop(t, h) })
	t.Run("StopKillsAfterGrace", func(t *testing.T) { testKill(t, h) })
	t.Run("LogsHoldOutput", func(t *testing.T) { testLogs(t, h) })
	t.Run("StartFailureIsAnError", func(t *testing.T) { testBroken(t, h) })
	t.Run("ParallelInstancesGetTheirOwnAddress", func(t *testing.T) { testParallel(t, h) })
	t.Run("AdoptTakesOverARunningInstance", func(t *testing.T) { testAdopt(t, h) })
	t.Run("AdoptNoticesExit", func(t *testing.T) { testAdoptExit(t, h) })
	t.Run("AdoptWithoutHandle", func(t *testing.T) { testAdoptWithoutHandle(t, h) })
	t.Run("OutOfMemoryIsReported", func(t *testing.T) { testOutOfMemory(t, h) })
}

func start(t *testing.T, h Harness, id string, b Behaviour) runtime.Instance {
	t.Helper()
	in, err := h.Driver.Start(context.Background(), h.Spec(id, b))
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { _ = in.Stop(context.Background(), time.Second) })
	if in.ID() != id {
		t.Errorf("ID() = %q, want %q", in.ID(), id)
	}
	return in
}

// get fetches the instance's root until it answers or the deadline passes.
func get(t *testing.T, in runtime.Instance) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + in.Addr() + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s never answered on %s: %v", in.ID(), in.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitDone(t *testing.T, in runtime.Instance, within time.Duration) {
	t.Helper()
	select {
	case <-in.Done():
		return
	default:
	}
	select {
	case <-in.Done():
	case <-time.After(within):
		t.Fatalf("instance %s: Done not closed within %s", in.ID(), within)
	}
}

func testServes(t *testing.T, h Harness) {
	in := start(t, h, "serves-1", Behaviour{})
	if !strings.HasPrefix(in.Addr(), "127.0.0.1:") {
		t.Errorf("Addr() = %q, want an address on loopback", in.Addr())
	}
	if body := get(t, in); !strings.Contains(body, "instance serves-1") {
		t.Errorf("answer %q does not name the instance: TEAL_INSTANCE was not passed", body)
	}
	select {
	case <-in.Done():
		t.Fatalf("instance exited while it should serve: %s", in.Exit())
	default:
	}
}

func testExit(t *testing.T, h Harness) {
	in := start(t, h, "exit-1", Behaviour{ExitAfter: 300 * time.Millisecond, ExitCode: 3})
	waitDone(t, in, 10*time.Second)
	ex := in.Exit()
	if ex.Code != 3 || ex.Stopped {
		t.Errorf("Exit() = %+v, want code 3 and not stopped", ex)
	}
	if lag := time.Since(ex.At); lag > 5*time.Second {
		t.Errorf("exit recorded %s ago; want it noticed at once", lag)
	}
	if !strings.Contains(ex.String(), "status 3") {
		t.Errorf("Exit().String() = %q, want it to give the status", ex)
	}
}

func testStop(t *testing.T, h Harness) {
	in := start(t, h, "stop-1", Behaviour{})
	get(t, in)
	if err := in.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitDone(t, in, 0)
	if ex := in.Exit(); !ex.Stopped || ex.Signal == "KILL" {
		t.Errorf("Exit() = %+v, want stopped gracefully (not killed)", ex)
	}
	if err := in.Stop(context.Background(), time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := http.Get("http://" + in.Addr() + "/"); err == nil {
		t.Errorf("instance still answers after Stop")
	}
}

func testKill(t *testing.T, h Harness) {
	in := start(t, h, "kill-1", Behaviour{IgnoreTerm: true})
	get(t, in)
	grace := 500 * time.Millisecond
	began := time.Now()
	if err := in.Stop(context.Background(), grace); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(began); took < grace {
		t.Errorf("Stop returned after %s, before the grace period of %s", took, grace)
	}
	waitDone(t, in, 0)
	if ex := in.Exit(); ex.Signal != "KILL" || !ex.Stopped {
		t.Errorf("Exit() = %+v, want killed by KILL after Stop", ex)
	}
}

func testLogs(t *testing.T, h Harness) {
	in := start(t, h, "logs-1", Behaviour{Say: "hello from the test program", ExitAfter: 200 * time.Millisecond, ExitCode: 0})
	waitDone(t, in, 10*time.Second)
	tail := in.LogTail(10)
	if !strings.Contains(strings.Join(tail, "\n"), "hello from the test program") {
		t.Errorf("LogTail = %q, want the line the program printed", tail)
	}
	if got := in.LogTail(1); len(got) != 1 || !strings.Contains(got[0], "exiting with 0") {
		t.Errorf("LogTail(1) = %q, want only the last line", got)
	}
}

func testBroken(t *testing.T, h Harness) {
	in, err := h.Driver.Start(context.Background(), h.Broken("broken-1"))
	if err == nil {
		_ = in.Stop(context.Background(), time.Second)
		t.Fatal("Start of a broken spec succeeded")
	}
	if !strings.Contains(err.Error(), "broken-1") {
		t.Errorf("error %q does not name the instance", err)
	}
}

func testParallel(t *testing.T, h Harness) {
	const n = 4
	ins := make([]runtime.Instance, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := h.Spec(fmt.Sprintf("par-%d", i), Behaviour{})
			s.Slot = spec.Green
			in, err := h.Driver.Start(context.Background(), s)
			if err != nil {
				t.Errorf("start: %v", err)
				return
			}
			ins[i] = in
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, in := range ins {
		if in == nil {
			continue
		}
		t.Cleanup(func() { _ = in.Stop(context.Background(), time.Second) })
		if seen[in.Addr()] {
			t.Errorf("two instances share %s", in.Addr())
		}
		seen[in.Addr()] = true
		if body := get(t, in); !strings.Contains(body, in.ID()) {
			t.Errorf("%s answered %q", in.Addr(), body)
		}
	}
}

func testAdopt(t *testing.T, h Harness) {
	orig := start(t, h, "adopt-1", Behaviour{Say: "adopt me"})
	get(t, orig)
	in, err := h.Driver.Adopt(context.Background(), h.Spec("adopt-1", Behaviour{}), orig.Handle())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if in.Addr() != orig.Addr() {
		t.Errorf("adopted Addr() = %q, want %q", in.Addr(), orig.Addr())
	}
	if body := get(t, in); !strings.Contains(body, "adopt-1") {
		t.Errorf("adopted instance answered %q", body)
	}
	if tail, ok := logHas(in, 5, "adopt me"); !ok {
		t.Errorf("adopted LogTail = %q, want the output of the running instance", tail)
	}
	if err := in.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatalf("Stop of adopted instance: %v", err)
	}
	waitDone(t, in, 5*time.Second)
	waitDone(t, orig, 5*time.Second)
	if _, err := h.Driver.Adopt(context.Background(), h.Spec("adopt-1", Behaviour{}), orig.Handle()); !errors.Is(err, runtime.ErrGone) {
		t.Errorf("Adopt of a stopped instance: err = %v, want ErrGone", err)
	}
}

func testAdoptExit(t *testing.T, h Harness) {
	orig := start(t, h, "adopt-2", Behaviour{ExitAfter: 700 * time.Millisecond, ExitCode: 1})
	in, err := h.Driver.Adopt(context.Background(), h.Spec("adopt-2", Behaviour{}), orig.Handle())
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	waitDone(t, in, 10*time.Second)
	if ex := in.Exit(); ex.Stopped {
		t.Errorf("Exit() = %+v, want an exit teal did not ask for", ex)
	}
}

func testOutOfMemory(t *testing.T, h Harness) {
	if h.OutOfMemory == nil {
		t.Skip("the driver sets no memory limit")
	}
	in, err := h.Driver.Start(context.Background(), h.OutOfMemory("oom-1"))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = in.Stop(context.Background(), time.Second) })
	waitDone(t, in, 20*time.Second)
	ex := in.Exit()
	if !ex.OOMKilled || ex.Stopped {
		t.Errorf("Exit() = %+v, want killed for memory, not stopped", ex)
	}
	if !strings.Contains(ex.String(), "out of memory") {
		t.Errorf("Exit().String() = %q, want it to say out of memory", ex)
	}
}

// A server killed while an instance started never recorded its handle:
// the driver finds the instance by its ID.
func testAdoptWithoutHandle(t *testing.T, h Harness) {
	orig := start(t, h, "adopt-3", Behaviour{})
	get(t, orig)
	in, err := h.Driver.Adopt(context.Background(), h.Spec("adopt-3", Behaviour{}), "")
	if err != nil {
		t.Fatalf("Adopt without a handle: %v", err)
	}
	if in.Addr() != orig.Addr() {
		t.Errorf("adopted Addr() = %q, want %q", in.Addr(), orig.Addr())
	}
	if err := in.Stop(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitDone(t, orig, 5*time.Second)
	if _, err := h.Driver.Adopt(context.Background(), h.Spec("adopt-9", Behaviour{}), ""); !errors.Is(err, runtime.ErrGone) {
		t.Errorf("Adopt of an instance that never ran: %v", err)
	}
}

// logHas reports whether the last n lines of in's output hold want. A
// driver whose output goes through a logging pipeline (a container
// engine's) may show a line a moment after it was written, so it looks
// for a second before it says no.
func logHas(in runtime.Instance, n int, want string) ([]string, bool) {
	deadline := time.Now().Add(time.Second)
	for {
		tail := in.LogTail(n)
		if strings.Contains(strings.Join(tail, "\n"), want) {
			return tail, true
		}
		if time.Now().After(deadline) {
			return tail, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
