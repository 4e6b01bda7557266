package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/syncbuf"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// up runs teal up DIR until the returned function stops it, and returns
// once it says it is ready.
func up(t *testing.T, dir string) (out *syncbuf.Buffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncbuf.Buffer{}
	var errOut syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"up", "-admin", "", dir}, strings.NewReader(""), out, &errOut,
			func(string) string { return "" }, func() []string { return nil })
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("teal up did not stop")
		}
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "Press Ctrl-C to stop."); time.Sleep(10 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("teal up: exit %d\n%s%s", code, out, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("teal up not ready after 30s:\n%s%s", out, errOut.String())
		}
	}
	return out, stop
}

// What teal up prints as serving answers at once: the first time, and
// after a stop, when the state has not changed but its instances were
// stopped with it and start again.
func TestUpServesWhenItSaysSo(t *testing.T) {
	self, _ := os.Executable()
	listen := tcptest.FreeAddr(t)
	dir := writeConfig(t, fmt.Sprintf(`
load_balancer "public" { listen = %q }
service "web" {
  version = "1.0"
  process {
    command = [%q]
    env     = { TEAL_TESTAPP = "1", TEAL_TESTAPP_VERSION = "1.0" }
  }
  route {}
  health_check {
    interval = "300ms"
  }
}
`, listen, self))
	get := func() int {
		resp, err := http.Get("http://" + listen + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	out, stop := up(t, dir)
	if code := get(); code != http.StatusOK {
		t.Errorf("first teal up: %d as it said it serves\n%s", code, out)
	}
	stop()

	out, stop = up(t, dir)
	defer stop()
	if !strings.Contains(out.String(), "No changes") {
		t.Errorf("second teal up:\n%s", out)
	}
	if code := get(); code != http.StatusOK {
		t.Errorf("second teal up: %d as it said it serves\n%s", code, out)
	}
}
