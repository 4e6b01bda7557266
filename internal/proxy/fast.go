package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The fast path. net/http's server and Transport cost a Go proxy half of
// HAProxy's throughput here (shared/PERFORMANCE.md): header maps, a
// goroutine hand-off per request in the Transport, an extra read. So a
// plain-HTTP load balancer serves each connection with a loop of its own
// over raw connections, with pooled raw connections to the instances, and
// forwards every request it is sure about. Everything else (TLS, HTTP/2,
// upgrades and WebSockets, Expect, chunked request bodies, preview and
// sticky routing, pauses and maintenance, heads larger than its buffer,
// anything odd) is handed, with the bytes already read, to the listener's
// net/http server, which keeps the connection from then on. A connection
// can move from the fast path to net/http between two requests, never
// back.

// fastServer is a listener's fast path: it tracks its connections so that
// shutdown can close the idle ones and wait for the busy ones.
type fastServer struct {
	l       *listener
	closing atomic.Bool

	mu    sync.Mutex
	conns map[*fastConn]struct{}

	idleWorkers chan net.Conn // goroutines waiting for a connection to serve
	stop        chan struct{} // closed by shutdown: idle workers end

	// What the event loops (loop_linux.go) did: requests they answered
	// themselves, connections they handed to goroutines.
	loopAnswered, loopHandedOff atomic.Uint64
}

func newFastServer(l *listener) *fastServer {
	return &fastServer{l: l, conns: map[*fastConn]struct{}{}, idleWorkers: make(chan net.Conn), stop: make(chan struct{})}
}

// workerIdle is how long a goroutine that has served a connection waits
// for the next before it ends. Reusing it spares each new connection a
// goroutine that grows its stack, and new buffers.
const workerIdle = 10 * time.Second

// handle serves a new connection on an idle worker, or a new one.
func (s *fastServer) handle(c net.Conn) {
	select {
	case s.idleWorkers <- c:
	default:
		go s.work(c)
	}
}

// work serves connections one after another until none comes for
// workerIdle, or shutdown.
func (s *fastServer) work(c net.Conn) {
	fc := s.newConn()
	timer := time.NewTimer(workerIdle)
	defer timer.Stop()
	for {
		if fc.serveConn(c) {
			fc = s.newConn() // its buffers went to net/http with the connection
		}
		timer.Reset(workerIdle)
		select {
		case c = <-s.idleWorkers:
		case <-timer.C:
			return
		case <-s.stop:
			return
		}
	}
}

func (s *fastServer) newConn() *fastConn {
	fc := &fastConn{s: s, br: bufio.NewReaderSize(nil, fastReadBuffer), bw: bufio.NewWriterSize(nil, fastWriteBuffer)}
	fc.req.headers = make([]h1Header, 0, 16)
	fc.resp.headers = make([]h1Header, 0, 16)
	return fc
}

// serveConn serves one connection with fc's buffers; it reports whether
// the connection was handed to net/http.
func (fc *fastConn) serveConn(c net.Conn) (handedOff bool) {
	fc.attach(c)
	fc.br.Reset(&fc.io)
	fc.bw.Reset(&fc.io)
	fc.served, fc.unread = 0, false
	var peer netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		peer = a.AddrPort().Addr().Unmap()
	}
	fc.setPeer(peer)
	if !fc.s.track(fc) {
		c.Close()
		return false
	}
	return fc.serve(nil)
}

// attach makes c the connection fc reads and writes, keeping what its
// buffers hold.
func (fc *fastConn) attach(c net.Conn) {
	fc.c = c
	fc.io.rw = fc.sock.use(c)
	fc.deadline = time.Time{}
	fc.state.Store(connActive)
}

func (fc *fastConn) setPeer(peer netip.Addr) {
	if peer != fc.peer || fc.peerStr == "" {
		fc.peer, fc.peerStr = peer, peer.String()
	}
}

// track counts fc among the connections that shutdown waits for; false
// when the fast path is shutting down.
func (s *fastServer) track(fc *fastConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[fc] = struct{}{}
	return true
}

// serve serves the tracked connection fc, first finishing what the event
// loop began (first, when not nil, reports whether to go on), and closes
// it unless it was handed to net/http, which it reports.
func (fc *fastConn) serve(first func() bool) (handedOff bool) {
	if first == nil || first() {
		handedOff = fc.loop()
	}
	s := fc.s
	s.mu.Lock()
	delete(s.conns, fc)
	s.mu.Unlock()
	if !handedOff {
		fc.sock.closeWrite()
		fc.c.Close()
	}
	return handedOff
}

// Connection states; a connection moves from idle to active only by a
// compare-and-swap, and shutdown closes only those it moves from idle to
// closed.
const (
	connActive int32 = iota
	connIdle
	connClosed
)

