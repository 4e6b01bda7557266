package server

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/sendtimeout"
)

// ConnLimits bound what clients of the API and of the admin listener can
// hold of the server, each listener on its own: so that a client that
// opens connections and sends nothing, or sends its headers a byte at a
// time, or keeps connections idle, cannot use up the server's goroutines,
// memory or file descriptors, which its load balancers and instances
// need. Zero values mean the defaults.
type ConnLimits struct {
	// ReadHeader is how long a client has to send a request's headers
	// (default 10s).
	ReadHeader time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request (default 2m). A request that is being answered, such as a
	// followed log or the dashboard's stream, is not idle.
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64KiB); larger
	// ones get 431.
	MaxHeaderBytes int
	// MaxConns is how many connections a listener serves at once (default
	// 512). Past it, new connections wait in the kernel's queue until one
	// closes; the timeouts above make sure one does.
	MaxConns int
	// Send is how long a client may leave a write of an answer untaken,
	// between two writes (default 1m, as a load balancer's
	// timeouts.send): a client that follows a log or the events and stops
	// reading is disconnected then, and its slot freed.
	Send time.Duration
}

// The defaults of ConnLimits.
const (
	DefaultReadHeader     = 10 * time.Second
	DefaultIdle           = 2 * time.Minute
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxConns       = 512
	DefaultSend           = time.Minute
)

func (l ConnLimits) withDefaults() ConnLimits {
	if l.ReadHeader <= 0 {
		l.ReadHeader = DefaultReadHeader
	}
	if l.Idle <= 0 {
		l.Idle = DefaultIdle
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.Send <= 0 {
		l.Send = DefaultSend
	}
	return l
}

// serveLimited serves h on ln within limits, until the returned server is
// shut down.
func serveLimited(ln net.Listener, h http.Handler, limits ConnLimits, onErr func(error)) *http.Server {
	limits = limits.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeader,
		IdleTimeout:       limits.Idle,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
	}
	go func() {
		if err := srv.Serve(limitListener(ln, limits.MaxConns, limits.Send)); err != nil && err != http.ErrServerClosed {
			onErr(err)
		}
	}()
	return srv
}

// limitListener accepts at most n connections at a time: Accept waits
// for one to close first. Every write must be taken within send.
func limitListener(ln net.Listener, n int, send time.Duration) net.Listener {
	return &limitedListener{Listener: ln, slots: make(chan struct{}, n), done: make(chan struct{}), send: send}
}

type limitedListener struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
	send  time.Duration
}

func (l *limitedListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	send := func() time.Duration { return l.send }
	return &limitedConn{Conn: &sendtimeout.Conn{Conn: c, Timeout: send}, release: func() { <-l.slots }}, nil
}

func (l *limitedListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
