package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// upstream is a target's connection pool: its own transport, so that its
// timeouts are the service's and so that every connection it opens is
// known, and can be closed when a drain runs out of time (which is what
// ends a WebSocket tunnelled to a draining instance). The fast path keeps
// its own idle connections here too, opened by the same dialer and
// tracked the same way.
type upstream struct {
	transport      *http.Transport
	dialer         *net.Dialer
	responseHeader time.Duration // 0: no limit

	mu      sync.Mutex
	conns   map[*trackedConn]struct{}
	idle    []*rawConn // the fast path's idle connections, most recent last
	retired bool       // replaced or closed: connections given back are closed
}

// Limits of the fast path's idle connections to one instance.
const (
	maxIdleRaw = 256
	// rawIdleTimeout closes a connection idle this long rather than use
	// it: the instance may have closed its end.
	rawIdleTimeout = 90 * time.Second
	// rawFreshFor is how long after its last use an idle connection is
	// trusted with a request that cannot be sent twice. Past it the
	// instance may be closing it (Node's default keep-alive is 5s), and
	// such a request would fail; it gets a new connection instead.
	rawFreshFor = time.Second
)

func newUpstream(timeouts spec.UpstreamTimeouts) *upstream {
	u := &upstream{
		conns:          map[*trackedConn]struct{}{},
		dialer:         &net.Dialer{Timeout: timeouts.Connect.D(), KeepAlive: 30 * time.Second},
		responseHeader: timeouts.ResponseHeader.D(),
	}
	u.transport = &http.Transport{
		Proxy:                 nil, // never send instance traffic through an HTTP proxy from the environment
		DialContext:           u.dial,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeouts.ResponseHeader.D(),
		DisableCompression:    true, // pass bodies through as the instance wrote them
	}
	return u
}

// dial opens a tracked connection; a failure is a dialError.
func (u *upstream) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := u.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &dialError{err: err}
	}
	return u.adopt(c), nil
}

// responseHeaderLeft is what is left of response_header for a request
// sent at sent: at least a nanosecond, or 0 (no limit) when there is none.
func (u *upstream) responseHeaderLeft(sent time.Time) time.Duration {
	if u.responseHeader == 0 {
		return 0
	}
	return max(u.responseHeader-time.Since(sent), time.Nanosecond)
}

// adopt tracks a connection to the instance: one dial opened, or one an
// event loop opened and hands to the goroutine path.
func (u *upstream) adopt(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, u: u}
	u.mu.Lock()
	u.conns[tc] = struct{}{}
	u.mu.Unlock()
	return tc
}

// rawConn is one of the fast path's connections to an instance.
type rawConn struct {
	c  *trackedConn
	br *bufio.Reader // reads through rawConn.Read
	bw *bufio.Writer
	// client is the writer of the client connection this one answers; it
	// is flushed before every read that may block, so that whatever the
	// instance sent so far (an event of a stream) is on its way.
	client    *bufio.Writer
	idleSince time.Time
	deadline  time.Time // the read deadline last set
	sock      sockIO
	rw        io.ReadWriter // c's socket: sock, or c itself, or an event loop's
}

func (rc *rawConn) Write(p []byte) (int, error) { return rc.rw.Write(p) }

func (rc *rawConn) Read(p []byte) (int, error) {
	if rc.client != nil && rc.client.Buffered() > 0 {
		rc.client.Flush() // an error sticks to the writer, and is seen at the next write
	}
	return rc.rw.Read(p)
}

// setReadDeadline sets the read deadline d from now, or none for 0. A
// deadline already within a second of it is left: setting one costs a
// timer operation on every request.
func (rc *rawConn) setReadDeadline(now time.Time, d time.Duration) {
	rc.deadline = coarseDeadline(rc.c, rc.deadline, now, d)
}

// coarseDeadline sets c's read deadline to now+d (none for d == 0) unless
// the one set last, cur, is at most a second earlier; it returns the
// deadline in force.
func coarseDeadline(c net.Conn, cur, now time.Time, d time.Duration) time.Time {
	var want time.Time
	if d > 0 {
		want = now.Add(d)
		if !cur.IsZero() && !cur.After(want) && want.Sub(cur) < time.Second {
			return cur
		}
	} else if cur.IsZero() {
		return cur
	}
	c.SetReadDeadline(want)
	return want
}

// get returns an idle connection to addr, or a new one; reused says which.
// replayable says whether the request could be sent again on a new
// connection if an idle one turns out to have been closed by the instance.
func (u *upstream) get(addr string, replayable bool, now time.Time) (rc *rawConn, reused bool, err error) {
	u.mu.Lock()
	for len(u.idle) > 0 {
		rc = u.idle[len(u.idle)-1]
		age := now.Sub(rc.idleSince)
		if age > rawIdleTimeout {
			u.idle = u.idle[:len(u.idle)-1]
			u.mu.Unlock()
			rc.c.Close()
			u.mu.Lock()
			continue
		}
		if !replayable && age > rawFreshFor {
			break // leave it for a request that can be sent again
		}
		u.idle[len(u.idle)-1] = nil
		u.idle = u.idle[:len(u.idle)-1]
		u.mu.Unlock()
		return rc, true, nil
	}
	u.mu.Unlock()
	c, err := u.dial(context.Background(), "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	rc = &rawConn{c: c.(*trackedConn)}
	rc.rw = rc.sock.use(rc.c.Conn)
	rc.bw = bufio.NewWriterSize(rc, 4<<10)
	rc.br = bufio.NewReaderSize(rc, 16<<10)
	return rc, false, nil
}

// put gives back a connection whose response was read to its end.
func (u *upstream) put(rc *rawConn, now time.Time) {
	rc.client = nil
	rc.idleSince = now
	u.mu.Lock()
	if u.retired || len(u.idle) >= maxIdleRaw {
		u.mu.Unlock()
		rc.c.Close()
		return
	}
	u.idle = append(u.idle, rc)
	u.mu.Unlock()
}

// closeIdle closes the idle connections and makes the pool close those
// given back from now on: it has been replaced.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle, u.retired = nil, true
	u.mu.Unlock()
	for _, rc := range idle {
		rc.c.Close()
	}
	u.transport.CloseIdleConnections()
}

// closeAll closes every connection to the instance, idle or in use; it
// returns how many were open.
func (u *upstream) closeAll() int {
	u.mu.Lock()
	conns := make([]*trackedConn, 0, len(u.conns))
	for c := range u.conns {
		conns = append(conns, c)
	}
	u.idle = nil
	u.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	u.transport.CloseIdleConnections()
	return len(conns)
}

type trackedConn struct {
	net.Conn
	u    *upstream
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.u.mu.Lock()
		delete(c.u.conns, c)
		c.u.mu.Unlock()
	})
	return c.Conn.Close()
}

// dialError marks a failure to connect: nothing of the request was sent,
// so it may be tried on another instance.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isDialError(err error) bool {
	var de *dialError
	return errors.As(err, &de)
}

// idempotent reports whether a request may be sent twice: its method says
// so (RFC 9110) and it has no body that the first attempt could have used.
func idempotent(r *http.Request) bool {
	return idempotentMethod(r.Method) && r.ContentLength == 0 && (r.Body == nil || r.Body == http.NoBody)
}

func idempotentMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
