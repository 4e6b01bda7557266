package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime/container"
	"github.com/teal-deploy/teal/internal/runtime/container/containertest"
)

const containerConfig = `
variable "version" {
  default = "1"
}
load_balancer "public" {
  listen = "%s"
}
service "web" {
  version       = var.version
  desired_count = 2
  container {
    image  = "localhost/teal-e2e-web:${var.version}"
    port   = 8080
    memory = "64MiB"
    cpus   = 0.5
    env    = { TEAL_TESTAPP_VERSION = var.version, TEAL_TESTAPP_HOST = "0.0.0.0" }
  }
  build {
    context = "."
  }
  route {
    path = "/*"
  }
  health_check {
    path                = "/health"
    interval            = "100ms"
    healthy_threshold   = 2
    unhealthy_threshold = 2
    grace_period        = "1s"
  }
  deploy {
    ready_timeout = "30s"
    drain_timeout = "5s"
    keep_previous = "5m"
  }
}
`

// The seed's pipeline as one command, on a real engine: teal apply builds
// the image and deploys it blue-green; v2 replaces v1 under load; a
// rollback is one switch; not one request fails; and SIGTERM leaves no
// container behind.
func TestContainerServiceEndToEnd(t *testing.T) {
	host := containertest.Host(t)
	base := containertest.Image(t, containertest.Driver(t))
	e := startWith(t, func(lb string) string { return fmt.Sprintf(containerConfig, lb) }, "--docker-host", host)
	os.WriteFile(filepath.Join(e.dir, "Dockerfile"), []byte("FROM "+base+"\n"), 0o644)

	out := e.mustTeal("apply", "-auto-approve", e.dir)
	for _, want := range []string{"build", "revision 1 is live in blue"} {
		if !strings.Contains(out, want) {
			t.Fatalf("apply v1 lacks %q:\n%s", want, out)
		}
	}
	l := startLoad(e.lb, 3)
	defer func() {
		select {
		case <-l.stop:
		default:
			l.end()
		}
	}()
	waitFor(t, "both v1 instances to answer", func() bool { return len(l.instances("1")) == 2 })
	if out := e.mustTeal("apply", "-auto-approve", "-var", "version=2", e.dir); !strings.Contains(out, "revision 2 is live in green") {
		t.Fatalf("apply v2:\n%s", out)
	}
	waitFor(t, "both v2 instances to answer", func() bool { return len(l.instances("2")) == 2 })
	if out := e.mustTeal("rollback", "web"); !strings.Contains(out, "revision 1") {
		t.Fatalf("rollback:\n%s", out)
	}
	time.Sleep(200 * time.Millisecond)
	l.end()
	if l.failed.Load() > 0 {
		t.Errorf("%d of %d requests failed: %v", l.failed.Load(), l.ok.Load()+l.failed.Load(), l.failures)
	}
	if len(l.instances("1")) != 2 || len(l.instances("2")) != 2 {
		t.Errorf("answered by v1 %v and v2 %v, want two instances each", l.instances("1"), l.instances("2"))
	}
	h := e.history()
	if len(h.Deployments) == 0 || h.Deployments[0].Steps[0].Name != "build" {
		t.Errorf("the first deployment does not start with its build: %+v", h.Deployments)
	}

	e.server.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not stop")
	}
	api, err := client.New(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	left, err := api.ContainerList(context.Background(), client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("label", container.LabelOwner+"="+e.data),
	})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("containers left after SIGTERM: %d, %v", len(left.Items), err)
	}
}
