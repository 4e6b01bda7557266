package main

import (
	"strings"
	"testing"
	"time"
)

const wrkOutput = `Running 10s test @ http://127.0.0.1:8080/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  300.00us  10.00ms   90.00%
  Latency Distribution
     50%  850.00us
     75%    1.10ms
     90%    1.50ms
     99%    4.30ms
  500000 requests in 10.00s, 60.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  50000.12
Transfer/sec:      6.00MB
`

func TestParseWrk(t *testing.T) {
	l, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := load{RPS: 50000.12, P50: 850 * time.Microsecond, P99: 4300 * time.Microsecond, Requests: 500000, Non2xx: 7, SocketErrors: 6}
	if l != want {
		t.Errorf("parseWrk = %+v, want %+v", l, want)
	}
	if _, err := parseWrk("unable to connect"); err == nil {
		t.Error("output without Requests/sec parsed")
	}
}

// Ratios are taken within each round, so a round where the machine was
// slow for everyone counts the same as a fast one.
func TestTableRatiosWithinRounds(t *testing.T) {
	rounds := []round{
		{"direct": {RPS: 100}, "HAProxy": {RPS: 50}, "teal": {RPS: 50}},
		{"direct": {RPS: 200}, "HAProxy": {RPS: 100}, "teal": {RPS: 110}},
		{"direct": {RPS: 150}, "HAProxy": {RPS: 75}, "teal": {RPS: 60, SocketErrors: 2}},
	}
	got := table([]string{"direct", "teal", "HAProxy", "nginx"}, rounds)
	for _, want := range []string{
		"teal         60 (50–110)",
		"0.50 (0.40–0.55)",
		"1.00 (0.80–1.10)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "nginx") {
		t.Errorf("a participant that did not run has a row:\n%s", got)
	}
}

func TestPauseRange(t *testing.T) {
	for _, c := range []struct{ d, lo, hi time.Duration }{
		{2 * time.Millisecond, time.Millisecond, 3 * time.Millisecond},
		{10 * time.Millisecond, 5 * time.Millisecond, 15 * time.Millisecond},
		{500 * time.Microsecond, time.Millisecond, time.Millisecond}, // wrk waits whole milliseconds
	} {
		if lo, hi := pauseRange(c.d); lo != c.lo || hi != c.hi {
			t.Errorf("pauseRange(%v) = %v, %v; want %v, %v", c.d, lo, hi, c.lo, c.hi)
		}
	}
}
