package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/hostiletest"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// hostileServer starts a server with its API on TCP and an admin
// listener, both with short limits, and returns it with its token.
func hostileServer(t *testing.T, limits ConnLimits) (*Server, string) {
	s := startServer(t, Config{API: "tcp://" + tcptest.FreeAddr(t), Admin: "127.0.0.1:0", ConnLimits: limits})
	token, err := os.ReadFile(filepath.Join(s.cfg.DataDir, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return s, strings.TrimSpace(string(token))
}

// Hostile clients against the API on TCP and the admin listener, at once:
// slowloris connections on both, bodies over the API's limit with and
// without the token, oversized headers, malformed requests; while a
// well-behaved client reads the status through the API with the token.
// Its requests must all succeed; slowloris connections are cut at the
// header timeout; the goroutines and live heap stay bounded and come back
// after. The numbers are logged (go test -v -run TestHostileAPIClients).
func TestHostileAPIClients(t *testing.T) {
	const (
		readHeader = time.Second
		slowConns  = 100 // on each listener, under MaxConns
	)
	s, token := hostileServer(t, ConnLimits{ReadHeader: readHeader, Idle: 2 * time.Second, MaxHeaderBytes: 16 << 10, MaxConns: 2 * slowConns})
	apiAddr := strings.TrimPrefix(s.APIAddr(), "http://")
	adminAddr := s.AdminAddr()
	auth := http.Header{"Authorization": {"Bearer " + token}}
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	normal := hostiletest.Get(client, s.APIAddr()+"/v1/status", auth)
	base := hostiletest.StartBaseline(t, normal)
	before, calmLatency, steady := base.Before, base.Calm, base.Steady
	slowAPI := hostiletest.StartSlowloris(t, apiAddr, slowConns, 100*time.Millisecond, 10*time.Second)
	slowAdmin := hostiletest.StartSlowloris(t, adminAddr, slowConns, 100*time.Millisecond, 10*time.Second)

	var wg sync.WaitGroup
	var problems hostiletest.Problems
	note := problems.Note
	attackFor := 1500 * time.Millisecond
	hostiletest.Attack(&wg, 4, attackFor, func(i int, c *http.Client) {
		// 32 MiB, over the API's 8 MiB, with the token (400) and
		// without it (401, the body never read).
		req, _ := http.NewRequest("POST", s.APIAddr()+"/v1/plan", io.LimitReader(zeros{}, 32<<20))
		want := http.StatusUnauthorized
		if i%2 == 0 {
			req.Header.Set("Authorization", "Bearer "+token)
			want = http.StatusBadRequest
		}
		resp, err := c.Do(req)
		if err != nil {
			return // the server may close a connection whose body it will not read
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			note("a 32 MiB body: %d %.200s, want %d", resp.StatusCode, b, want)
		}
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		big := "GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n"
		malformed := []string{
			"GET /v1/status\r\nHost: x\r\n\r\n",
			"GET /v1/status HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
			"POST /v1/plan HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
			"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		}
		for end := time.Now().Add(attackFor); time.Now().Before(end); {
			for _, addr := range []string{apiAddr, adminAddr} {
				if code, err := hostiletest.Raw(addr, big, 5*time.Second); err != nil || code != 0 && code != http.StatusRequestHeaderFieldsTooLarge {
					note("oversized headers to %s: %d %v", addr, code, err)
				}
				for _, req := range malformed {
					if code, err := hostiletest.Raw(addr, req, 5*time.Second); err != nil || code != 0 && code != http.StatusBadRequest {
						note("%q to %s: %d %v", req, addr, code, err)
					}
				}
			}
		}
	}()
	time.Sleep(attackFor / 2)
	during := hostiletest.Measure()
	wg.Wait()
	slowAPI.Wait()
	slowAdmin.Wait()
	attackLatency := steady.Stop()
	client.CloseIdleConnections()
	after := hostiletest.Settle(before.Goroutines+5, 10*time.Second)

	for name, slow := range map[string]*hostiletest.Slowloris{"API": slowAPI, "admin": slowAdmin} {
		opened, refused := slow.Opened()
		closed, longest := slow.Closed()
		t.Logf("slowloris on the %s listener: %d connections opened (%d refused), %d closed by the server, the longest after %s", name, opened, refused, closed, longest.Round(time.Millisecond))
		if opened < slowConns || closed != opened || longest > readHeader+3*time.Second {
			t.Errorf("slowloris on the %s listener: %d opened, %d closed, the longest after %s; the header timeout is %s", name, opened, closed, longest, readHeader)
		}
	}
	t.Logf("before: %s; during: %s; after: %s", before, during, after)
	t.Logf("normal client alone: %s", calmLatency)
	t.Logf("normal client under attack: %s", attackLatency)
	problems.Report(t)
	if attackLatency.Failed > 0 || calmLatency.Failed > 0 {
		t.Errorf("the normal client failed: %v %v", calmLatency.Failures, attackLatency.Failures)
	}
	hostiletest.CheckBounded(t, before, during, after, slowConns, 4, 64<<20)
}

// The API and the admin listener close connections that sit idle, and
// serve at most MaxConns at once, whatever a client opens: past it,
// connections wait to be accepted, so the server's goroutines stay
// bounded, and a well-behaved client is served once the header timeout
// has cut the connections ahead of it.
func TestConnLimits(t *testing.T) {
	const maxConns = 20
	s, token := hostileServer(t, ConnLimits{ReadHeader: time.Second, Idle: time.Second, MaxConns: maxConns})
	apiAddr := strings.TrimPrefix(s.APIAddr(), "http://")
	before := hostiletest.Measure()

	// Idle: a request each, then nothing.
	var idle []net.Conn
	for range 10 {
		c, err := net.Dial("tcp", apiAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /v1/version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("a request before idling: %v %v", resp, err)
		}
		resp.Body.Close()
		idle = append(idle, c)
	}
	began := time.Now()
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("an idle connection: %v, want it closed by the server", err)
		}
	}
	t.Logf("10 idle connections closed by the API after %s (idle limit 1s)", time.Since(began).Round(time.Millisecond))

	// Three times MaxConns slowloris connections to the admin listener.
	slow := hostiletest.StartSlowloris(t, s.AdminAddr(), 3*maxConns, 100*time.Millisecond, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	during := hostiletest.Measure()
	began = time.Now()
	err := hostiletest.Get(&http.Client{Timeout: 10 * time.Second}, "http://"+s.AdminAddr()+"/metrics", nil)()
	waited := time.Since(began)
	slow.Wait()
	after := hostiletest.Settle(before.Goroutines+5, 10*time.Second)
	t.Logf("admin listener with MaxConns %d, %d slowloris connections: before %s; during %s; after %s; a normal request waited %s",
		maxConns, 3*maxConns, before, during, after, waited.Round(time.Millisecond))
	if err != nil {
		t.Errorf("a normal request while the admin listener was full: %v", err)
	}
	// The slowloris client itself holds one goroutine; the server one a
	// connection it serves, and none for those waiting to be accepted.
	if during.Goroutines > before.Goroutines+2*maxConns {
		t.Errorf("%d goroutines with %d connections open (MaxConns %d), %d before", during.Goroutines, 3*maxConns, maxConns, before.Goroutines)
	}
	if after.Goroutines > before.Goroutines+5 {
		t.Errorf("%d goroutines after, %d before", after.Goroutines, before.Goroutines)
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A client of the API or the admin listener that asks for a stream (a
// followed log, the events) and stops reading is disconnected at Send,
// and its connection slot freed.
func TestAPIClientThatStopsReading(t *testing.T) {
	stopped := make(chan time.Time, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const send = 200 * time.Millisecond
	srv := serveLimited(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				stopped <- time.Now()
				return
			}
		}
	}), ConnLimits{MaxConns: 1, Send: send}, func(err error) { t.Error(err) })
	defer srv.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := time.Now()
	fmt.Fprintf(c, "GET /v1/events?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case at := <-stopped:
		t.Logf("the stream's writes failed %v after the request (send %v)", at.Sub(sent).Round(time.Millisecond), send)
	case <-time.After(10 * time.Second):
		t.Fatalf("still writing to a client that reads nothing 10s later (Send %v)", send)
	}
	// The one slot is free again: another client is served.
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := c2.Read(make([]byte, 1)); err != nil {
		t.Fatalf("a second client with the slot freed: %v", err)
	}
}
