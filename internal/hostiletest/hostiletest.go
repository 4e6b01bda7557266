// Package hostiletest holds the hostile clients that teal's listeners are
// tested against: slowloris connections that send their headers a byte at
// a time, raw requests with malformed or oversized parts, and a steady,
// well-behaved client that measures what the others cost it; with a probe
// of the process's goroutines and live heap before, during and after.
//
// The clients run in the test's own process, against listeners on
// 127.0.0.1, bounded in count and time. Slowloris connections are all
// driven by one goroutine, so that the goroutines counted are the
// server's.
package hostiletest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sample is what the process holds at one moment.
type Sample struct {
	Goroutines int
	HeapAlloc  uint64 // bytes of live heap, after a collection
}

func (s Sample) String() string {
	return fmt.Sprintf("%d goroutines, %.1f MiB live heap", s.Goroutines, float64(s.HeapAlloc)/(1<<20))
}

// Measure collects garbage and samples the process.
func Measure() Sample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return Sample{Goroutines: runtime.NumGoroutine(), HeapAlloc: m.HeapAlloc}
}

// CheckBounded fails t when an attack of conns connections held more
// than perConn goroutines a connection (and 100 more) or grew the live
// heap by more than heap bytes while it lasted, or left more than five
// goroutines behind.
func CheckBounded(t testing.TB, before, during, after Sample, conns, perConn int, heap uint64) {
	t.Helper()
	if during.Goroutines > before.Goroutines+perConn*conns+100 {
		t.Errorf("%d goroutines during the attack, %d before", during.Goroutines, before.Goroutines)
	}
	if during.HeapAlloc > before.HeapAlloc+heap {
		t.Errorf("live heap grew from %s to %s during the attack", before, during)
	}
	if after.Goroutines > before.Goroutines+5 {
		t.Errorf("%d goroutines after the attack, %d before", after.Goroutines, before.Goroutines)
	}
}

