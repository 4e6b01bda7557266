package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/teal-deploy/teal/internal/spec"
)

// loopCounts are what load balancer public's event loops have done, as
// its metrics say.
func loopCounts(p *Proxy) (answered, handedOff uint64) {
	return uint64(metricValue(p, "teal_event_loop_answers_total")), uint64(metricValue(p, "teal_event_loop_handovers_total"))
}

func metricValue(p *Proxy, name string) float64 {
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "load_balancer" && l.GetValue() == "public" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	panic("no " + name + " for load balancer public")
}

// rawGet sends one GET on a new connection, as wrk with "Connection:
// close" does, and returns the whole answer.
func rawGet(t *testing.T, addr, path string) string {
	t.Helper()
	got, err := tryRawGet(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// tryRawGet is rawGet for goroutines other than the test's.
func tryRawGet(addr, path string) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n", path)
	b, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("GET %s: %v after %q", path, err, b)
	}
	return string(b), nil
}

// Plain requests, on a new connection each and on kept-alive ones, are
// answered by the event loop itself, with what the fast path adds to
// requests and answers, and nothing is handed to a goroutine.
func TestEventLoopAnswersPlainRequests(t *testing.T) {
	p, url := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s for %s via %s", r.URL.Path, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Host"))
	}))
	addr := strings.TrimPrefix(url, "http://")
	a0, h0 := loopCounts(p)
	for i := range 100 {
		got := rawGet(t, addr, fmt.Sprintf("/new/%d", i))
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.Contains(got, "\r\nConnection: close\r\n") ||
			!strings.Contains(got, "\r\nX-Request-Id: ") || !strings.HasSuffix(got, fmt.Sprintf("/new/%d for 127.0.0.1 via example.test", i)) {
			t.Fatalf("request %d on a new connection: %q", i, got)
		}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	for i := range 100 {
		if code, body := get(t, client, fmt.Sprintf("%s/kept/%d", url, i)); code != 200 || !strings.HasPrefix(body, fmt.Sprintf("/kept/%d for 127.0.0.1", i)) {
			t.Fatalf("request %d on a kept-alive connection: %d %q", i, code, body)
		}
	}
	a1, h1 := loopCounts(p)
	if a1-a0 != 200 || h1 != h0 {
		t.Errorf("the event loop answered %d of 200 requests and handed %d connections over", a1-a0, h1-h0)
	}
}

// What the loop does not finish itself goes to a goroutine with the
// connection, and is answered as the fast path answers it: a body to
// send, an answer that streams, one larger than the loop's buffer, a
// client that does not read.
func TestEventLoopHandsOverWhatItDoesNotFinish(t *testing.T) {
	big, mid := strings.Repeat("x", 256<<10), strings.Repeat("m", 15<<10)
	const medium = "GET /medium HTTP/1.1\r\nHost: x\r\n\r\n"
	p, url := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			io.Copy(w, r.Body)
		case "/stream":
			for i := range 3 {
				fmt.Fprintf(w, "%d;", i)
				w.(http.Flusher).Flush()
			}
		case "/medium":
			w.Header().Set("Content-Length", fmt.Sprint(len(mid)))
			io.WriteString(w, mid)
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		}
	}))
	addr := strings.TrimPrefix(url, "http://")
	check := func(name string, do func() (string, string)) {
		t.Helper()
		_, h0 := loopCounts(p)
		if got, want := do(); got != want {
			t.Errorf("%s: got %.80q, want %.80q", name, got, want)
		}
		if _, h1 := loopCounts(p); h1 == h0 {
			t.Errorf("%s: the loop handed nothing over", name)
		}
	}
	check("a body", func() (string, string) {
		resp, err := http.Post(url+"/echo", "text/plain", strings.NewReader("sent"))
		if err != nil {
			return err.Error(), "sent"
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), "sent"
	})
	for path, want := range map[string]string{"/stream": "0;1;2;", "/big": big} {
		check(path, func() (string, string) {
			got := rawGet(t, addr, path)
			_, body, _ := strings.Cut(got, "\r\n\r\n")
			if path == "/stream" { // chunked, as the instance sent it
				body = strings.ReplaceAll(strings.ReplaceAll(body, "2\r\n", ""), "\r\n", "")
				body = strings.TrimSuffix(body, "0")
			}
			return body, want
		})
	}
	check("a client that reads late", func() (string, string) {
		// Answers the loop relays itself, to a client with a small
		// receive buffer that reads only once they are all sent: the
		// socket takes part of them, a goroutine writes the rest.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
		}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// More than the largest send buffer (tcp_wmem) takes.
		const n = 400
		go fmt.Fprintf(c, "%sGET /medium HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", strings.Repeat(medium, n-1))
		time.Sleep(100 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			return err.Error(), ""
		}
		return fmt.Sprint(strings.Count(string(b), "\r\n\r\n"+mid)), fmt.Sprint(n)
	})
}

