//go:build linux

package proxy

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The event loop. A goroutine per connection waits for the network
// through the runtime's poller, which the scheduler consults only when it
// has nothing else to run; with a new connection per request that costs
// the tail (README, Performance: a connection spent 0.50 ms runnable of
// its 1.18 ms in teal). So on Linux each load balancer's connections are
// taken by event loops first, one per processor, as HAProxy and nginx
// take theirs: a loop accepts, reads the request, sends it on a
// connection of its own to the instance and writes the answer when it is
// whole, in turn with every other connection it has, over epoll sets of
// its own. A loop does only what completes without waiting long. It
// hands a connection to the goroutine fast path (fast.go), with whatever
// its buffers hold, as soon as that path has more to do: a request body,
// anything the fast path would hand to net/http, an answer that streams
// or is larger than its buffer, an instance that does not answer within
// response_header (the goroutine answers 504), a client slower to take
// its answer than its socket buffer.
//
// A loop waits for its epoll set through the runtime's poller too (the
// set is a file that becomes readable), so it parks as a goroutine does
// and leaves the processor to the others. Measured with a new connection
// per request (README, Performance), p99 went from 13 % above HAProxy's
// to 7 % below it, and CPU per request from 1.13× HAProxy's to 0.98×.

// loopPatience is how long a loop waits for a connection to an instance
// to open before it hands the request to a goroutine, which dials again
// within the service's connect timeout. An answer it waits for until the
// service's response_header runs out, and then a goroutine answers 504.
const loopPatience = 20 * time.Millisecond

// loopTick is how often at most a loop looks for connections past their
// time; loopIdleTick, how often one looks for idle connections to
// instances that are gone.
const (
	loopTick     = 10 * time.Millisecond
	loopIdleTick = 5 * time.Second
)

// Epoll flags the syscall package lacks or declares as negative numbers.
const (
	epollET        = 1 << 31
	epollExclusive = 1 << 28
)

var errWouldBlock = errors.New("would block")

// eventLoop is one loop of a listener: it owns its epoll set and every
// connection in it.
type eventLoop struct {
	l        *listener
	s        *fastServer
	lfd      int // the listening socket, a duplicate shared by the listener's loops
	ep       int
	epf      *os.File // ep, for the runtime's poller to wait on
	epr      syscall.RawConn
	wake     int // an eventfd: stop writes to it
	stopping atomic.Bool
	done     chan struct{}

	events   []syscall.EpollEvent
	nready   int
	waitFn   func(fd uintptr) bool
	deadline time.Time // the epoll file's read deadline, as set last

	table     []loopSlot // by file descriptor
	clients   int        // client connections in the table
	free      []*loopConn
	pools     map[*upstream]*loopPool
	lastSweep time.Time
	due       time.Time // the earliest until of a connection; zero: none
	paused    bool      // accepting failed (out of file descriptors?): resumed by the sweep
}

type loopSlot struct {
	c *loopConn
	u *loopUp
}

// loopConn is a client connection a loop serves.
type loopConn struct {
	fc      *fastConn
	fd      int
	lio     loopIO
	watched bool      // in the epoll set
	reading bool      // waiting for a request head; until is set
	until   time.Time // closed (reading) or handed over (exchanging) after this; zero: never

	// The exchange in flight; up is nil when there is none.
	up         *loopUp
	st         *settings
	b          *backend
	t          *Target
	n          int // the request head's length
	ex         exchange
	replayable bool
}

// loopUp is a loop's connection to an instance.
type loopUp struct {
	rc         *rawConn // its buffers; rc.c is set only when it is handed over
	fd         int
	lio        loopIO
	pool       *loopPool
	client     *loopConn // the exchange it serves; nil when idle
	connecting bool
	reused     bool
	closed     bool // the instance has shut its side: not to be used again
	head       int  // the answer's head length once parsed, else 0
	total      int  // and with its body
	reparse    bool
	idleSince  time.Time
}

