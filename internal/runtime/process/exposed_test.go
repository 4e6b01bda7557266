package process

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
)

// startListening starts command as an instance and waits until it
// answers on its address.
func startListening(t *testing.T, d *Driver, id string, command []string, env map[string]string) runtime.Instance {
	t.Helper()
	in, err := d.Start(context.Background(), runtime.InstanceSpec{
		ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
		Process: &spec.Process{Command: command, Env: env, Dir: t.TempDir()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(context.Background(), time.Second) })
	port := netip.MustParseAddrPort(in.Addr()).Port()
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(port))); err == nil {
			c.Close()
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never listened on port %d: %q", id, port, in.LogTail(5))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// everyInterface reports whether addrs is one address of every interface
// on port: 0.0.0.0, or [::], which is where Go listens for 0.0.0.0 on a
// machine with IPv6 (both families).
func everyInterface(addrs []string, port uint16) bool {
	return len(addrs) == 1 && (addrs[0] == "0.0.0.0:"+itoa(port) || addrs[0] == "[::]:"+itoa(port))
}

// An instance that listens on every interface, where it can be reached
// without the load balancer, is told from one that listens on the
// loopback address teal gave it: the test program and the demo's web app
// listen on loopback only; the test program told to bind 0.0.0.0 (or ::)
// does not.
func TestExposed(t *testing.T) {
	d := &Driver{LogDir: t.TempDir(), Env: os.Environ()}
	self, _ := os.Executable()
	app := runtimetest.Behaviour{}.Env()

	in := startListening(t, d, "loopback-1", []string{self}, app)
	if got := in.(runtime.Exposer).Exposed(); len(got) != 0 {
		t.Errorf("the test program on loopback: exposed on %v", got)
	}

	wide := runtimetest.Behaviour{}.Env()
	wide[runtimetest.EnvHost] = "0.0.0.0"
	in = startListening(t, d, "wide-1", []string{self}, wide)
	port := netip.MustParseAddrPort(in.Addr()).Port()
	if got := in.(runtime.Exposer).Exposed(); !everyInterface(got, port) {
		t.Errorf("the test program on 0.0.0.0: exposed on %v", got)
	}

	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		wide[runtimetest.EnvHost] = "::"
		in = startListening(t, d, "wide-2", []string{self}, wide)
		port = netip.MustParseAddrPort(in.Addr()).Port()
		if got := in.(runtime.Exposer).Exposed(); !everyInterface(got, port) {
			t.Errorf("the test program on [::]: exposed on %v", got)
		}
	}

	if testing.Short() {
		return
	}
	bin := filepath.Join(t.TempDir(), "webapp")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../examples/demo/webapp").CombinedOutput(); err != nil {
		t.Fatalf("build the demo's web app: %v\n%s", err, out)
	}
	in = startListening(t, d, "demo-1", []string{bin}, nil)
	if got := in.(runtime.Exposer).Exposed(); len(got) != 0 {
		t.Errorf("the demo's web app: exposed on %v", got)
	}
}
