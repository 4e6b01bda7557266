package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/syncbuf"
)

// headerEcho answers with the request headers the instance received.
func headerEcho(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(s.Close)
	return s
}

// lbWith starts a proxy whose load balancer "public" is changed by f.
func lbWith(t *testing.T, o Options, f func(*spec.LoadBalancer)) (*Proxy, string) {
	t.Helper()
	if o.Log == nil {
		o.Log = discard()
	}
	p := New(o)
	lb := testLB("public")
	f(&lb)
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
	return p, "http://" + p.Addr("public")
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestForwardingHeaders(t *testing.T) {
	for _, tt := range []struct {
		name             string
		trusted          []string
		wantXFF, wantFwd string
		wantProto        string
	}{
		{"untrusted peer: what it claims is dropped", nil, "127.0.0.1", "for=127.0.0.1;host=shop.test;proto=http", "http"},
		{"trusted proxy: the chain is kept and extended", []string{"127.0.0.0/8"}, "203.0.113.7, 127.0.0.1",
			"for=203.0.113.7;proto=https, for=127.0.0.1;host=shop.test;proto=https", "https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, url := lbWith(t, Options{}, func(lb *spec.LoadBalancer) { lb.TrustedProxies = tt.trusted })
			p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", headerEcho(t))})
			p.SetWeights("web", Weights{spec.Blue: 100})
			req, _ := http.NewRequest("GET", url+"/", nil)
			req.Host = "shop.test"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("Forwarded", "for=203.0.113.7;proto=https")
			req.Header.Set("Connection", "X-Secret")
			req.Header.Set("X-Secret", "hop-by-hop: must not reach the instance")
			resp, b := send(t, req)
			var got http.Header
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Get("X-Forwarded-For") != tt.wantXFF || got.Get("Forwarded") != tt.wantFwd || got.Get("X-Forwarded-Proto") != tt.wantProto {
				t.Errorf("instance got X-Forwarded-For %q, Forwarded %q, X-Forwarded-Proto %q; want %q, %q, %q",
					got.Get("X-Forwarded-For"), got.Get("Forwarded"), got.Get("X-Forwarded-Proto"), tt.wantXFF, tt.wantFwd, tt.wantProto)
			}
			if got.Get("X-Forwarded-Host") != "shop.test" {
				t.Errorf("X-Forwarded-Host = %q", got.Get("X-Forwarded-Host"))
			}
			if got.Get("X-Secret") != "" {
				t.Error("a header named in Connection reached the instance")
			}
			id := resp.Header.Get(RequestIDHeader)
			if len(id) != 32 || got.Get(RequestIDHeader) != id {
				t.Errorf("request ID %q to the client, %q to the instance; want the same generated ID", id, got.Get(RequestIDHeader))
			}
		})
	}
	p, url := lbWith(t, Options{}, func(*spec.LoadBalancer) {})
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", headerEcho(t))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	req, _ := http.NewRequest("GET", url+"/", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	if resp, b := send(t, req); resp.Header.Get(RequestIDHeader) != "abc-123" || !strings.Contains(string(b), `"X-Request-Id":["abc-123"]`) {
		t.Errorf("a given request ID was not passed on: %q, %s", resp.Header.Get(RequestIDHeader), b)
	}
}