// A loop waits for a slow instance as long as response_header allows,
// and past it hands the exchange to a goroutine, which answers 504 at
// once rather than wait response_header again.
func TestEventLoopWaitsForSlowInstances(t *testing.T) {
	p, url := lb(t)
	tg := healthyTarget(t, p, "b", backendServer(t, "b"))
	tg.Update(spec.UpstreamTimeouts{Connect: spec.Duration(time.Second), ResponseHeader: spec.Duration(time.Second)}, 0)
	p.SetPool("web", spec.Blue, []*Target{tg})
	p.SetWeights("web", Weights{spec.Blue: 100})
	addr := strings.TrimPrefix(url, "http://")

	a0, h0 := loopCounts(p)
	if got := rawGet(t, addr, "/?sleep=150ms"); !strings.HasPrefix(got, "HTTP/1.1 200 OK") {
		t.Errorf("an answer within response_header: %q", got)
	}
	if a1, h1 := loopCounts(p); a1 != a0+1 || h1 != h0 {
		t.Errorf("an answer within response_header: the loop answered %d and handed over %d", a1-a0, h1-h0)
	}
	start := time.Now()
	// Waiting response_header again would answer 504 after 2 s; a
	// second and a half leaves a slow machine half a second.
	got := rawGet(t, addr, "/?sleep=2500ms")
	if took := time.Since(start); !strings.HasPrefix(got, "HTTP/1.1 504 ") || took > 1500*time.Millisecond {
		t.Errorf("an instance slower than response_header: %q after %s", got, took)
	}
	if _, h2 := loopCounts(p); h2 != h0+1 {
		t.Errorf("an instance slower than response_header: %d hand-overs, want 1", h2-h0)
	}
}

// A shutdown while the loop waits for an instance's answer lets the
// answer through: the loop hands the exchange to a goroutine, which the
// shutdown waits for.
func TestEventLoopShutdownFinishesExchanges(t *testing.T) {
	arrived := make(chan struct{}, 8)
	p, url := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		time.Sleep(10 * time.Millisecond)
		fmt.Fprint(w, "done")
	}))
	addr := strings.TrimPrefix(url, "http://")
	var wg sync.WaitGroup
	answers := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			got, err := tryRawGet(addr, "/")
			if err != nil {
				got = err.Error()
			}
			answers <- got
		})
	}
	for range 4 {
		<-arrived
	}
	p.Shutdown(context.Background())
	wg.Wait()
	close(answers)
	for got := range answers {
		if !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.HasSuffix(got, "done") {
			t.Errorf("an exchange in flight at shutdown: %q", got)
		}
	}
}

// A connection to an instance that the instance closes while idle in a
// loop's pool is noticed and not used: the next requests are answered.
func TestEventLoopDropsClosedIdleConnections(t *testing.T) {
	instance := answerOnceServer(t, 0)
	p, url := lb(t)
	tg := rawTarget(p, instance)
	addr := strings.TrimPrefix(url, "http://")
	_, h0 := loopCounts(p)
	for i := range 50 {
		if got := rawGet(t, addr, "/"); !strings.HasSuffix(got, "\r\n\r\nok") {
			t.Fatalf("request %d: %q", i, got)
		}
	}
	// A closed connection taken from the pool would cost a hand-over
	// (the request is sent again by a goroutine): the loop saw them go.
	if _, h1 := loopCounts(p); h1-h0 > 5 {
		t.Errorf("%d of 50 requests found a closed connection and were handed over", h1-h0)
	}
	if tg.Health() != Healthy {
		t.Errorf("closed idle connections took the instance out: %s", tg.LastResult())
	}
}

// An instance addressed by name, which a loop does not resolve, is
// reached through a goroutine, which dials it as the fast path does.
func TestEventLoopHandsOverInstancesByName(t *testing.T) {
	srv := backendServer(t, "named")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	p, url := lb(t)
	rawTarget(p, net.JoinHostPort("localhost", port))
	_, h0 := loopCounts(p)
	if got := rawGet(t, strings.TrimPrefix(url, "http://"), "/"); !strings.HasPrefix(got, "HTTP/1.1 200 OK") || !strings.Contains(got, "named") {
		t.Errorf("an instance addressed by name: %q", got)
	}
	if _, h1 := loopCounts(p); h1 != h0+1 {
		t.Errorf("%d hand-overs, want 1", h1-h0)
	}
}