// loopPool is a loop's idle connections to one instance, through one of
// its upstreams.
type loopPool struct {
	u    *upstream
	t    *Target
	sa   syscall.Sockaddr // nil: the address is not an IP literal (nor one with a zone): goroutines dial it
	idle []*loopUp
}

// loopIO reads and writes a non-blocking socket for a loop's buffers.
// What the socket has no room for is kept in pending, for the goroutine
// that takes the connection over to write first.
type loopIO struct {
	fd      int
	pending []byte
}

func (w *loopIO) Read(p []byte) (int, error) {
	for {
		n, e := sysRead(uintptr(w.fd), p)
		switch e {
		case 0:
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		case syscall.EINTR:
		case syscall.EAGAIN:
			return 0, errWouldBlock
		default:
			return 0, os.NewSyscallError("read", e)
		}
	}
}

func (w *loopIO) Write(p []byte) (int, error) {
	all := len(p)
	for len(w.pending) == 0 && len(p) > 0 {
		n, e := sysWrite(uintptr(w.fd), p)
		switch e {
		case 0:
			p = p[n:]
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
		default:
			return 0, os.NewSyscallError("write", e)
		}
		break
	}
	w.pending = append(w.pending, p...)
	return all, nil
}

// startLoops serves the listener's connections with event loops, and
// reports whether it could; when not, the accept goroutine does.
func (l *listener) startLoops() bool {
	if l.fast == nil {
		return false
	}
	lfd, err := dupFD(l.ln.(*net.TCPListener))
	if err != nil {
		l.p.log.Warn("event loops unavailable", "name", l.name, "err", err)
		return false
	}
	var loops []*eventLoop
	for range runtime.GOMAXPROCS(0) {
		lp, err := newEventLoop(l, lfd)
		if err != nil {
			l.p.log.Warn("event loops unavailable", "name", l.name, "err", err)
			for _, lp := range loops {
				lp.release(true)
			}
			syscall.Close(lfd)
			return false
		}
		loops = append(loops, lp)
	}
	// The loops accept on the duplicate alone: the listener's own
	// descriptor, in the runtime's poller, would wake it for every
	// connection, to no purpose.
	l.ln.Close()
	l.stopLoops = func() {
		for _, lp := range loops {
			lp.stop()
		}
	}
	var wg sync.WaitGroup
	for _, lp := range loops {
		wg.Go(lp.run)
	}
	go func() {
		wg.Wait()
		syscall.Close(lfd)
		close(l.done)
	}()
	return true
}

// dupFD returns a duplicate of the listening socket's descriptor: a loop
// accepts on it with system calls of its own.
func dupFD(ln *net.TCPListener) (int, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, cerr := -1, error(nil)
	err = rc.Control(func(s uintptr) {
		var e syscall.Errno
		var r uintptr
		r, _, e = syscall.RawSyscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			cerr = os.NewSyscallError("fcntl", e)
			return
		}
		fd = int(r)
	})
	if err == nil {
		err = cerr
	}
	return fd, err
}

func newEventLoop(l *listener, lfd int) (*eventLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wake, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(ep)
		return nil, os.NewSyscallError("eventfd2", e)
	}
	lp := &eventLoop{l: l, s: l.fast, lfd: lfd, ep: ep, wake: int(wake), done: make(chan struct{}),
		events: make([]syscall.EpollEvent, 128), pools: map[*upstream]*loopPool{}}
	lp.waitFn = lp.tryWait
	syscall.SetNonblock(ep, true) // so that the runtime's poller takes it
	lp.epf = os.NewFile(uintptr(ep), "epoll")
	fail := func(err error) (*eventLoop, error) {
		lp.release(true)
		return nil, err
	}
	if err := lp.epf.SetReadDeadline(time.Time{}); err != nil {
		return fail(err) // not pollable: the loop could not park
	}
	if lp.epr, err = lp.epf.SyscallConn(); err != nil {
		return fail(err)
	}
	if err := lp.ctl(syscall.EPOLL_CTL_ADD, lp.wake, syscall.EPOLLIN); err != nil {
		return fail(err)
	}
	if err := lp.ctl(syscall.EPOLL_CTL_ADD, lfd, syscall.EPOLLIN|epollExclusive); err != nil {
		return fail(err)
	}
	return lp, nil
}

