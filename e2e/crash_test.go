package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// crashConfig is a service whose every step lasts long enough to be
// killed in: slow health checks, a hook that sleeps, canary pauses.
const crashConfig = `
variable "version" { default = "1.0.0" }
load_balancer "public" { listen = "%s" }
service "web" {
  version       = var.version
  desired_count = %d
  process {
    command = ["%s", "-version", var.version]
  }
  route {}
  health_check {
    path              = "/health"
    interval          = "100ms"
    healthy_threshold = 3
    grace_period      = "1s"
  }
  deploy {
    %s
    ready_timeout = "20s"
    drain_timeout = "2s"
    keep_previous = "5m"
    before_switch = ["sleep", "0.3"]
  }
}
`

// The server killed with SIGKILL at each step of each strategy: after a
// restart, the deployment is finished or rolled back by the rule the
// README states (the new revision is live exactly when its switch was
// recorded), nothing recorded before the kill is lost, the instances that
// ran are adopted and nothing is left over, and traffic is served again
// within a second.
func TestKilledAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 13 times")
	}
	for _, st := range crashStrategies {
		for _, step := range st.stepsToK {
			t.Run(st.name+"/"+strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
				addr := tcptest.FreeAddr(t)
				killAt(t, addr, fmt.Sprintf(crashConfig, addr, st.count, bins.webapp, st.deploy), step)
			})
		}
	}
}

var crashSeeds = flag.Int("crash-seeds", 3, "how many random moments TestKilledAtRandom kills the server at (the long run: 50 or more)")

// The server killed with SIGKILL at a random moment of a deployment by a
// random strategy, one seed per run: the same promises as at each step.
// `go test ./e2e -run TestKilledAtRandom -crash-seeds 50` is the long run.
func TestKilledAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts servers")
	}
	for seed := range *crashSeeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		st := crashStrategies[r.IntN(len(crashStrategies))]
		delay := time.Duration(r.Int64N(int64(3 * time.Second)))
		t.Run(fmt.Sprintf("seed%d/%s/after_%s", seed, st.name, delay.Round(time.Millisecond)), func(t *testing.T) {
			addr := tcptest.FreeAddr(t)
			killWhen(t, addr, fmt.Sprintf(crashConfig, addr, st.count, bins.webapp, st.deploy), nil, delay)
		})
	}
}

// crashStrategies are the deployments the crash tests kill servers in,
// with the steps TestKilledAtEachStep kills at.
var crashStrategies = []struct {
	name     string
	deploy   string
	count    int
	stepsToK []string
}{
	{"blue_green", `strategy = "blue_green"`, 2, []string{"start", "health", "hook before_switch", "switch", "drain"}},
	{"canary", `strategy = "canary"
    step {
      weight = 10
      pause  = "400ms"
    }
    step {
      weight = 50
      pause  = "400ms"
    }`, 2, []string{"shift", "hold", "switch"}},
	{"rolling", `strategy = "rolling"
    batch_size = 2`, 4, []string{"hook before_switch", "take out", "start", "health", "switch"}},
}

func killAt(t *testing.T, lb, cfg, step string) {
	killWhen(t, lb, cfg, func(ev state.Event) bool {
		return ev.Type == "deployment.step" && strings.HasPrefix(ev.Message, step+": ") &&
			!strings.HasPrefix(ev.Message, step+": succeeded") && !strings.HasPrefix(ev.Message, step+": failed")
	}, 0)
}

