package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/hostiletest"
	"github.com/teal-deploy/teal/internal/spec"
)

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// malformed are requests that no server should pass on: each must get a
// 4xx (or 501 or 505, which name what is not supported) or have its
// connection closed, and none may reach an instance.
var malformed = map[string]string{
	"no version":             "GET /malformed\r\nHost: x\r\n\r\n",
	"HTTP/0.9":               "GET /malformed\r\n\r\n",
	"bad version":            "GET /malformed HTTP/9.9\r\nHost: x\r\n\r\n",
	"no host":                "GET /malformed HTTP/1.1\r\n\r\n",
	"two hosts":              "GET /malformed HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"space in host":          "GET /malformed HTTP/1.1\r\nHost: a b\r\n\r\n",
	"header without colon":   "GET /malformed HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
	"space before colon":     "GET /malformed HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n",
	"NUL in header":          "GET /malformed HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
	"bare CR in header":      "GET /malformed HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
	"two lengths":            "POST /malformed HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"negative length":        "POST /malformed HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
	"length not a number":    "POST /malformed HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n",
	"unknown coding":         "POST /malformed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
	"bad method":             "G(E)T /malformed HTTP/1.1\r\nHost: x\r\n\r\n",
	"absolute URI elsewhere": "GET http://[::1/malformed HTTP/1.1\r\nHost: x\r\n\r\n",
	"binary":                 "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
}

// Hostile clients against a load balancer: slowloris connections,
// oversized bodies (by Content-Length and streamed), oversized headers and
// malformed requests, all at once, while a well-behaved client goes on.
// Its requests must all succeed; the slowloris connections must be cut at
// timeouts.read_header; the goroutines and live heap must stay bounded
// while it lasts and come back after; nothing malformed may reach the
// instance. The numbers are logged (go test -v -run TestHostileClients).
func TestHostileClients(t *testing.T) {
	const (
		readHeader = time.Second
		slowConns  = 300
	)
	var reached atomic.Int64 // malformed requests, or bodies too large by their Content-Length, that reached the instance
	srv := backendFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/malformed" || r.URL.Path == "/announced" {
			reached.Add(1)
		}
		io.Copy(io.Discard, r.Body)
	})
	p, url := lbWith(t, Options{}, func(lb *spec.LoadBalancer) {
		lb.Limits.RequestBody = 1 << 20
		lb.Limits.Header = 8 << 10
		lb.Timeouts.ReadHeader = spec.Duration(readHeader)
		lb.Timeouts.Idle = spec.Duration(2 * time.Second)
	})
	target := healthyTarget(t, p, "b", srv)
	p.SetPool("web", spec.Blue, []*Target{target})
	p.SetWeights("web", Weights{spec.Blue: 100})
	addr := strings.TrimPrefix(url, "http://")

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	t.Cleanup(client.CloseIdleConnections)
	normal := hostiletest.Get(client, url+"/", nil)
	base := hostiletest.StartBaseline(t, normal)
	before, calmLatency, steady := base.Before, base.Calm, base.Steady
	slow := hostiletest.StartSlowloris(t, addr, slowConns, 100*time.Millisecond, 10*time.Second)

	var wg sync.WaitGroup
	var problems hostiletest.Problems
	note := problems.Note
	attackFor := 1500 * time.Millisecond
	hostiletest.Attack(&wg, 4, attackFor, func(i int, c *http.Client) {
		// 16 MiB streamed, then 1 GiB announced: both over the 1 MiB limit.
		req, _ := http.NewRequest("POST", url+"/streamed", io.LimitReader(zeros{}, 16<<20))
		if i%2 == 1 {
			req, _ = http.NewRequest("POST", url+"/announced", io.LimitReader(zeros{}, 1<<30))
			req.ContentLength = 1 << 30
		}
		resp, err := c.Do(req)
		if err != nil {
			return // the server may close a connection whose body it will not read
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			note("an oversized body got %d", resp.StatusCode)
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		big := "GET /malformed HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n"
		many := "GET /malformed HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: m\r\n", 5000) + "\r\n"
		for end := time.Now().Add(attackFor); time.Now().Before(end); {
			for _, req := range []string{big, many} {
				if code, err := hostiletest.Raw(addr, req, 5*time.Second); err != nil || code != 0 && code != http.StatusRequestHeaderFieldsTooLarge {
					note("oversized headers: %d %v", code, err)
				}
			}
			for name, req := range malformed {
				code, err := hostiletest.Raw(addr, req, 5*time.Second)
				if err != nil || code != 0 && (code < 400 || code >= 500) && code != 501 && code != 505 {
					note("%s: %d %v", name, code, err)
				}
			}
			// Well-formed headers, then a body whose chunking is broken: the
			// client's fault, not the instance's.
			broken := "POST /broken-body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
			if code, err := hostiletest.Raw(addr, broken, 5*time.Second); err != nil || code != 0 && code != http.StatusBadRequest {
				note("a broken chunked body: %d %v, want 400", code, err)
			}
		}
	}()
	time.Sleep(attackFor / 2)
	during := hostiletest.Measure()
	wg.Wait()
	slow.Wait()
	attackLatency := steady.Stop()
	client.CloseIdleConnections()
	// Waits as long as it takes goroutines that serve connections to
	// end, which a pool of them may keep idle for a while (up to 20s).
	after := hostiletest.Settle(before.Goroutines+5, 20*time.Second)

	opened, refused := slow.Opened()
	closed, longest := slow.Closed()
	t.Logf("slowloris: %d connections opened (%d refused), %d closed by the load balancer, the longest after %s (read_header %s)", opened, refused, closed, longest.Round(time.Millisecond), readHeader)
	t.Logf("before: %s; during: %s; after: %s", before, during, after)
	t.Logf("normal client alone: %s", calmLatency)
	t.Logf("normal client under attack: %s", attackLatency)

	problems.Report(t)
	if n := reached.Load(); n > 0 {
		t.Errorf("%d malformed requests, or bodies over the limit by Content-Length, reached the instance", n)
	}
	if sn := target.stats.snapshot(); sn.Errors > 0 {
		t.Errorf("hostile clients were counted as %d failures of the instance (a canary's analysis would fail it): %+v", sn.Errors, sn.Codes)
	}
	if opened < slowConns*9/10 || closed != opened {
		t.Errorf("slowloris: %d of %d connections opened, %d closed by the load balancer", opened, slowConns, closed)
	}
	if longest > readHeader+3*time.Second {
		t.Errorf("a slowloris connection lasted %s; read_header is %s", longest, readHeader)
	}
	if attackLatency.Failed > 0 || calmLatency.Failed > 0 {
		t.Errorf("the normal client failed: %v %v", calmLatency.Failures, attackLatency.Failures)
	}
	// Bounded: a few goroutines a connection, whatever is sent; bodies
	// streamed, not held (a held 16 MiB body would show).
	hostiletest.CheckBounded(t, before, during, after, slowConns, 3, 48<<20)
}

// backendFunc is a real HTTP server with handler f.
func backendFunc(t *testing.T, f http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return s
}
