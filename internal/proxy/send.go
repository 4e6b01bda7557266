package proxy

import (
	"net"
	"sync/atomic"
	"time"
)

// The send timeout. A client that stops reading its responses would hold
// a goroutine, buffers and a connection to an instance for as long as it
// stays connected; like nginx's send_timeout, every write to a client must
// be taken within the load balancer's timeouts.send, counted from that
// write rather than from the start of the response, so that a long stream
// or a WebSocket that goes quiet is not cut. The fast path on Linux sets
// the deadline only when a write finds the client's buffer full
// (sockio_linux.go). Elsewhere it is set before each write, and since
// that costs a timer operation, it is pushed out only when the one in
// force would come more than a quarter of the timeout early, and at most
// a second.

// sendClock is a connection's write deadline as last set; writers on more
// than one goroutine (TLS alerts, HTTP/2 frames) may share it.
type sendClock struct{ at atomic.Int64 } // Unix nanoseconds; 0: none

// before makes sure that c's write deadline is at least timeout from now,
// or that there is none for a timeout of 0. It is called before each
// write.
func (s *sendClock) before(c net.Conn, timeout time.Duration) {
	if timeout <= 0 {
		if s.at.Load() != 0 {
			s.at.Store(0)
			c.SetWriteDeadline(time.Time{})
		}
		return
	}
	want := time.Now().Add(timeout).UnixNano()
	if at := s.at.Load(); at != 0 && want-at < int64(min(timeout/4, time.Second)) {
		return
	}
	s.at.Store(want)
	c.SetWriteDeadline(time.Unix(0, want))
}

// sendConn is a client connection served by net/http (TLS, HTTP/2,
// upgrades, whatever the fast path hands over), with the listener's send
// timeout before each write.
type sendConn struct {
	net.Conn
	l     *listener
	clock sendClock
}

func (c *sendConn) Write(p []byte) (int, error) {
	c.clock.before(c.Conn, c.l.settings.Load().send)
	return c.Conn.Write(p)
}

func (c *sendConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite shuts c's writing side, when it has one to shut.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