func TestClientFrom(t *testing.T) {
	trusted := trustedPrefixes([]string{"10.0.0.0/8", "127.0.0.1"})
	for _, tt := range []struct {
		xff  []string
		want string
	}{
		{nil, "127.0.0.1"},
		{[]string{"203.0.113.7"}, "203.0.113.7"},
		{[]string{"203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{[]string{"6.6.6.6, 203.0.113.7", "10.1.2.3"}, "203.0.113.7"}, // a client's own claim (6.6.6.6) is not believed
		{[]string{"bogus, 10.1.2.3"}, "10.1.2.3"},
	} {
		if got := clientFrom(tt.xff, trusted, "127.0.0.1"); got != tt.want {
			t.Errorf("clientFrom(%q) = %q, want %q", tt.xff, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	reached := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/upload" {
			mu.Lock()
			reached++
			mu.Unlock()
		}
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(srv.Close)
	p, url := lbWith(t, Options{}, func(lb *spec.LoadBalancer) {
		lb.Limits.RequestBody = 1 << 20
		lb.Limits.Header = 4 << 10
	})
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", srv)})
	p.SetWeights("web", Weights{spec.Blue: 100})

	req, _ := http.NewRequest("POST", url+"/upload", bytes.NewReader(make([]byte, 2<<20)))
	if resp, _ := send(t, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a body with a Content-Length over the limit: %d, want 413", resp.StatusCode)
	}
	mu.Lock()
	if reached != 0 {
		t.Errorf("a body over the limit by Content-Length reached the instance")
	}
	mu.Unlock()
	// Chunked: the limit is found while streaming.
	req, _ = http.NewRequest("POST", url+"/upload", io.MultiReader(bytes.NewReader(make([]byte, 2<<20))))
	req.ContentLength = -1
	if resp, _ := send(t, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked body over the limit: %d, want 413", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", url+"/upload", bytes.NewReader(make([]byte, 1<<20)))
	if resp, _ := send(t, req); resp.StatusCode != http.StatusOK {
		t.Errorf("a body at the limit: %d, want 200", resp.StatusCode)
	}
	req, _ = http.NewRequest("GET", url+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 16<<10)) // net/http allows 4KiB of slack over the limit
	if resp, _ := send(t, req); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("headers over the limit: %d, want 431", resp.StatusCode)
	}
}

// A refused connection takes the instance out at once, and the request,
// which sent nothing, is answered by another: a crashed instance costs no
// failed request. A request that is not idempotent is not tried again.
func TestRetryOnRefusedConnection(t *testing.T) {
	var passive []string
	var mu sync.Mutex
	p, url := lbWith(t, Options{OnPassive: func(t *Target, reason string) {
		mu.Lock()
		passive = append(passive, t.ID)
		mu.Unlock()
	}}, func(*spec.LoadBalancer) {})
	gone := backendServer(t, "gone")
	dead := target(p, "dead", gone, spec.Blue)
	dead.Assume(Healthy) // it crashed after its last check
	gone.Close()
	alive := healthyTarget(t, p, "alive", backendServer(t, "alive"))
	p.SetPool("web", spec.Blue, []*Target{dead, alive})
	p.SetWeights("web", Weights{spec.Blue: 100})
	for range 10 {
		if code, body := get(t, http.DefaultClient, url+"/"); code != 200 || !strings.HasPrefix(body, "alive") {
			t.Fatalf("GET with a dead instance in the pool: %d %q", code, body)
		}
	}
	if dead.Health() != Unhealthy || len(passive) != 1 || passive[0] != "dead" {
		t.Errorf("dead instance is %s, passive reports %v", dead.Health(), passive)
	}
	if s := dead.Stats(); s.Codes[0] != 1 {
		t.Errorf("the failed attempt was counted as %+v, want one upstream failure", s.Codes)
	}

	dead.Assume(Healthy)
	p.SetPool("web", spec.Blue, []*Target{dead})
	req, _ := http.NewRequest("POST", url+"/", strings.NewReader("order=1"))
	if resp, _ := send(t, req); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("POST to a dead instance: %d, want 502 (never retried)", resp.StatusCode)
	}
}

// A run of 5xx answers takes an instance out; the active check brings it
// back once it passes again.
func TestPassiveHealthFor5xx(t *testing.T) {
	p, url := lb(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" { // its health check (GET /) passes
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(failing.Close)
	tg := healthyTarget(t, p, "b", failing)
	tg.Update(spec.NewService("web").Timeouts, 3)
	p.SetPool("web", spec.Blue, []*Target{tg})
	p.SetWeights("web", Weights{spec.Blue: 100})
	for i := range 3 {
		if code, _ := get(t, http.DefaultClient, url+"/fail"); code != 500 {
			t.Fatalf("request %d: %d, want the instance's 500 passed on", i, code)
		}
	}
	if tg.Health() != Unhealthy || !strings.Contains(tg.LastResult(), "passive health") {
		t.Fatalf("after 3 answers of 500: %s (%s)", tg.Health(), tg.LastResult())
	}
	if code, _ := get(t, http.DefaultClient, url+"/fail"); code != http.StatusServiceUnavailable {
		t.Errorf("with the only instance out: %d, want 503", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for tg.Health() != Healthy {
		if time.Now().After(deadline) {
			t.Fatal("the active check never brought the instance back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPreview(t *testing.T) {
	p, url := lb(t)
	svc := service("web", spec.Route{LoadBalancer: "public", Path: "/*"})
	svc.Preview = &spec.Preview{Header: "X-Teal-Slot", Cookie: "teal_preview", Listen: "127.0.0.1:" + freePort(t)}
	if err := p.SetService(svc); err != nil {
		t.Fatal(err)
	}
	blue := healthyTarget(t, p, "blue-1", backendServer(t, "blue"))
	green := healthyTarget(t, p, "green-1", backendServer(t, "green"))
	p.SetPool("web", spec.Blue, []*Target{blue})
	p.SetPool("web", spec.Green, []*Target{green})
	p.SetWeights("web", Weights{spec.Blue: 100})
	p.SetCandidate("web", spec.Green)
	previewURL := "http://" + p.PreviewAddr("web")

	ask := func(base string, f func(*http.Request)) string {
		req, _ := http.NewRequest("GET", base+"/", nil)
		f(req)
		_, b := send(t, req)
		return strings.Fields(string(b))[0]
	}
	none := func(*http.Request) {}
	header := func(r *http.Request) { r.Header.Set("X-Teal-Slot", "candidate") }
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "teal_preview", Value: "candidate"}) }
	for _, tt := range []struct {
		name, base string
		f          func(*http.Request)
		want       string
	}{
		{"plain", url, none, "blue"},
		{"header", url, header, "green"},
		{"cookie", url, cookie, "green"},
		{"preview listener", previewURL, none, "green"},
	} {
		if got := ask(tt.base, tt.f); got != tt.want {
			t.Errorf("%s: went to %s, want %s", tt.name, got, tt.want)
		}
	}
	p.SetCandidate("web", "")
	if got := ask(url, header); got != "blue" {
		t.Errorf("preview with no candidate went to %s, want the live slot", got)
	}
	if got := ask(previewURL, none); got != "blue" {
		t.Errorf("the preview listener with no candidate went to %s, want the live slot", got)
	}
}

func TestSticky(t *testing.T) {
	p, url := lb(t)
	svc := service("web", spec.Route{LoadBalancer: "public", Path: "/*"})
	svc.Sticky = spec.NewSticky("web")
	p.SetService(svc)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "blue-1", backendServer(t, "blue"))})
	p.SetPool("web", spec.Green, []*Target{healthyTarget(t, p, "green-1", backendServer(t, "green"))})
	p.SetWeights("web", Weights{spec.Blue: 50, spec.Green: 50})
	for client := range 6 {
		req, _ := http.NewRequest("GET", url+"/", nil)
		resp, b := send(t, req)
		first := strings.Fields(string(b))[0]
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "teal_web" {
				ck = c
			}
		}
		if ck == nil || ck.Value != first || !ck.HttpOnly {
			t.Fatalf("client %d: first answer from %s with cookie %v", client, first, ck)
		}
		for range 10 {
			req, _ := http.NewRequest("GET", url+"/", nil)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			resp, b := send(t, req)
			if got := strings.Fields(string(b))[0]; got != first {
				t.Fatalf("client %d with cookie %s went to %s", client, ck.Value, got)
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("a client on its slot was sent a cookie again")
			}
		}
	}
}

