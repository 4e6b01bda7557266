package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// load is what one run of the load generator measured.
type load struct {
	RPS          float64
	P50, P99     time.Duration
	Requests     int64
	Non2xx       int64 // answers of 400 and above (wrk counts these)
	SocketErrors int64 // connect, read, write and timeout errors
	// CPU is the CPU time the proxy's processes used per request; 0 for
	// the direct connection.
	CPU time.Duration
}

// loadSpec says how to load a URL.
type loadSpec struct {
	URL         string
	Connections int
	Duration    time.Duration
	Close       bool // a new connection for every request
	// Pause is how long each connection waits, on average, between a
	// response and its next request: uniformly from half of it to one
	// and a half times it, in whole milliseconds. 0: none, as fast as
	// the participant answers.
	Pause time.Duration
	Pin   []string // the command prefix that pins the generator to a CPU, or nil
}

// generator runs load against a URL.
type generator interface {
	run(ctx context.Context, s loadSpec) (load, error)
	name() string
}

// wrk runs the wrk load generator, one thread, and parses what it prints.
type wrk struct{ path string }

func (w wrk) name() string { return "wrk" }

func (w wrk) run(ctx context.Context, s loadSpec) (load, error) {
	args := append(slices.Clone(s.Pin), w.path, "-t1", "-c"+strconv.Itoa(s.Connections),
		"-d"+strconv.Itoa(max(1, int(s.Duration.Round(time.Second)/time.Second)))+"s", "--latency", "--timeout", "5s")
	if s.Close {
		args = append(args, "-H", "Connection: close")
	}
	if s.Pause > 0 {
		lo, hi := pauseRange(s.Pause)
		script, err := os.CreateTemp("", "teal-bench-*.lua")
		if err != nil {
			return load{}, err
		}
		defer os.Remove(script.Name())
		// wrk calls delay() before each request and waits that many ms.
		fmt.Fprintf(script, "function delay() return math.random(%d, %d) end\n", lo.Milliseconds(), hi.Milliseconds())
		if err := script.Close(); err != nil {
			return load{}, err
		}
		args = append(args, "-s", script.Name())
	}
	args = append(args, s.URL)
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal    = regexp.MustCompile(`(\d+) requests in`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	durationFor = map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}
)

// parseWrk reads the numbers out of wrk's report.
func parseWrk(out string) (load, error) {
	var l load
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return l, fmt.Errorf("wrk printed no Requests/sec: %s", out)
	}
	l.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m := wrkTotal.FindStringSubmatch(out); m != nil {
		l.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	for _, m := range wrkLatency.FindAllStringSubmatch(out, -1) {
		f, _ := strconv.ParseFloat(m[2], 64)
		d := time.Duration(f * float64(durationFor[m[3]]))
		if m[1] == "50" {
			l.P50 = d
		} else {
			l.P99 = d
		}
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			l.SocketErrors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		l.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return l, nil
}

// pauseRange is the range a pause of about d is drawn from, in whole
// milliseconds as wrk's are.
func pauseRange(d time.Duration) (lo, hi time.Duration) {
	lo = max(time.Millisecond, (d / 2).Truncate(time.Millisecond))
	hi = max(lo, (d * 3 / 2).Truncate(time.Millisecond))
	return lo, hi
}

// goLoad is a small load generator in Go, for machines without wrk (the
// CI smoke run). It is slower than wrk and shares the Go runtime's habits
// with teal, so its numbers are only a check that everything works.
type goLoad struct{}

func (goLoad) name() string { return "built-in Go load generator (wrk not found)" }

func (goLoad) run(ctx context.Context, s loadSpec) (load, error) {
	host := strings.TrimPrefix(s.URL, "http://")
	host, _, _ = strings.Cut(host, "/")
	req := "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if s.Close {
		req = "GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n"
	}
	ctx, cancel := context.WithTimeout(ctx, s.Duration)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var l load
	var wg sync.WaitGroup
	start := time.Now()
	for range s.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, non2xx, errs := goLoadConn(ctx, host, req, s.Close, s.Pause)
			mu.Lock()
			all = append(all, lat...)
			l.Non2xx += non2xx
			l.SocketErrors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	l.Requests = int64(len(all))
	l.RPS = float64(len(all)) / time.Since(start).Seconds()
	slices.Sort(all)
	if len(all) > 0 {
		l.P50, l.P99 = all[len(all)*50/100], all[len(all)*99/100]
	}
	return l, nil
}

// goLoadConn sends requests one after another until ctx is done, on one
// connection or a new one each time.
func goLoadConn(ctx context.Context, host, req string, closeEach bool, pause time.Duration) (lat []time.Duration, non2xx, errs int64) {
	lo, hi := pauseRange(pause)
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for ctx.Err() == nil {
		t0 := time.Now()
		if c == nil {
			var err error
			if c, err = net.DialTimeout("tcp", host, 5*time.Second); err != nil {
				errs++
				time.Sleep(time.Millisecond)
				continue
			}
			br = bufio.NewReader(c)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			errs++
			c.Close()
			c = nil
			continue
		}
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				errs++
			}
			c.Close()
			c = nil
			continue
		}
		lat = append(lat, time.Since(t0))
		if resp.StatusCode >= 400 {
			non2xx++
		}
		if closeEach || resp.Close {
			c.Close()
			c = nil
		}
		if pause > 0 {
			time.Sleep(lo + time.Millisecond*rand.N((hi-lo)/time.Millisecond+1)) // whole ms, as wrk's
		}
	}
	return lat, non2xx, errs
}