// release closes the loop's epoll set, and its eventfd with it unless
// stop is to close that.
func (lp *eventLoop) release(wake bool) {
	if wake {
		syscall.Close(lp.wake)
	}
	if lp.epf != nil {
		lp.epf.Close()
	} else {
		syscall.Close(lp.ep)
	}
}

func (lp *eventLoop) ctl(op, fd int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(lp.ep), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	return nil
}

// stop makes the loop end: it stops accepting, closes its idle
// connections and hands those with an exchange in flight to goroutines.
func (lp *eventLoop) stop() {
	lp.stopping.Store(true)
	one := uint64(1)
	syscall.Write(lp.wake, (*[8]byte)(unsafe.Pointer(&one))[:])
	<-lp.done
	syscall.Close(lp.wake)
}

// epollWait takes what is ready without waiting.
func (lp *eventLoop) epollWait(fd uintptr) int {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&lp.events[0])), uintptr(len(lp.events)), 0, 0, 0)
	if e != 0 {
		return 0
	}
	return int(n)
}

func (lp *eventLoop) tryWait(fd uintptr) bool {
	lp.nready = lp.epollWait(fd)
	return lp.nready > 0
}

// poll returns the number of events ready, waiting for one (as a
// goroutine parks) until the next sweep is due.
func (lp *eventLoop) poll() (int, error) {
	if n := lp.epollWait(uintptr(lp.ep)); n > 0 {
		return n, nil
	}
	var want time.Time
	switch {
	case lp.paused:
		want = lp.lastSweep.Add(loopTick)
	case !lp.due.IsZero():
		want = later(lp.due, lp.lastSweep.Add(loopTick))
	case len(lp.pools) > 0:
		want = lp.lastSweep.Add(loopIdleTick)
	}
	if !want.Equal(lp.deadline) {
		lp.deadline = want
		lp.epf.SetReadDeadline(want)
	}
	lp.nready = 0
	err := lp.epr.Read(lp.waitFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil
	}
	return lp.nready, err
}

func (lp *eventLoop) run() {
	defer close(lp.done)
	lp.lastSweep = time.Now()
	for {
		n, err := lp.poll()
		if err != nil {
			lp.l.p.log.Error("event loop", "name", lp.l.name, "err", err)
			lp.stopping.Store(true)
		}
		for i := range n {
			ev := &lp.events[i]
			switch fd := int(ev.Fd); {
			case fd == lp.lfd:
				if !lp.stopping.Load() {
					lp.accept()
				}
			case fd == lp.wake:
			case fd < len(lp.table):
				switch slot := lp.table[fd]; {
				case slot.c != nil:
					if slot.c.up == nil { // with an exchange in flight, the loop reads on after the answer
						lp.serve(slot.c)
					}
				case slot.u != nil:
					lp.upstreamReady(slot.u, ev.Events)
				}
			}
		}
		if lp.stopping.Load() {
			lp.shutdown()
			return
		}
		if now := time.Now(); lp.sweepDue(now) {
			lp.sweep(now)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sweepDue says whether a sweep is due: a connection is past its time,
// or accepting is to resume, or idle connections to instances are to be
// looked at; and the last sweep was at least loopTick ago.
func (lp *eventLoop) sweepDue(now time.Time) bool {
	since := now.Sub(lp.lastSweep)
	switch {
	case since < loopTick:
		return false
	case lp.paused, !lp.due.IsZero() && !now.Before(lp.due):
		return true
	}
	return since >= loopIdleTick
}

// setUntil sets the time past which the sweep acts on lc.
func (lp *eventLoop) setUntil(lc *loopConn, t time.Time) {
	lc.until = t
	if !t.IsZero() && (lp.due.IsZero() || t.Before(lp.due)) {
		lp.due = t
	}
}

// accept takes the connections waiting, up to 64 at a time so that the
// connections already in the loop get their turn, and reads each one's
// request at once: it is usually there.
func (lp *eventLoop) accept() {
	for range 64 {
		var rsa syscall.RawSockaddrAny
		size := uint32(unsafe.Sizeof(rsa))
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(lp.lfd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)),
			syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
		case syscall.EAGAIN:
			return
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		default:
			lp.l.p.log.Warn("accept", "name", lp.l.name, "err", os.NewSyscallError("accept4", e))
			lp.ctl(syscall.EPOLL_CTL_DEL, lp.lfd, 0)
			lp.paused = true // until the sweep: do not spin
			return
		}
		fd := int(r)
		// As the net package sets it. An answer leaves in one write
		// either way, but without it the client's side spent some 3 µs
		// more per connection (measured against wrk; README).
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		if lp.l.settings.Load().tls {
			lp.toNetHTTP(fd)
			continue
		}
		lp.serve(lp.newConn(fd, peerOf(&rsa)))
	}
}

// peerOf is the address accept4 wrote.
func peerOf(rsa *syscall.RawSockaddrAny) netip.Addr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		return netip.AddrFrom4((*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa)).Addr)
	case syscall.AF_INET6:
		return netip.AddrFrom16((*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa)).Addr).Unmap()
	}
	return netip.Addr{}
}

