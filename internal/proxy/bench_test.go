package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/tcptest"
)

// routedTable is a proxy whose load balancer "lb" has services*10
// routes: each service has ten paths on a host of its own, or, with
// sharedHost, ten paths under a prefix of its own on one host.
func routedTable(tb testing.TB, services int, sharedHost bool) *Proxy {
	tb.Helper()
	p := New(Options{Log: discard()})
	for i := range services {
		svc := service(fmt.Sprintf("svc%05d", i))
		for j := range 10 {
			r := spec.Route{LoadBalancer: "lb", Host: fmt.Sprintf("svc%05d.example.test", i), Path: fmt.Sprintf("/p%d/*", j)}
			if sharedHost {
				r.Host, r.Path = "example.test", fmt.Sprintf("/svc%05d/p%d/*", i, j)
			}
			svc.Routes = append(svc.Routes, r)
		}
		p.SetService(svc)
	}
	return p
}

// BenchmarkRouteMatch is the routing decision for tables of 10 to 10,000
// routes: its cost must not grow with the number of routes, and it must
// not allocate.
func BenchmarkRouteMatch(b *testing.B) {
	for _, shared := range []bool{false, true} {
		for _, routes := range []int{10, 100, 1000, 10000} {
			name := fmt.Sprintf("host-per-service/routes=%d", routes)
			if shared {
				name = fmt.Sprintf("one-host/routes=%d", routes)
			}
			b.Run(name, func(b *testing.B) {
				services := routes / 10
				p := routedTable(b, services, shared)
				mid := services / 2
				host, path := fmt.Sprintf("svc%05d.example.test", mid), "/p7/orders/42"
				if shared {
					host, path = "example.test", fmt.Sprintf("/svc%05d/p7/orders/42", mid)
				}
				want := fmt.Sprintf("svc%05d", mid)
				t := p.table.Load()
				if r := t.match("lb", host, path); r == nil || r.service != want {
					b.Fatalf("matched %+v, want %s", r, want)
				}
				b.ReportAllocs()
				for b.Loop() {
					t.match("lb", host, path)
				}
			})
		}
	}
}

// BenchmarkPick is instance selection: a canary at 10 % over two slots of
// four healthy targets each, then the request's release.
func BenchmarkPick(b *testing.B) {
	p := New(Options{Log: discard()})
	p.SetService(service("web", spec.Route{LoadBalancer: "lb", Path: "/*"}))
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		var ts []*Target
		for i := range 4 {
			t := p.NewTarget(TargetOptions{ID: fmt.Sprintf("%s-%d", slot, i), Addr: "127.0.0.1:1", Service: "web", Slot: slot})
			t.Assume(Healthy)
			ts = append(ts, t)
		}
		p.SetPool("web", slot, ts)
	}
	p.SetWeights("web", Weights{spec.Blue: 90, spec.Green: 10})
	be := p.table.Load().service("web")
	b.ReportAllocs()
	for b.Loop() {
		t := be.pickWeighted()
		t.release()
	}
}

// rawBackend is an instance that answers every request with a fixed 64
// byte body, allocating nothing, so that a benchmark counts the proxy's
// allocations alone.
func rawBackend(tb testing.TB) string {
	tb.Helper()
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n" + string(bytes.Repeat([]byte("x"), 63)) + "\n")
	return tcptest.Serve(tb, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		for skipHead(br) == nil {
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// skipHead reads one request head without a body.
func skipHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}

// readAnswer reads a response with a Content-Length body and returns its
// status.
func readAnswer(br *bufio.Reader) (int, error) {
	status, length := 0, -1
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if first {
			status, _ = strconv.Atoi(string(line[9:12]))
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && (string(line[:16]) == "Content-Length: " || string(line[:16]) == "content-length: ") {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(line[16:])))
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("no Content-Length")
	}
	_, err := br.Discard(length)
	return status, err
}

// BenchmarkRequestPath is the whole request path through a real listener
// on loopback: a keep-alive client, teal, an instance. "fast" is the
// HTTP/1.1 fast path; "net-http" the same request on a connection that
// was handed to net/http's server (here by a Connection header naming
// another header). allocs/op are the whole process's: the client and
// the instance allocate nothing.
func BenchmarkRequestPath(b *testing.B) {
	for _, tc := range []struct{ name, extra string }{
		{"fast", ""},
		{"net-http", "Connection: X-Hop\r\nX-Hop: 1\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := New(Options{Log: discard()})
			lb := testLB("public")
			if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Shutdown(context.Background()) })
			p.SetService(service("web", spec.Route{LoadBalancer: "public", Path: "/*"}))
			t := p.NewTarget(TargetOptions{ID: "b", Addr: rawBackend(b), Service: "web", Slot: spec.Blue,
				Timeouts: spec.NewService("web").Timeouts, Consecutive5xx: 5})
			t.Assume(Healthy)
			p.SetPool("web", spec.Blue, []*Target{t})
			p.SetWeights("web", Weights{spec.Blue: 100})

			c, err := net.Dial("tcp", p.Addr("public"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			req := []byte("GET /orders/42 HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: bench\r\nAccept: */*\r\n" + tc.extra + "\r\n")
			br := bufio.NewReaderSize(c, 16<<10)
			do := func() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				if code, err := readAnswer(br); err != nil || code != 200 {
					b.Fatalf("answer %d, %v", code, err)
				}
			}
			for range 100 { // warm the pools
				do()
			}
			b.ReportAllocs()
			for b.Loop() {
				do()
			}
		})
	}
}

// BenchmarkScale1000Services builds a load balancer with 1,000 services,
// 10 routes each (10,000 routes) and two instances per service, then
// measures a blue-green switch of one service (SetWeights: from the
// decision to the table the next request reads) and reports the heap the
// proxy holds.
func BenchmarkScale1000Services(b *testing.B) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	p := routedTable(b, 1000, false)
	for i := range 1000 {
		name := fmt.Sprintf("svc%05d", i)
		for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
			t := p.NewTarget(TargetOptions{ID: name + "-" + string(slot), Addr: "127.0.0.1:1", Service: name, Slot: slot,
				Timeouts: spec.NewService(name).Timeouts, Consecutive5xx: 5})
			t.Assume(Healthy)
			p.SetPool(name, slot, []*Target{t})
		}
		p.SetWeights(name, Weights{spec.Blue: 100})
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapInuse-before.HeapInuse) / (1 << 20)

	start := time.Now()
	p.SetService(service("svc00500", spec.Route{LoadBalancer: "lb", Host: "svc00500.example.test", Path: "/*"}))
	rebuild := time.Since(start)

	slots := []Weights{{spec.Green: 100}, {spec.Blue: 100}}
	i := 0
	for b.Loop() {
		p.SetWeights("svc00500", slots[i%2])
		i++
	}
	b.ReportMetric(heap, "heap-MiB")
	b.ReportMetric(float64(rebuild.Microseconds()), "route-rebuild-µs")
	b.ReportMetric(float64(after.Sys)/(1<<20), "process-sys-MiB")
	runtime.KeepAlive(p)
}

var _ = io.Discard
