package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/tcptest"
)

func freePort(t *testing.T) string {
	_, port, _ := net.SplitHostPort(tcptest.FreeAddr(t))
	return port
}

// wsBackend echoes WebSocket messages, prefixed with its name; it is also
// healthy on every other path.
func wsBackend(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			fmt.Fprint(w, name)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(name+": "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func echo(t *testing.T, c *websocket.Conn, msg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return "", err
	}
	_, b, err := c.Read(ctx)
	return string(b), err
}

// A WebSocket keeps its instance across a switch; new ones go to the new
// slot; when the drain runs out of time, closing the old instance's
// connections ends the WebSocket, as the engine does at drain_timeout.
func TestWebSocketAcrossASwitch(t *testing.T) {
	p, url := lb(t)
	blue := healthyTarget(t, p, "blue-1", wsBackend(t, "blue"))
	green := healthyTarget(t, p, "green-1", wsBackend(t, "green"))
	p.SetPool("web", spec.Blue, []*Target{blue})
	p.SetPool("web", spec.Green, []*Target{green})
	p.SetWeights("web", Weights{spec.Blue: 100})
	wsURL := "ws" + strings.TrimPrefix(url, "http") + "/ws"

	old, _, err := websocket.Dial(context.Background(), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.CloseNow()
	if got, err := echo(t, old, "hi"); err != nil || got != "blue: hi" {
		t.Fatalf("before the switch: %q %v", got, err)
	}
	p.SetWeights("web", Weights{spec.Green: 100})
	if got, err := echo(t, old, "still there?"); err != nil || got != "blue: still there?" {
		t.Errorf("the open WebSocket after the switch: %q %v", got, err)
	}
	fresh, _, err := websocket.Dial(context.Background(), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.CloseNow()
	if got, err := echo(t, fresh, "hello"); err != nil || got != "green: hello" {
		t.Errorf("a new WebSocket after the switch: %q %v", got, err)
	}

	if blue.Drain(context.Background(), 100*time.Millisecond) {
		t.Fatal("the drain saw no WebSocket in flight")
	}
	if n := blue.CloseConnections(); n < 1 {
		t.Errorf("closed %d connections, want the WebSocket's", n)
	}
	if _, err := echo(t, old, "gone?"); err == nil {
		t.Error("the WebSocket to the drained instance is still open")
	}
	if got, err := echo(t, fresh, "fine"); err != nil || got != "green: fine" {
		t.Errorf("the WebSocket to the live instance: %q %v", got, err)
	}
}

// Server-sent events pass through as they are written, not when the
// stream ends.
func TestServerSentEventsAreNotBuffered(t *testing.T) {
	p, url := lb(t)
	next := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/events" {
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next: // the client must have read this event before the next is written
			case <-time.After(5 * time.Second):
				return
			}
		}
	}))
	t.Cleanup(sse.Close)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", sse)})
	p.SetWeights("web", Weights{spec.Blue: 100})
	resp, err := http.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		rd.ReadString('\n')
		next <- struct{}{}
	}
}

// Large bodies stream both ways: the instance gets the start of an upload
// before the client has sent the rest, and the client gets the start of a
// download before the instance has written the rest. A proxy that held
// whole bodies would deadlock here.
func TestBodiesStream(t *testing.T) {
	p, url := lb(t)
	const chunk = 1 << 20
	gotStart := make(chan struct{})
	sentStart := make(chan struct{})
	var uploaded atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upload":
			buf := make([]byte, 64<<10)
			signalled := false
			for {
				n, err := r.Body.Read(buf)
				if uploaded.Add(int64(n)) >= chunk && !signalled {
					close(gotStart)
					signalled = true
				}
				if err != nil {
					break
				}
			}
			fmt.Fprint(w, uploaded.Load())
		case "/download":
			w.Write(make([]byte, chunk))
			w.(http.Flusher).Flush()
			select {
			case <-sentStart:
			case <-time.After(10 * time.Second):
				return
			}
			for range 31 {
				w.Write(make([]byte, chunk))
			}
		}
	}))
	t.Cleanup(srv.Close)
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", srv)})
	p.SetWeights("web", Weights{spec.Blue: 100})

	pr, pw := io.Pipe()
	go func() {
		pw.Write(make([]byte, chunk))
		select {
		case <-gotStart:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(fmt.Errorf("the instance never saw the start of the upload"))
			return
		}
		for range 31 {
			pw.Write(make([]byte, chunk))
		}
		pw.Close()
	}()
	resp, err := http.Post(url+"/upload", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprint(32*chunk) {
		t.Errorf("uploaded %s bytes, want %d", b, 32*chunk)
	}

	resp, err = http.Get(url + "/download")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	close(sentStart)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 31*chunk {
		t.Errorf("downloaded %d more bytes (%v), want %d", n, err, 31*chunk)
	}
}

// h2c: HTTP/2 without TLS, by prior knowledge, when the load balancer
// allows it.
func TestH2C(t *testing.T) {
	p := New(Options{Log: discard()})
	lb := testLB("public")
	lb.H2C = true
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	resp, err := c.Get("http://" + p.Addr("public") + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || !strings.HasPrefix(string(b), "blue") {
		t.Errorf("h2c: %s %q", resp.Proto, b)
	}
}

// Across a switch, an HTTP/2 connection's next request goes to the new
// slot, while a server-sent event stream opened before it keeps flowing
// from the old one.
func TestHTTP2AndSSEAcrossASwitch(t *testing.T) {
	p := New(Options{Log: discard()})
	lb := testLB("public")
	lb.H2C = true
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
	tick := make(chan struct{})
	stream := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/events" {
				fmt.Fprint(w, name)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 4 {
				fmt.Fprintf(w, "data: %s %d\n\n", name, i)
				w.(http.Flusher).Flush()
				select {
				case <-tick:
				case <-r.Context().Done():
					return
				}
			}
		}))
		t.Cleanup(s.Close)
		return s
	}
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "blue-1", stream("blue"))})
	p.SetPool("web", spec.Green, []*Target{healthyTarget(t, p, "green-1", stream("green"))})
	p.SetWeights("web", Weights{spec.Blue: 100})

	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	conns := 0
	c := &http.Client{Transport: &http.Transport{Protocols: &protos, DialContext: func(ctx context.Context, n, a string) (net.Conn, error) {
		conns++
		return (&net.Dialer{}).DialContext(ctx, n, a)
	}}}
	url := "http://" + p.Addr("public")
	resp, err := c.Get(url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	readEvent := func() string {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		events.ReadString('\n')
		return strings.TrimSpace(strings.TrimPrefix(line, "data: "))
	}
	if e := readEvent(); e != "blue 0" {
		t.Fatalf("first event %q", e)
	}
	body := func() string {
		r, err := c.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if r.Proto != "HTTP/2.0" {
			t.Errorf("proto %s", r.Proto)
		}
		return string(b)
	}
	if got := body(); got != "blue" {
		t.Fatalf("before the switch: %q", got)
	}
	p.SetWeights("web", Weights{spec.Green: 100})
	if got := body(); got != "green" {
		t.Errorf("after the switch, on the same HTTP/2 connection: %q", got)
	}
	for i := 1; i < 4; i++ {
		tick <- struct{}{}
		if e := readEvent(); e != fmt.Sprintf("blue %d", i) {
			t.Errorf("event %d after the switch: %q, want it still from blue", i, e)
		}
	}
	tick <- struct{}{}
	if conns != 1 {
		t.Errorf("%d connections; everything should share one HTTP/2 connection", conns)
	}
}