// toNetHTTP gives a connection to the listener's net/http server: the
// load balancer speaks TLS now.
func (lp *eventLoop) toNetHTTP(fd int) {
	c, err := fdConn(fd)
	if err != nil {
		return
	}
	enableKeepAlive(c)
	lp.l.serveHTTP(c)
}

// fdConn makes a net.Conn of a socket (a duplicate of it), and closes
// fd whether or not it could.
func fdConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close()
	return net.FileConn(f)
}

func (lp *eventLoop) setSlot(fd int, s loopSlot) {
	for fd >= len(lp.table) {
		lp.table = append(lp.table, make([]loopSlot, len(lp.table)+64)...)
	}
	lp.table[fd] = s
}

func (lp *eventLoop) newConn(fd int, peer netip.Addr) *loopConn {
	var lc *loopConn
	if k := len(lp.free); k > 0 {
		lc = lp.free[k-1]
		lp.free = lp.free[:k-1]
	} else {
		lc = &loopConn{fc: lp.s.newConn()}
		lc.fc.io.rw = &lc.lio
	}
	fc := lc.fc
	fc.br.Reset(&fc.io)
	fc.bw.Reset(&fc.io)
	fc.served, fc.unread = 0, false
	fc.setPeer(peer)
	lc.fd, lc.lio.fd, lc.lio.pending = fd, fd, lc.lio.pending[:0]
	lc.watched, lc.reading, lc.until = false, false, time.Time{}
	lp.setSlot(fd, loopSlot{c: lc})
	lp.clients++
	return lc
}

// close ends a client connection. Unlike the fast path, which shuts its
// writing side first so that the close after it does not tell the
// scheduler it may block, a loop calls close alone: it sends the FIN.
func (lp *eventLoop) close(lc *loopConn) {
	lp.table[lc.fd] = loopSlot{}
	lp.clients--
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(lc.fd), 0, 0)
	if len(lp.free) < 64 {
		lp.free = append(lp.free, lc)
	}
}

// detach takes a client connection out of the loop and returns it as a
// net.Conn.
func (lp *eventLoop) detach(lc *loopConn) (net.Conn, error) {
	lp.table[lc.fd] = loopSlot{}
	lp.clients--
	if lc.watched {
		// The duplicate fdConn makes would keep the registration.
		lp.ctl(syscall.EPOLL_CTL_DEL, lc.fd, 0)
	}
	return fdConn(lc.fd)
}

