package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
)

func TestMain(m *testing.M) {
	runtimetest.MaybeRunApp()
	os.Exit(m.Run())
}

func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// The API socket is for its owner only.
func TestSocketMode(t *testing.T) {
	s := startServer(t, Config{DataDir: filepath.Join(t.TempDir(), "new")})
	st, err := os.Stat(s.socket)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket mode %v, want a socket with 0600", st.Mode())
	}
	if dir, _ := os.Stat(s.cfg.DataDir); dir.Mode().Perm() != 0o700 {
		t.Errorf("a data directory teal creates has mode %v, want 0700", dir.Mode())
	}
	if st, _ := os.Stat(filepath.Join(s.cfg.DataDir, StateFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", st.Mode())
	}
	// The token is made on the socket too, for the dashboard's actions;
	// the socket itself does not ask for it.
	if st, err := os.Stat(filepath.Join(s.cfg.DataDir, TokenFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, want mode 0600", err)
	}
	c, err := api.NewClient(s.APIAddr(), "", "test")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(context.Background()); err != nil || !strings.HasPrefix(v.Version, "teal ") {
		t.Errorf("version: %+v %v", v, err)
	}
}

func TestOneServerPerDataDir(t *testing.T) {
	s := startServer(t, Config{})
	_, err := New(Config{DataDir: s.cfg.DataDir})
	if err == nil || !strings.Contains(err.Error(), "another teal server is using "+s.cfg.DataDir) {
		t.Errorf("second server on the same data dir: %v", err)
	}
}

// Over TCP the API needs the token from the data directory.
func TestTCPNeedsToken(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	s := startServer(t, Config{API: "tcp://" + addr})
	token, err := os.ReadFile(filepath.Join(s.cfg.DataDir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(s.cfg.DataDir, TokenFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", st.Mode())
	}
	var ae *api.Error
	for _, tok := range []string{"", "wrong"} {
		c, _ := api.NewClient("http://"+addr, tok, "test")
		if _, err := c.Status(context.Background(), ""); !errors.As(err, &ae) || ae.Kind != api.KindUnauthorized {
			t.Errorf("token %q: %v, want unauthorized", tok, err)
		}
	}
	c, _ := api.NewClient("http://"+addr, strings.TrimSpace(string(token)), "test")
	if _, err := c.Status(context.Background(), ""); err != nil {
		t.Errorf("with the token: %v", err)
	}

	// Rotated: the old token stops working at once, the new one is in
	// the file, and the dashboard's actions want it too.
	rotated, err := c.RotateToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inFile, _ := os.ReadFile(filepath.Join(s.cfg.DataDir, TokenFile))
	if rotated.Token == strings.TrimSpace(string(token)) || strings.TrimSpace(string(inFile)) != rotated.Token || len(rotated.Token) != 64 {
		t.Errorf("rotated to %q; the file holds %q; the old was %q", rotated.Token, inFile, token)
	}
	if _, err := c.Status(context.Background(), ""); !errors.As(err, &ae) || ae.Kind != api.KindUnauthorized {
		t.Errorf("the old token after a rotation: %v, want unauthorized", err)
	}
	c, _ = api.NewClient("http://"+addr, rotated.Token, "test")
	if _, err := c.Status(context.Background(), ""); err != nil {
		t.Errorf("the new token: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(s.cfg.DataDir, TokenFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("rotated token file mode %v", st.Mode())
	}
}

func TestBadRequests(t *testing.T) {
	s := startServer(t, Config{})
	c, _ := api.NewClient(s.APIAddr(), "", "test")
	ctx := context.Background()
	var ae *api.Error

	bad := spec.Desired{Services: []spec.Service{{Name: "web"}}}
	if _, err := c.Plan(ctx, bad); !errors.As(err, &ae) || ae.Kind != api.KindInvalid || len(ae.Problems) == 0 {
		t.Errorf("plan of an invalid desired state: %v", err)
	}
	if _, err := c.History(ctx, "nope"); !errors.As(err, &ae) || ae.Kind != api.KindNotFound {
		t.Errorf("history of an unknown service: %v", err)
	}
	if _, err := c.Rollback(ctx, "nope", 0, nil); !errors.As(err, &ae) || ae.Kind != api.KindNotFound {
		t.Errorf("rollback of an unknown service: %v", err)
	}

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", s.socket)
	}}}
	for _, body := range []string{`{"desired": {"services": [}`, `{"desired": {}, "surprise": 1}`} {
		resp, err := hc.Post("http://teal/v1/plan", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"kind":"invalid"`) {
			t.Errorf("body %s: %d %s", body, resp.StatusCode, b)
		}
	}
	resp, err := hc.Get("http://teal/v1/events?after=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("events?after=x: %d", resp.StatusCode)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := writeFileAtomic(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	entries, _ := os.ReadDir(filepath.Dir(path))
	if string(b) != "two" || len(entries) != 1 {
		t.Errorf("content %q, %d files (temporary files left behind?)", b, len(entries))
	}
}

// The admin listener serves Prometheus metrics, the load balancer's and
// the Go runtime's.
func TestAdminMetrics(t *testing.T) {
	s := startServer(t, Config{Admin: "127.0.0.1:0"})
	resp, err := http.Get("http://" + s.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "go_goroutines") || !strings.Contains(string(b), "process_open_fds") {
		t.Errorf("/metrics: %d\n%.500s", resp.StatusCode, b)
	}
}

// A webhook hears of a deployment as it starts, switches and succeeds,
// in JSON that Slack accepts.
func TestWebhook(t *testing.T) {
	got := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		got <- m
	}))
	defer hook.Close()
	s := startServer(t, Config{Webhooks: []string{hook.URL}})
	self, _ := os.Executable()
	lb := spec.NewLoadBalancer("public")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	lb.Listen = ln.Addr().String()
	ln.Close()
	web := spec.NewService("web")
	web.Process = &spec.Process{Command: []string{self}, Dir: t.TempDir(), Env: map[string]string{"TEAL_TESTAPP": "1"}}
	web.HealthCheck.Interval = spec.Duration(50 * time.Millisecond)
	web.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	if _, res, err := s.Engine().Apply(spec.Desired{LoadBalancers: []spec.LoadBalancer{lb}, Services: []spec.Service{web}}, engine.ApplyOptions{}, nil); err != nil || res[1].Error != "" {
		t.Fatalf("apply: %v %+v", err, res)
	}
	var events []string
	for len(events) < 3 {
		select {
		case m := <-got:
			events = append(events, m["teal"].(map[string]any)["event"].(string))
			if text, _ := m["text"].(string); !strings.HasPrefix(text, "teal: service web: deployment 1") {
				t.Errorf("text = %q", text)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("webhook got only %v", events)
		}
	}
	if strings.Join(events, ",") != "started,switched,succeeded" {
		t.Errorf("webhook got %v", events)
	}
}

// A server does not start on a damaged state file: it names the file and
// the backup to go back to, and leaves both as they are.
func TestDamagedStateIsRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s.closeAll(context.Background())
	path := filepath.Join(dir, StateFile)
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "state file "+path+" is damaged") || !strings.Contains(err.Error(), "cp "+path+".backup "+path) {
		t.Fatalf("a server on a damaged state: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 4096 {
		t.Errorf("the damaged file was changed: %v %v", st, err)
	}
}

// The admin listener answers requests addressed to an address, localhost
// or a name it was given, and no other: a page elsewhere cannot read the
// dashboard through a name it points at 127.0.0.1.
func TestAdminChecksHost(t *testing.T) {
	s := startServer(t, Config{Admin: "127.0.0.1:0", AdminHosts: []string{"teal.internal"}})
	for host, want := range map[string]int{
		s.AdminAddr():            200,
		"localhost:7070":         200,
		"teal.internal":          200,
		"[::1]:7070":             200,
		"evil.example:7070":      421,
		"127.0.0.1.evil.example": 421,
	} {
		req, _ := http.NewRequest("GET", "http://"+s.AdminAddr()+"/metrics", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d %s, want %d", host, resp.StatusCode, b, want)
		}
		if want == 421 && !strings.Contains(string(b), "--admin-host") {
			t.Errorf("Host %s: the refusal does not say what to do: %s", host, b)
		}
	}
}