func TestPauseAndMaintenance(t *testing.T) {
	p, url := lb(t)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})

	p.Pause("web", 10*time.Second)
	done := make(chan int)
	go func() {
		code, _ := get(t, http.DefaultClient, url+"/")
		done <- code
	}()
	select {
	case code := <-done:
		t.Fatalf("a paused service answered %d at once", code)
	case <-time.After(200 * time.Millisecond):
	}
	p.Resume("web")
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("a held request after resume: %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("resume did not release the held request")
	}

	p.Pause("web", 50*time.Millisecond)
	if code, body := get(t, http.DefaultClient, url+"/"); code != 503 || !strings.Contains(body, "paused") {
		t.Errorf("held past max_pause: %d %q", code, body)
	}
	p.Maintenance("web", "Back at <noon>.")
	req, _ := http.NewRequest("GET", url+"/", nil)
	resp, b := send(t, req)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "Back at &lt;noon&gt;.") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("maintenance: %d %q", resp.StatusCode, b)
	}
	if m := p.Mode("web"); !m.Maintenance || m.Message != "Back at <noon>." {
		t.Errorf("Mode = %+v", m)
	}
	p.Resume("web")
	if code, _ := get(t, http.DefaultClient, url+"/"); code != 200 {
		t.Errorf("after resume: %d", code)
	}
}

