// Package sendtimeout bounds how long a client may leave a server's
// writes untaken, as nginx's send_timeout does: a client that stops
// reading would otherwise hold its connection, a goroutine and whatever
// the answer holds (an instance's connection, a followed log) for as long
// as it stays connected. The timeout counts from each write, not from
// the start of the answer, so a long stream or a WebSocket that goes
// quiet is not cut.
package sendtimeout

import (
	"net"
	"sync/atomic"
	"time"
)

// Clock is a connection's write deadline as last set. Writers on more than
// one goroutine (TLS alerts, HTTP/2 frames) may share it.
type Clock struct{ at atomic.Int64 } // Unix nanoseconds; 0: none

// Before makes sure that c's write deadline is at least timeout from now,
// or that there is none for a timeout of 0; it is called before each
// write. Setting a deadline costs a timer operation, so it is pushed out
// only when the one in force would come more than a quarter of the
// timeout early, and at most a second.
func (k *Clock) Before(c net.Conn, timeout time.Duration) {
	if timeout <= 0 {
		if k.at.Load() != 0 {
			k.at.Store(0)
			c.SetWriteDeadline(time.Time{})
		}
		return
	}
	want := time.Now().Add(timeout).UnixNano()
	if at := k.at.Load(); at != 0 && want-at < int64(min(timeout/4, time.Second)) {
		return
	}
	k.at.Store(want)
	c.SetWriteDeadline(time.Unix(0, want))
}

// Reset forgets the deadline last set, for a connection that sets its
// own deadlines no more.
func (k *Clock) Reset() { k.at.Store(0) }

// Conn is a connection whose every write must be taken within Timeout().
type Conn struct {
	net.Conn
	Timeout func() time.Duration // read at each write, so that it may change
	clock   Clock
}

func (c *Conn) Write(p []byte) (int, error) {
	c.clock.Before(c.Conn, c.Timeout())
	return c.Conn.Write(p)
}

// CloseWrite shuts the connection's writing side when it has one, so that
// net/http can close gently after an error, as on a TCP connection of its
// own.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