// Settle waits up to timeout for the goroutines to come back to at most
// want, and returns the last sample.
func Settle(want int, timeout time.Duration) Sample {
	deadline := time.Now().Add(timeout)
	for {
		s := Measure()
		if s.Goroutines <= want || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Slowloris is a set of connections that each send a request's headers a
// byte at a time and never finish them.
type Slowloris struct {
	mu      sync.Mutex
	opened  int
	refused int
	closed  []time.Duration // how long each connection lasted until the server closed it
	stop    chan struct{}
	done    chan struct{}
}

// StartSlowloris opens n connections to addr and, from one goroutine,
// writes one more byte of a never-ending header to each every interval,
// noting when the server closes each. It stops at Stop or after max.
func StartSlowloris(t testing.TB, addr string, n int, every, max time.Duration) *Slowloris {
	t.Helper()
	s := &Slowloris{stop: make(chan struct{}), done: make(chan struct{})}
	type conn struct {
		c      net.Conn
		opened time.Time
		gone   bool
	}
	var conns []*conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			s.refused++
			continue
		}
		// The request line and a first header: the server has begun a request.
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
			c.Close()
			s.refused++
			continue
		}
		conns = append(conns, &conn{c: c, opened: time.Now()})
	}
	s.opened = len(conns)
	go func() {
		defer close(s.done)
		defer func() {
			for _, c := range conns {
				c.c.Close()
			}
		}()
		tick := time.NewTicker(every)
		defer tick.Stop()
		end := time.After(max)
		for {
			select {
			case <-s.stop:
				return
			case <-end:
				return
			case <-tick.C:
			}
			left := 0
			for _, c := range conns {
				if c.gone {
					continue
				}
				_ = c.c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
				// A closed connection fails the write after the one the peer
				// answered with a reset: at most two intervals late.
				if _, err := c.c.Write([]byte("a")); err != nil {
					c.gone = true
					s.mu.Lock()
					s.closed = append(s.closed, time.Since(c.opened))
					s.mu.Unlock()
					continue
				}
				left++
			}
			if left == 0 {
				return
			}
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

// Opened returns how many connections were opened, and how many could not
// be.
func (s *Slowloris) Opened() (opened, refused int) { return s.opened, s.refused }

// Closed returns how many connections the server has closed so far, and
// the longest any of them lasted.
func (s *Slowloris) Closed() (n int, longest time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.closed) == 0 {
		return 0, 0
	}
	return len(s.closed), slices.Max(s.closed)
}

// Wait waits until the server has closed every connection or the clients
// have given up.
func (s *Slowloris) Wait() { <-s.done }

// Stop closes every connection.
func (s *Slowloris) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// Raw sends req as it is on a new connection to addr and returns the
// status code of the answer, or 0 when the server closed the connection
// without one.
func Raw(addr, req string, timeout time.Duration) (int, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(req)); err != nil {
		return 0, nil // closed before it was all sent, as for a header too large
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, err
		}
		return 0, nil
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Steady is a well-behaved client sending one request after another.
type Steady struct {
	mu       sync.Mutex
	took     []time.Duration
	failed   int
	failures []string // the first few
	stop     chan struct{}
	done     chan struct{}
}

// StartSteady calls do every interval, from one goroutine, until Stop.
func StartSteady(do func() error, every time.Duration) *Steady {
	s := &Steady{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			began := time.Now()
			err := do()
			s.mu.Lock()
			s.took = append(s.took, time.Since(began))
			if err != nil {
				s.failed++
				if len(s.failures) < 10 {
					s.failures = append(s.failures, err.Error())
				}
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// Latency sums up a steady client's requests.
type Latency struct {
	Requests, Failed int
	Failures         []string
	P50, P99, Max    time.Duration
}

func (l Latency) String() string {
	return fmt.Sprintf("%d requests, %d failed, latency p50 %s p99 %s max %s", l.Requests, l.Failed, l.P50, l.P99, l.Max)
}

// Stop ends the client and returns what its requests took.
func (s *Steady) Stop() Latency {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Latency{Requests: len(s.took), Failed: s.failed, Failures: s.failures}
	if len(s.took) > 0 {
		d := slices.Clone(s.took)
		slices.Sort(d)
		l.P50, l.P99, l.Max = d[len(d)/2], d[len(d)*99/100], d[len(d)-1]
	}
	return l
}

// Baseline is what a well-behaved client sees before an attack, and the
// same client kept going through it.
type Baseline struct {
	Before Sample  // goroutines and heap with nobody attacking
	Calm   Latency // a second of normal's requests, alone
	Steady *Steady // normal, every 10 ms from now on: Stop it after the attack
}

// StartBaseline checks that normal succeeds, measures the process and a
// second of normal's requests alone, then keeps normal going.
func StartBaseline(t testing.TB, normal func() error) Baseline {
	t.Helper()
	if err := normal(); err != nil {
		t.Fatal(err)
	}
	b := Baseline{Before: Measure()}
	calm := StartSteady(normal, 10*time.Millisecond)
	time.Sleep(time.Second)
	b.Calm = calm.Stop()
	b.Steady = StartSteady(normal, 10*time.Millisecond)
	return b
}

// Attack starts n attackers, counted in wg, each with an HTTP client of
// its own, calling hit(i, client) again and again for d.
func Attack(wg *sync.WaitGroup, n int, d time.Duration, hit func(i int, c *http.Client)) {
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for end := time.Now().Add(d); time.Now().Before(end); {
				hit(i, c)
			}
		}()
	}
}

// Get returns a steady client's request: GET url with c, which must answer
// 200.
func Get(c *http.Client, url string, header http.Header) func() error {
	return func() error {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d %.200s", url, resp.StatusCode, b.String())
		}
		return nil
	}
}

// Problems collects what went wrong from several clients at once, the
// first ten of them, to report as errors once the clients are done.
type Problems struct {
	mu   sync.Mutex
	seen []string
}

// Note records one problem.
func (p *Problems) Note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) < 10 {
		p.seen = append(p.seen, fmt.Sprintf(format, args...))
	}
}

// Report fails t with each problem noted.
func (p *Problems) Report(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.seen {
		t.Error(s)
	}
}