// fastConn is a client connection on the fast path, and the buffers of
// the worker serving it, which it keeps for the next.
type fastConn struct {
	s        *fastServer
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	state    atomic.Int32
	peer     netip.Addr
	peerStr  string
	deadline time.Time // the read deadline set last
	served   int       // requests answered on this connection
	kept     []byte    // see keepHead
	unread   bool      // a request body was left unread: close gently
	num      [20]byte  // for formatting numbers
	sock     sockIO    // c's socket, read and written without the scheduler's hand-offs; it keeps the send timeout
	io       connIO    // what br and bw read and write through: sock, or an event loop's socket

	// sent is a connection to an instance on which an event loop sent
	// the request before it handed the connection over; the first
	// attempt reads its answer there. sentReused says it was an idle one.
	sent       *rawConn
	sentReused bool

	req  h1Request
	resp h1Response
}

// Buffer sizes of a client connection. A request head larger than the
// read buffer takes net/http's path, whose limit is the load balancer's.
const (
	fastReadBuffer  = 4 << 10
	fastWriteBuffer = 4 << 10
)

// loop serves requests until the connection ends or is handed to
// net/http; it reports which.
func (fc *fastConn) loop() (handedOff bool) {
	for {
		st := fc.s.l.settings.Load()
		if fc.s.closing.Load() || st.tls {
			return false // shut down, or the load balancer now speaks TLS: not on this connection
		}
		fc.sock.send = st.send
		fc.state.Store(connIdle)
		wait := st.idle
		if fc.served == 0 {
			wait = st.readHeader
		}
		n, err := fc.readHead(st, wait)
		if !fc.state.CompareAndSwap(connIdle, connActive) {
			return false // shutdown closed it while it was idle
		}
		if err != nil {
			return false
		}
		if n == 0 {
			fc.req.slow = slowTooLarge
		}
		var b *backend
		if fc.req.slow == "" {
			b = fc.route(st)
		}
		if fc.req.slow != "" {
			fc.s.l.p.log.Debug("connection handed to net/http", "load_balancer", st.lb, "reason", fc.req.slow)
			fc.handOff()
			return true
		}
		if !fc.afterRequest(fc.serveRequest(st, b, n)) {
			return false
		}
	}
}

// afterRequest ends a request whose answer is written (keep says whether
// the connection may serve another) and reports whether to read the next.
func (fc *fastConn) afterRequest(keep bool) bool {
	fc.served++
	if !keep {
		fc.lingeringClose()
		return false
	}
	if fc.br.Buffered() == 0 { // pipelined requests are answered in one write
		if fc.bw.Flush() != nil {
			return false
		}
		// Let the goroutines whose instances have answered go first,
		// rather than take this client's next request ahead of them:
		// an event loop serves connections in turn, and so tail
		// latency is lower (and throughput a little higher) this way.
		runtime.Gosched()
	}
	return true
}

// connIO is what a client connection's buffers read and write through:
// its socket as sockIO, or as an event loop's, which it can hand over
// without losing what the buffers hold.
type connIO struct{ rw io.ReadWriter }

func (c *connIO) Read(p []byte) (int, error)  { return c.rw.Read(p) }
func (c *connIO) Write(p []byte) (int, error) { return c.rw.Write(p) }

