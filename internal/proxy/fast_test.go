package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// fastLB is a load balancer whose service web has one healthy target,
// the server h.
func fastLB(t *testing.T, h http.Handler) (*Proxy, string) {
	t.Helper()
	p, url := lb(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", srv)})
	p.SetWeights("web", Weights{spec.Blue: 100})
	return p, url
}

// answerOnceServer is an instance that answers one request on each
// connection, keep-alive by default, and closes the connection linger
// later without saying so; it returns its address.
func answerOnceServer(t *testing.T, linger time.Duration) string {
	return tcptest.Serve(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			time.Sleep(linger)
		}
	})
}

// rawTarget makes the instance at addr, taken as healthy, the only
// target of service web.
func rawTarget(p *Proxy, addr string) *Target {
	tg := p.NewTarget(TargetOptions{ID: "b", Addr: addr, Service: "web", Slot: spec.Blue,
		Timeouts: spec.NewService("web").Timeouts, Consecutive5xx: 5})
	tg.Assume(Healthy)
	p.SetPool("web", spec.Blue, []*Target{tg})
	p.SetWeights("web", Weights{spec.Blue: 100})
	return tg
}

// rawExchange writes raw bytes to addr on one connection and reads back
// everything until the connection closes or goes quiet.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// Every kind of response framing goes through the fast path intact:
// chunked with trailers, bodiless answers, 1xx before the answer, and a
// body that ends when the instance closes.
func TestFastPathResponseFraming(t *testing.T) {
	_, url := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := range 3 {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/cached":
			w.WriteHeader(http.StatusNotModified)
		case "/hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			fmt.Fprint(w, "after hints")
		case "/close":
			c, brw, _ := http.NewResponseController(w).Hijack()
			brw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
			brw.Flush()
			c.Close()
		case "/hop":
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "secret")
			fmt.Fprint(w, "hop")
		default:
			w.Header().Set("Content-Length", "5")
			fmt.Fprint(w, "hello")
		}
	}))
	resp, err := http.Get(url + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "part 0;part 1;part 2;" || resp.Trailer.Get("X-Sum") != "3" || resp.ContentLength != -1 {
		t.Errorf("chunked: %q, trailer %q, length %d", b, resp.Trailer.Get("X-Sum"), resp.ContentLength)
	}

	resp, err = http.Head(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 5 {
		t.Errorf("HEAD: %d, length %d", resp.StatusCode, resp.ContentLength)
	}
	for path, want := range map[string]int{"/empty": 204, "/cached": 304} {
		if code, body := get(t, http.DefaultClient, url+path); code != want || body != "" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}

	var hints atomic.Int32
	req, _ := http.NewRequest("GET", url+"/hints", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == 103 && strings.Contains(h.Get("Link"), "preload") {
				hints.Add(1)
			}
			return nil
		},
	}))
	resp, b = send(t, req)
	if resp.StatusCode != 200 || string(b) != "after hints" || hints.Load() != 1 {
		t.Errorf("early hints: %d %q, %d hints seen", resp.StatusCode, b, hints.Load())
	}

	if code, body := get(t, http.DefaultClient, url+"/close"); code != 200 || body != "until the end" {
		t.Errorf("body until close: %d %q", code, body)
	}
	resp, err = http.Get(url + "/hop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Internal") != "" {
		t.Error("a header the instance named in Connection reached the client")
	}
}

// One keep-alive connection, requests pipelined in one write: plain ones
// on the fast path, then one the fast path hands to net/http (a header
// named in Connection), then plain ones again, now on net/http. Every one
// is answered, in order, and the instance never sees the hop-by-hop one.
func TestFastPathHandsOffMidConnection(t *testing.T) {
	var seen []string
	p, _ := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "teal-health-check" {
			seen = append(seen, r.URL.Path+"/"+r.Header.Get("X-Hop"))
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	raw := "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /2 HTTP/1.1\r\nHost: a\r\nConnection: X-Hop\r\nX-Hop: yes\r\n\r\n" +
		"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
	out := rawExchange(t, p.Addr("public"), raw)
	br := bufio.NewReader(strings.NewReader(out))
	for i := 1; i <= 4; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v\n%s", i, err, out)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != fmt.Sprintf("/%d", i) {
			t.Errorf("answer %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if strings.Join(seen, " ") != "/1/ /2/ /3/ /4/" {
		t.Errorf("the instance saw %v", seen)
	}
}

// A request body with a Content-Length streams to the instance as it is
// sent, and a large answer streams back.
func TestFastPathStreamsBodies(t *testing.T) {
	const size = 8 << 20
	started := make(chan struct{})
	_, url := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		n, signalled := 0, false
		for {
			k, err := r.Body.Read(buf)
			n += k
			if n > 0 && !signalled {
				close(started)
				signalled = true
			}
			if err != nil {
				break
			}
		}
		w.Write(make([]byte, n))
	}))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, 1<<20))
		select {
		case <-started: // the instance has the start before the rest is sent
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the upload did not stream"))
			return
		}
		pw.Write(make([]byte, size-1<<20))
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", url+"/", pr)
	req.ContentLength = size
	resp, b := send(t, req)
	if resp.StatusCode != 200 || len(b) != size {
		t.Errorf("upload of %d bytes: %d, %d bytes back", size, resp.StatusCode, len(b))
	}
}

