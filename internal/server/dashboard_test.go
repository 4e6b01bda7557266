package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/dashboard"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/spec"
)

// deployWeb applies service web, one instance of the test binary, behind
// a load balancer of its own, in environment env; it returns the load
// balancer's address.
func deployWeb(t testing.TB, s *Server, env string) string {
	t.Helper()
	self, _ := os.Executable()
	lb := spec.NewLoadBalancer("public")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	lb.Listen = ln.Addr().String()
	ln.Close()
	web := spec.NewService("web")
	web.Process = &spec.Process{Command: []string{self}, Dir: t.TempDir(), Env: map[string]string{"TEAL_TESTAPP": "1"}}
	web.HealthCheck.Interval = spec.Duration(50 * time.Millisecond)
	web.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	e, err := s.envFor(context.Background(), env, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, res, err := e.engine.Apply(spec.Desired{LoadBalancers: []spec.LoadBalancer{lb}, Services: []spec.Service{web}}, engine.ApplyOptions{}, nil); err != nil || res[1].Error != "" {
		t.Fatalf("apply in %q: %v %+v", env, err, res)
	}
	return lb.Listen
}

// The dashboard's actions reach the right environment's engine, and its
// errors name what is wrong: an unknown service or environment, nothing
// in flight, nothing to roll back to, a missing token.
func TestDashboardActions(t *testing.T) {
	s := startServer(t, Config{Admin: "127.0.0.1:0"})
	deployWeb(t, s, "")
	token, err := os.ReadFile(filepath.Join(s.cfg.DataDir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, token string
		code        int
		body        string
	}{
		{"web/promote", "", 401, `"kind":"unauthorized"`},
		{"web/promote", "not-the-token", 401, `"kind":"unauthorized"`},
		{"nope/promote", string(token), 404, `{"error":{"kind":"not_found","message":"service \"nope\": not found"}}`},
		{"web/promote?env=qa", string(token), 404, `environment \"qa\": no such environment`},
		{"web/promote?env=Q!", string(token), 400, `is not an environment name`},
		{"web/promote", string(token), 409, `{"error":{"kind":"conflict","message":"service \"web\": no deployment is in flight"}}`},
		{"web/deployment/pause", string(token), 409, `no deployment is in flight`},
		{"web/rollback", string(token), 409, `revision 1 was the first to go live: nothing to roll back to`},
	} {
		req, _ := http.NewRequest("POST", "http://"+s.AdminAddr()+"/dashboard/services/"+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(c.token))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) {
			t.Errorf("%s: %d %s", c.path, resp.StatusCode, b)
		}
	}

	// After `teal token rotate` the old token opens nothing.
	rotated, err := s.RotateToken()
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]int{string(token): 401, rotated: 409} {
		req, _ := http.NewRequest("POST", "http://"+s.AdminAddr()+"/dashboard/services/web/promote", nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("after the rotation, token %.8s…: %d, want %d", tok, resp.StatusCode, want)
		}
	}
}

// The stream shows every environment's services with the load balancer's
// weights, and the rate of the requests sent through it.
func TestDashboardSnapshot(t *testing.T) {
	s := startServer(t, Config{Admin: "127.0.0.1:0"})
	lb := deployWeb(t, s, "")
	deployWeb(t, s, "qa")
	resp, err := http.Get("http://" + s.AdminAddr() + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	deadline := time.Now().Add(5 * time.Second)
	sent := false
	for sc.Scan() && time.Now().Before(deadline) {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if !sent { // after the first sample, so that they fall in the window
			for range 20 {
				r, err := http.Get("http://" + lb + "/")
				if err != nil {
					t.Fatal(err)
				}
				r.Body.Close()
			}
			sent = true
		}
		var snap dashboard.Snapshot
		if err := json.Unmarshal([]byte(data), &snap); err != nil {
			t.Fatal(err)
		}
		if len(snap.Services) != 2 || snap.Services[0].Env != "" || snap.Services[1].Env != "qa" {
			t.Fatalf("services: %+v", snap.Services)
		}
		live := snap.Services[0].Slots[0]
		if live.Role != dashboard.Live || live.Slot != spec.Blue || live.Weight != 100 || live.Revision != 1 ||
			len(live.Instances) != 1 || live.Instances[0].Health != "healthy" {
			t.Fatalf("live slot: %+v", live)
		}
		if d := snap.Services[0].Deployment; d == nil || d.Status != "succeeded" || len(d.Steps) == 0 {
			t.Fatalf("deployment: %+v", d)
		}
		envs := map[string]bool{}
		for _, ev := range snap.Events {
			envs[ev.Env] = true
		}
		if !envs[""] || !envs["qa"] {
			t.Fatalf("events of environments %v, want both", envs)
		}
		if live.RequestRate != nil && *live.RequestRate > 0 {
			if *live.ErrorRate != 0 {
				t.Errorf("error rate %v with no failed request", *live.ErrorRate)
			}
			if qa := snap.Services[1].Slots[0]; qa.RequestRate == nil || *qa.RequestRate != 0 {
				t.Errorf("qa's rate: %v, want 0: nothing was sent to it", qa.RequestRate)
			}
			return
		}
	}
	t.Fatalf("no snapshot showed the 20 requests: %v", sc.Err())
}

// What one look of the dashboard costs (it looks every 250 ms while a page
// is open): two environments, one service each, with their events.
func BenchmarkDashboardSnapshot(b *testing.B) {
	s, err := New(Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	deployWeb(b, s, "")
	deployWeb(b, s, "qa")
	b.ReportAllocs()
	for b.Loop() {
		snap, err := dashboardBackend{s}.Snapshot(30)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(snap); err != nil {
			b.Fatal(err)
		}
	}
}
