package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Both paths: the fast path, and net/http's (a Connection header naming
// another header is one of the things the fast path hands over).
var sendPaths = []struct{ name, extra string }{
	{"fast path", ""},
	{"net/http", "Connection: X-Hop\r\nX-Hop: 1\r\n"},
}

// dialSendTimeoutLB connects to a load balancer whose send timeout is
// send, in front of srv.
func dialSendTimeoutLB(t *testing.T, send time.Duration, srv *httptest.Server) net.Conn {
	t.Helper()
	p, url := lbWith(t, Options{}, func(lb *spec.LoadBalancer) { lb.Timeouts.Send = spec.Duration(send) })
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", srv)})
	p.SetWeights("web", Weights{spec.Blue: 100})
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A client that sends a request and never reads the answer is
// disconnected at timeouts.send, and the instance's connection is closed
// with it: it holds nothing for longer.
func TestClientThatStopsReading(t *testing.T) {
	const send = 300 * time.Millisecond
	for _, path := range sendPaths {
		t.Run(path.name, func(t *testing.T) {
			stopped := make(chan time.Time, 1) // when the instance could write no more
			srv := backendFunc(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/endless" {
					return // health checks
				}
				buf := make([]byte, 64<<10)
				for {
					if _, err := w.Write(buf); err != nil {
						stopped <- time.Now()
						return
					}
				}
			})
			c := dialSendTimeoutLB(t, send, srv)
			sent := time.Now()
			if _, err := io.WriteString(c, "GET /endless HTTP/1.1\r\nHost: shop.test\r\n"+path.extra+"\r\n"); err != nil {
				t.Fatal(err)
			}
			var at time.Time
			select {
			case at = <-stopped:
			case <-time.After(10 * time.Second):
				t.Fatalf("the instance was still writing to a client that reads nothing 10s later (timeouts.send is %v)", send)
			}
			// The socket buffers fill in a moment; then the last write
			// waits send, and up to a second more (the deadline is
			// pushed out coarsely).
			if took := at.Sub(sent); took < send || took > send+3*time.Second {
				t.Errorf("the instance's connection was closed %v after the request; want about %v", took, send)
			}
			// The client, reading at last, gets what was buffered, then
			// the end of a connection teal has closed.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the client's connection was still open after %d bytes", n)
			}
			t.Logf("instance cut off %v after the request; the client read %d bytes before the end", at.Sub(sent).Round(time.Millisecond), n)
		})
	}
}

// The send timeout counts from each write, not from the start of the
// answer: a stream that goes quiet for longer than it, with a client that
// reads, is not cut.
func TestQuietStreamOutlivesSendTimeout(t *testing.T) {
	const send = 200 * time.Millisecond
	for _, path := range sendPaths {
		t.Run(path.name, func(t *testing.T) {
			srv := backendFunc(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/quiet" {
					return
				}
				for _, part := range []string{"first ", "second ", "third"} {
					io.WriteString(w, part)
					w.(http.Flusher).Flush()
					time.Sleep(3 * send)
				}
			})
			c := dialSendTimeoutLB(t, send, srv)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for i := range 2 { // twice: the deadline of the first answer must not cut the second
				io.WriteString(c, "GET /quiet HTTP/1.1\r\nHost: shop.test\r\n"+path.extra+"\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i+1, err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || string(body) != "first second third" {
					t.Fatalf("answer %d: %q, %v; want the whole stream", i+1, body, err)
				}
				if path.extra != "" {
					break // net/http reads the next request with a reader of its own
				}
			}
		})
	}
}