// An instance that closes kept-alive connections without saying so costs
// no failed request: a request that can be sent again goes on a new
// connection.
func TestFastPathStaleUpstreamConnection(t *testing.T) {
	addr := answerOnceServer(t, 20*time.Millisecond)
	p, url := lb(t)
	tg := rawTarget(p, addr)
	for i := range 5 {
		if code, body := get(t, http.DefaultClient, url+"/"); code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		time.Sleep(50 * time.Millisecond) // the instance has closed the connection by now
	}
	if tg.Health() != Healthy {
		t.Errorf("stale connections took the instance out: %s", tg.LastResult())
	}
}

// Requests whose framing is ambiguous never take the fast path:
// net/http answers them as it would without it.
func TestFastPathLeavesAmbiguousFramingToNetHTTP(t *testing.T) {
	var reached atomic.Int32
	p, _ := fastLB(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "teal-health-check" {
			reached.Add(1)
		}
	}))
	for _, raw := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
	} {
		out := rawExchange(t, p.Addr("public"), raw)
		if !strings.HasPrefix(out, "HTTP/1.1 400") && !strings.HasPrefix(out, "HTTP/1.1 501") {
			t.Errorf("%q: answered %q, want net/http's 400 or 501", raw, firstLine(out))
		}
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d ambiguous requests reached the instance", n)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// A stream relayed by the fast path ends when its instance's connections
// are closed, as a drain that runs out of time closes them.
func TestFastPathStreamEndsWhenConnectionsClose(t *testing.T) {
	p, url := lb(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			return // the health check
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			if _, err := fmt.Fprint(w, "data: tick\n\n"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(srv.Close)
	tg := healthyTarget(t, p, "b", srv)
	p.SetPool("web", spec.Blue, []*Target{tg})
	p.SetWeights("web", Weights{spec.Blue: 100})
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: tick\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	if n := tg.CloseConnections(); n == 0 {
		t.Fatal("no connection to the instance was open")
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, br)
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream went on after its connections were closed")
	}
}

// A connection that sends half a head is closed after read_header; one
// left idle after a request, after idle.
func TestFastPathTimeouts(t *testing.T) {
	p, _ := lbWith(t, Options{}, func(lb *spec.LoadBalancer) {
		lb.Timeouts.ReadHeader = spec.Duration(200 * time.Millisecond)
		lb.Timeouts.Idle = spec.Duration(300 * time.Millisecond)
	})
	srv := backendServer(t, "blue")
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", srv)})
	p.SetWeights("web", Weights{spec.Blue: 100})
	for _, tc := range []struct {
		name, send string
		within     time.Duration
	}{
		{"half a head", "GET / HTTP/1.1\r\nHost: a\r\n", time.Second},
		{"idle after a request", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 2 * time.Second},
	} {
		c, err := net.Dial("tcp", p.Addr("public"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		io.WriteString(c, tc.send)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.Copy(io.Discard, c) // returns when teal closes the connection
		if took := time.Since(start); err != nil || took > tc.within {
			t.Errorf("%s: closed after %s (%v), want within %s", tc.name, took, err, tc.within)
		}
		c.Close()
	}
}

// What a goroutine that takes over an exchange from a loop waits for the
// answer: what is left of response_header, or no limit when there is none.
func TestResponseHeaderLeft(t *testing.T) {
	now := time.Now()
	none, second := &upstream{}, &upstream{responseHeader: time.Second}
	if got := none.responseHeaderLeft(now.Add(-time.Hour)); got != 0 {
		t.Errorf("no response_header: %s, want 0 (no limit)", got)
	}
	if got := second.responseHeaderLeft(now.Add(-2 * time.Second)); got != time.Nanosecond {
		t.Errorf("response_header past: %s, want 1ns", got)
	}
	if got := second.responseHeaderLeft(now.Add(-300 * time.Millisecond)); got > 700*time.Millisecond || got < 600*time.Millisecond {
		t.Errorf("300 ms into a second: %s left", got)
	}
}