// handOff gives a client connection to a goroutine of the fast path,
// which does first (nil: read the request in the buffer) and serves it on.
func (lp *eventLoop) handOff(lc *loopConn, first func() bool) {
	fc := lc.fc
	lc.fc = nil // its buffers go with it
	c, err := lp.detach(lc)
	if err != nil {
		lp.l.p.log.Warn("event loop: hand-off", "name", lp.l.name, "err", err)
		return
	}
	lp.s.loopHandedOff.Add(1)
	fc.attach(c)
	if !lp.s.track(fc) {
		c.Close()
		return
	}
	go fc.serve(first)
}

// handOffExchange gives a client connection and the exchange in flight on
// it to a goroutine, which reads the instance's answer on from where the
// loop left it.
func (lp *eventLoop) handOffExchange(lc *loopConn) {
	up, fc := lc.up, lc.fc
	lc.up, up.client = nil, nil
	lp.table[up.fd] = loopSlot{}
	lp.ctl(syscall.EPOLL_CTL_DEL, up.fd, 0)
	uc, err := fdConn(up.fd)
	if err != nil {
		lc.t.release()
		lp.l.p.log.Warn("event loop: hand-off", "name", lp.l.name, "err", err)
		lp.close(lc)
		return
	}
	rc := up.rc
	rc.c = up.pool.u.adopt(uc)
	rc.rw = rc.sock.use(uc)
	fc.sent, fc.sentReused = rc, up.reused
	st, b, t, n, ex := lc.st, lc.b, lc.t, lc.n, lc.ex
	lp.handOff(lc, func() bool {
		fc.sock.send = st.send
		return fc.afterRequest(fc.forwardAndLog(st, b, t, n, &ex))
	})
}

// handOffWriting gives a client connection whose answer its socket could
// not take whole to a goroutine, which writes the rest within the send
// timeout.
func (lp *eventLoop) handOffWriting(lc *loopConn, keep bool) {
	fc, st, pending := lc.fc, lc.st, lc.lio.pending
	lc.lio.pending = nil
	lp.handOff(lc, func() bool {
		fc.sock.send = st.send
		_, err := fc.io.Write(pending)
		return err == nil && keep
	})
}

// sweep closes clients that sent no request in time, hands over exchanges
// waiting on slow instances, and closes idle connections to instances
// that are gone or were idle too long.
func (lp *eventLoop) sweep(now time.Time) {
	lp.lastSweep = now
	lp.due = time.Time{}
	for _, slot := range lp.table {
		lc := slot.c
		if lc == nil || lc.until.IsZero() {
			continue
		}
		if now.Before(lc.until) {
			lp.setUntil(lc, lc.until)
			continue
		}
		lp.expire(lc) // read_header, idle, response_header or loopPatience ran out
	}
	for u, p := range lp.pools {
		u.mu.Lock()
		gone := u.retired
		u.mu.Unlock()
		if gone || p.t.closed.Load() {
			lp.closeIdle(p)
			delete(lp.pools, u)
			continue
		}
		for len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) > rawIdleTimeout {
			lp.closeUp(p.idle[0])
			p.idle = p.idle[1:]
		}
	}
	if lp.paused && lp.ctl(syscall.EPOLL_CTL_ADD, lp.lfd, syscall.EPOLLIN|epollExclusive) == nil {
		lp.paused = false
	}
}

// expire ends what lc waits for: a client's request, by closing it; a
// connection to an instance, by handing the request to a goroutine that
// dials again; an answer, by handing the exchange to a goroutine.
func (lp *eventLoop) expire(lc *loopConn) {
	switch {
	case lc.up == nil:
		lp.close(lc)
	case lc.up.connecting:
		lp.retry(lc)
	default:
		lp.handOffExchange(lc)
	}
}

func (lp *eventLoop) closeIdle(p *loopPool) {
	for _, up := range p.idle {
		lp.closeUp(up)
	}
	p.idle = nil
}

// shutdown ends the loop: see stop.
func (lp *eventLoop) shutdown() {
	for _, slot := range lp.table {
		if slot.c != nil {
			lp.expire(slot.c)
		}
	}
	for _, p := range lp.pools {
		lp.closeIdle(p)
	}
	lp.pools = nil
	lp.release(false)
}