// readHead waits up to wait for a whole request head, and then up to
// read_header more while it is incomplete, and parses it into fc.req. It
// returns the head's length, or 0 when the buffer filled up first.
func (fc *fastConn) readHead(st *settings, wait time.Duration) (int, error) {
	now := time.Now()
	fc.deadline = coarseDeadline(fc.c, fc.deadline, now, wait)
	if _, err := fc.br.Peek(1); err != nil {
		return 0, err
	}
	for tries := 0; ; tries++ {
		buf, _ := fc.br.Peek(fc.br.Buffered())
		if n := parseRequestHead(buf, &fc.req); n != 0 || len(buf) == fc.br.Size() {
			return n, nil
		}
		if tries == 0 && st.readHeader > 0 {
			fc.deadline = coarseDeadline(fc.c, fc.deadline, time.Now(), st.readHeader)
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// route finds the request's backend, or marks the request slow when the
// fast path must leave it to net/http.
func (fc *fastConn) route(st *settings) *backend {
	r := &fc.req
	tb := fc.s.l.p.table.Load()
	rt := tb.match(st.lb, hostOnly(bstr(r.host)), bstr(r.path))
	if rt == nil {
		r.slow = slowUnrouted
		return nil
	}
	b := tb.backend(rt)
	if st.maxBody > 0 && r.contentLength > st.maxBody {
		r.slow = slowBodyMax
		return nil
	}
	if b.gate != nil || (b.sticky != nil && len(b.slots) > 1) {
		r.slow = slowRouting
		return nil
	}
	if pv := b.preview; pv != nil {
		if (pv.Cookie != "" && r.hasCookie) || (pv.Header != "" && r.header(pv.Header) != nil) {
			r.slow = slowRouting
			return nil
		}
	}
	return b
}

// header returns the first value of a header, or nil.
func (r *h1Request) header(name string) []byte {
	for i := range r.headers {
		if len(r.headers[i].name) == len(name) && equalFoldString(r.headers[i].name, name) {
			return r.headers[i].value
		}
	}
	return nil
}

func equalFoldString(b []byte, s string) bool {
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// lingeringClose flushes the answer and, when the client may still be
// sending a body nobody read, stops writing and reads on for a moment
// before closing, as net/http does: closing at once would reset the
// connection and the client could lose the answer.
func (fc *fastConn) lingeringClose() {
	fc.bw.Flush()
	if !fc.unread {
		return
	}
	if cw, ok := fc.c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	fc.c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	var buf [4 << 10]byte
	for {
		if _, err := fc.c.Read(buf[:]); err != nil {
			return
		}
	}
}

// handOff gives the connection, with what has been read of it, to the
// listener's net/http server.
func (fc *fastConn) handOff() {
	fc.bw.Flush()
	fc.c.SetReadDeadline(time.Time{}) // net/http sets its own
	enableKeepAlive(fc.c)
	fc.s.l.serveHTTP(&replayConn{Conn: fc.c, r: fc.br})
}

// replayConn reads what the fast path had buffered before reading on.
type replayConn struct {
	net.Conn
	r *bufio.Reader // nil once drained
}

// CloseWrite lets net/http close gently after an error, as it does on a
// TCP connection of its own.
func (c *replayConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite shuts c's writing side, when it has one to shut.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p)
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}

// shutdown stops the fast path: idle connections close at once, busy ones
// after their response, and any left when ctx is done are closed.
func (s *fastServer) shutdown(ctx context.Context) {
	s.closing.Store(true)
	close(s.stop)
	for {
		s.mu.Lock()
		n := len(s.conns)
		for fc := range s.conns {
			if fc.state.CompareAndSwap(connIdle, connClosed) {
				fc.c.Close()
			}
		}
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			for fc := range s.conns {
				fc.c.Close()
			}
			s.mu.Unlock()
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// serveRequest forwards the parsed request whose head is n bytes long and
// answers the client; it reports whether the connection may serve another
// request.
func (fc *fastConn) serveRequest(st *settings, b *backend, n int) bool {
	start := time.Now()
	r := &fc.req
	ex := exchange{start: start}
	if st.accessLog {
		ex.client = fc.clientOf(st)
	}
	fc.keepHead(&ex)
	t := b.pickWeighted()
	if t == nil {
		keep := fc.skipBody(n)
		fc.plainError(&ex, 503, "teal: no healthy instance of service "+b.service, !keep)
		fc.logAccess(st, &ex)
		return keep && !r.close
	}
	return fc.forwardAndLog(st, b, t, n, &ex)
}

// forwardAndLog forwards the request to t (acquired by the caller), logs
// it, and reports whether the connection may serve another request.
func (fc *fastConn) forwardAndLog(st *settings, b *backend, t *Target, n int, ex *exchange) bool {
	keep := fc.forward(st, b, t, n, ex)
	fc.logAccess(st, ex)
	return keep && !fc.req.close && !fc.s.closing.Load()
}

// keepHead copies what is needed of the request head once its body has
// been read (which reuses the buffer the head is in) to a buffer of the
// connection's own: method, host, path and request ID.
func (fc *fastConn) keepHead(ex *exchange) {
	r := &fc.req
	k := fc.kept[:0]
	k = append(k, r.method...)
	k = append(k, r.host...)
	k = append(k, r.path...)
	id := r.header(RequestIDHeader)
	if validRequestIDBytes(id) {
		k = append(k, id...)
	} else {
		k = appendRequestID(k)
	}
	fc.kept = k
	m, h, p := len(r.method), len(r.host), len(r.path)
	r.method, r.host, r.path = k[:m:m], k[m:m+h:m+h], k[m+h:m+h+p:m+h+p]
	ex.requestID = k[m+h+p:]
}

// exchange is what one request came to, for the counters and the log.
type exchange struct {
	start     time.Time
	requestID []byte
	client    string // for the access log only
	status    int
	bytes     int64
	target    *Target
	retried   bool
}

// skipBody discards the request head and a body that was not forwarded;
// it reports whether the connection can still be used.
func (fc *fastConn) skipBody(n int) bool {
	fc.br.Discard(n)
	if cl := fc.req.contentLength; cl > 0 {
		if int64(fc.br.Buffered()) < cl {
			fc.unread = true
			return false // not worth reading: close instead
		}
		fc.br.Discard(int(cl))
	}
	return true
}

// plainError answers with a short text, as plainError does for net/http.
func (fc *fastConn) plainError(ex *exchange, code int, msg string, close bool) {
	ex.status = code
	w := fc.bw
	w.WriteString("HTTP/1.1 ")
	w.WriteString(strconv.Itoa(code))
	w.WriteByte(' ')
	w.WriteString(statusText(code))
	w.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n")
	w.WriteString("X-Request-Id: ")
	w.Write(ex.requestID)
	w.WriteString("\r\nContent-Length: ")
	w.WriteString(strconv.Itoa(len(msg) + 1))
	if close {
		w.WriteString("\r\nConnection: close")
	}
	w.WriteString("\r\n\r\n")
	w.WriteString(msg)
	w.WriteByte('\n')
	ex.bytes = int64(len(msg) + 1)
}

func statusText(code int) string {
	switch code {
	case 413:
		return "Request Entity Too Large"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return "Error"
}

// errClient marks a failure on the client's side of the exchange.
var errClient = errors.New("client connection failed")
