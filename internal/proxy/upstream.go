package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// upstream is a target's connection pool: its own transport, so that its
// timeouts are the service's and so that every connection it opens is
// known, and can be closed when a drain runs out of time (which is what
// ends a WebSocket tunnelled to a draining instance).
type upstream struct {
	transport *http.Transport

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func newUpstream(timeouts spec.UpstreamTimeouts) *upstream {
	u := &upstream{conns: map[*trackedConn]struct{}{}}
	dialer := &net.Dialer{Timeout: timeouts.Connect.D(), KeepAlive: 30 * time.Second}
	u.transport = &http.Transport{
		Proxy: nil, // never send instance traffic through an HTTP proxy from the environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, &dialError{err: err}
			}
			tc := &trackedConn{Conn: c, u: u}
			u.mu.Lock()
			u.conns[tc] = struct{}{}
			u.mu.Unlock()
			return tc, nil
		},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeouts.ResponseHeader.D(),
		DisableCompression:    true, // pass bodies through as the instance wrote them
	}
	return u
}

// closeAll closes every connection to the instance, idle or in use; it
// returns how many were open.
func (u *upstream) closeAll() int {
	u.mu.Lock()
	conns := make([]*trackedConn, 0, len(u.conns))
	for c := range u.conns {
		conns = append(conns, c)
	}
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
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return r.ContentLength == 0 && (r.Body == nil || r.Body == http.NoBody)
	}
	return false
}
