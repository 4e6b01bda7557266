package sendtimeout

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/tcptest"
)

// A peer that reads nothing makes a write fail at the timeout.
func TestWriteTimesOut(t *testing.T) {
	_, s := tcptest.Pair(t)
	const timeout = 100 * time.Millisecond
	c := &Conn{Conn: s, Timeout: func() time.Duration { return timeout }}
	start := time.Now()
	buf := make([]byte, 1<<20)
	var err error
	for time.Since(start) < 10*time.Second && err == nil {
		_, err = c.Write(buf)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("writing to a peer that reads nothing for %v: %v; want a timeout", time.Since(start), err)
	}
	if took := time.Since(start); took < timeout || took > 3*time.Second {
		t.Fatalf("the write timed out after %v; want about %v", took, timeout)
	}
}

// The timeout counts from each write: a connection quiet for longer than
// it writes again, and a timeout of 0 takes the deadline away.
func TestQuietConnWritesAgain(t *testing.T) {
	peer, s := tcptest.Pair(t)
	timeout := 50 * time.Millisecond
	c := &Conn{Conn: s, Timeout: func() time.Duration { return timeout }}
	for i := range 3 {
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("write %d after %v of quiet: %v", i+1, 4*timeout, err)
		}
		time.Sleep(4 * timeout)
	}
	timeout = 0
	c.Write([]byte("x"))
	time.Sleep(100 * time.Millisecond)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("a write with the timeout taken away: %v", err)
	}
	got := make([]byte, 5)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for n := 0; n < len(got); {
		k, err := peer.Read(got[n:])
		if err != nil {
			t.Fatalf("the peer read %q: %v", got[:n], err)
		}
		n += k
	}
}