// killWhen applies version 2.0.0 and kills the server with SIGKILL once
// an event satisfies at (nil: none needs to), then after delay; then it
// restarts the server and checks what the README promises.
func killWhen(t *testing.T, lb, cfg string, at func(state.Event) bool, delay time.Duration) {
	e := start(t)
	if err := os.WriteFile(filepath.Join(e.dir, "teal.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	e.lb = "http://" + lb
	e.mustTeal("apply", "-auto-approve", e.dir)
	c, err := api.NewClient("unix://"+filepath.Join(e.data, "teal.sock"), "", "e2e")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before, err := c.LastEvents(ctx, 1, "")
	if err != nil || len(before) == 0 {
		t.Fatal(err)
	}
	after := before[0].Seq

	apply := exec.Command(bins.teal, "apply", "-auto-approve", "-var", "version=2.0.0", e.dir)
	apply.Env = append(os.Environ(), "TEAL_ADDR=unix://"+filepath.Join(e.data, "teal.sock"))
	if err := apply.Start(); err != nil {
		t.Fatal(err)
	}
	defer apply.Wait()

	// Follow the events to the moment, then kill.
	killAfter := time.Now().Add(delay)
	var lastSeen uint64
	killedAt := "before any event" // the last event seen before the kill
	killed := false
	for deadline := time.Now().Add(30 * time.Second); !killed && time.Now().Before(deadline); {
		wait := time.Second
		if at == nil {
			left := time.Until(killAfter)
			if left <= 0 {
				e.server.Process.Kill() // SIGKILL
				killed = true
				break
			}
			wait = min(wait, left)
		}
		evs, err := c.Events(ctx, after, 100, "web", wait)
		if err != nil {
			t.Fatalf("events: %v", err)
		}
		for _, ev := range evs {
			after, lastSeen, killedAt = ev.Seq, ev.Seq, ev.Message
			if at != nil && at(ev) {
				time.Sleep(delay)
				e.server.Process.Kill() // SIGKILL
				killed = true
				break
			}
			if at != nil && (ev.Type == "deployment.succeeded" || ev.Type == "deployment.failed") {
				t.Fatalf("the deployment ended before the moment to kill: %s", ev.Message)
			}
		}
	}
	if !killed {
		t.Fatal("the moment to kill never came")
	}

	<-e.exited
	apply.Process.Kill()

	// Restart on the same data directory.
	began := time.Now()
	e.server = exec.Command(bins.teal, "server", "--data-dir", e.data)
	e.server.Stdout, e.server.Stderr = e.srvLogs, e.srvLogs
	if err := e.server.Start(); err != nil {
		t.Fatal(err)
	}
	e.exited = make(chan error, 1)
	go func() { e.exited <- e.server.Wait() }()
	var version string
	for {
		resp, err := http.Get(e.lb + "/")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				version = resp.Header.Get("X-Version")
				break
			}
		}
		if time.Since(began) > 5*time.Second {
			t.Fatalf("no traffic served %s after the restart: %v", time.Since(began), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	served := time.Since(began)
	if served > time.Second {
		t.Errorf("traffic served again only %s after the restart", served)
	}

	h := historyOf(t, e)
	dep := h.Deployments[len(h.Deployments)-1]
	t.Logf("killed after %q: deployment %s (%s), %s answered; served again %s after the restart",
		killedAt, dep.Status, dep.Reason, version, served.Round(time.Millisecond))
	if dep.Status == state.Running {
		t.Fatalf("deployment %d still running after the restart", dep.ID)
	}
	var live engineStatus
	waitFor(t, "the status", func() bool { live = statusOf(t, e); return live.live != "" })
	switch dep.Status {
	case state.Succeeded:
		if live.live != "2.0.0" || version != "2.0.0" {
			t.Errorf("deployment succeeded but %s is live (%s answered)", live.live, version)
		}
	case state.Failed:
		if live.live != "1.0.0" || version != "1.0.0" || !strings.Contains(dep.Reason, "was rolled back") {
			t.Errorf("deployment failed (%s) but %s is live (%s answered)", dep.Reason, live.live, version)
		}
	}
	if len(h.Revisions) != 2 {
		t.Errorf("revisions after the restart: %d, want 2", len(h.Revisions))
	}
	if evs, err := c.LastEvents(ctx, 1, ""); err != nil || evs[0].Seq < lastSeen {
		t.Errorf("events after the restart end at %v (%v), before the last one seen (%d)", evs, err, lastSeen)
	}

	// What runs is what the status says runs, once the leftovers are
	// stopped and the missing started.
	waitFor(t, "the instances to settle", func() bool {
		n, want := len(running(bins.webapp)), statusOf(t, e).instances
		if n != want {
			t.Logf("%d instances run, the status says %d", n, want)
		}
		return n == want
	})

	e.server.Process.Signal(os.Interrupt)
	<-e.exited
	if left := running(bins.webapp); len(left) > 0 {
		t.Errorf("instances left after the server stopped: %v", left)
	}
}

type engineStatus struct {
	live      string
	instances int // live and warm
}

func statusOf(t *testing.T, e *env) engineStatus {
	t.Helper()
	st := e.status()
	var out engineStatus
	if st.Live != nil {
		out.live = st.Live.Version
		for _, in := range st.Live.Instances {
			if in.Exit == "" {
				out.instances++
			}
		}
	}
	if st.Previous != nil {
		out.instances += len(st.Previous.Instances)
	}
	return out
}

func historyOf(t *testing.T, e *env) api.HistoryResponse {
	t.Helper()
	var h api.HistoryResponse
	waitFor(t, "the history", func() bool {
		out, code := e.teal("history", "-json", "web")
		return code == 0 && jsonInto(out, &h) == nil
	})
	return h
}

func jsonInto(s string, v any) error { return json.Unmarshal([]byte(s), v) }