func TestMetricsAndAccessLog(t *testing.T) {
	var logBuf syncbuf.Buffer
	p, url := lbWith(t, Options{AccessLog: &logBuf}, func(lb *spec.LoadBalancer) { lb.AccessLog = true })
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "blue-1", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	for range 7 {
		get(t, http.DefaultClient, url+"/")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	want := `
# HELP teal_requests_total Requests forwarded to an instance, by the class of the answer; code="error" when the instance gave none.
# TYPE teal_requests_total counter
teal_requests_total{code="1xx",instance="blue-1",service="web",slot="blue"} 0
teal_requests_total{code="2xx",instance="blue-1",service="web",slot="blue"} 7
teal_requests_total{code="3xx",instance="blue-1",service="web",slot="blue"} 0
teal_requests_total{code="4xx",instance="blue-1",service="web",slot="blue"} 0
teal_requests_total{code="5xx",instance="blue-1",service="web",slot="blue"} 0
teal_requests_total{code="error",instance="blue-1",service="web",slot="blue"} 0
# HELP teal_instance_healthy 1 when the instance may take traffic, 0 when it may not.
# TYPE teal_instance_healthy gauge
teal_instance_healthy{instance="blue-1",service="web",slot="blue"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "teal_requests_total", "teal_instance_healthy"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(p.Collector(), "teal_request_duration_seconds"); n != 1 {
		t.Errorf("%d latency histograms, want 1", n)
	}
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 7 {
		t.Fatalf("%d access log lines, want 7:\n%s", len(lines), logBuf.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"status": 200.0, "service": "web", "slot": "blue", "instance": "blue-1", "method": "GET", "path": "/", "load_balancer": "public"} {
		if entry[k] != v {
			t.Errorf("access log %s = %v, want %v (%s)", k, entry[k], v, lines[0])
		}
	}
	if id, _ := entry["request_id"].(string); len(id) != 32 {
		t.Errorf("access log request_id = %v", entry["request_id"])
	}
}

// Changing a load balancer's settings starts a new generation on the same
// socket: under load, with a new connection for every request, not one
// connection is refused and not one request fails.
func TestSettingsChangeRefusesNothing(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	p, url := lbWith(t, Options{}, func(lb *spec.LoadBalancer) { lb.Listen = addr })
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	ok := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url + "/")
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					if resp.StatusCode != 200 {
						failures = append(failures, resp.Status)
					} else {
						ok++
					}
					resp.Body.Close()
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 20 {
		lb := testLB("public")
		lb.Listen = addr // the same socket
		lb.Timeouts.Idle = spec.Duration(time.Duration(30+i) * time.Second)
		if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(failures) > 0 || ok < 100 {
		t.Errorf("%d requests answered, %d failed: %v", ok, len(failures), failures[:min(5, len(failures))])
	}
	t.Logf("%d requests, 20 changes of settings, %d failures", ok, len(failures))
}
