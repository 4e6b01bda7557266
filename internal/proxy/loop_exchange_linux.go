//go:build linux

package proxy

import (
	"bufio"
	"errors"
	"net/netip"
	"syscall"
	"time"
)

// An event loop's exchanges (loop_linux.go has the loop): reading a
// client's request, sending it on the loop's own connection to the
// instance, and writing the answer once it is whole.

// serve reads the client's next request and sends it on, or waits for it.
func (lp *eventLoop) serve(lc *loopConn) {
	fc := lc.fc
	st := lp.l.settings.Load()
	if st.tls {
		lp.close(lc) // the load balancer speaks TLS now: not on this connection
		return
	}
	n, err := lp.readHead(fc)
	switch {
	case errors.Is(err, errWouldBlock):
		lp.waitForClient(lc, st)
		return
	case err != nil:
		lp.close(lc)
		return
	}
	var b *backend
	if n != 0 && fc.req.slow == "" && fc.req.contentLength <= 0 {
		b = fc.route(st)
	}
	if b == nil { // a body, or what the fast path hands to net/http
		lp.handOff(lc, nil)
		return
	}
	t := b.pickWeighted()
	if t == nil {
		lp.handOff(lc, nil) // which answers 503
		return
	}
	lp.start(lc, st, b, t, n)
}

// readHead parses the request head once it is whole; 0 with no error
// means the buffer filled up first.
func (lp *eventLoop) readHead(fc *fastConn) (int, error) {
	for {
		buf, _ := fc.br.Peek(fc.br.Buffered())
		if len(buf) > 0 {
			if n := parseRequestHead(buf, &fc.req); n != 0 || len(buf) == fc.br.Size() {
				return n, nil
			}
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			return 0, err
		}
	}
}

// waitForClient watches the connection until its request comes, for as
// long as the fast path would: idle (read_header for the first request),
// then read_header once the head has begun.
func (lp *eventLoop) waitForClient(lc *loopConn, st *settings) {
	if !lc.watched {
		lc.watched = true
		lp.ctl(syscall.EPOLL_CTL_ADD, lc.fd, syscall.EPOLLIN|syscall.EPOLLRDHUP|epollET)
	}
	now := time.Now()
	switch {
	case !lc.reading:
		lc.reading = true
		wait := st.idle
		if lc.fc.served == 0 {
			wait = st.readHeader
		}
		until := deadlineAfter(now, wait)
		if lc.fc.br.Buffered() > 0 && st.readHeader > 0 {
			until = now.Add(st.readHeader)
		}
		lp.setUntil(lc, until)
	case lc.fc.br.Buffered() > 0 && st.readHeader > 0 && (lc.until.IsZero() || lc.until.Sub(now) > st.readHeader):
		lp.setUntil(lc, now.Add(st.readHeader))
	}
}

func deadlineAfter(now time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return now.Add(d)
}

// start sends the request to t (acquired), on an idle connection of the
// loop's or a new one.
func (lp *eventLoop) start(lc *loopConn, st *settings, b *backend, t *Target, n int) {
	fc := lc.fc
	lc.reading = false
	lc.ex = exchange{start: time.Now()}
	if st.accessLog {
		lc.ex.client = fc.clientOf(st)
	}
	fc.keepHead(&lc.ex)
	lc.ex.target = t
	lc.st, lc.b, lc.t, lc.n = st, b, t, n
	lc.replayable = idempotentMethod(bstr(fc.req.method))
	up := lp.get(t, lc.replayable, lc.ex.start)
	if up == nil { // not at once: the goroutine path dials, and says what failed
		t.release()
		lp.handOff(lc, nil)
		return
	}
	lc.up, up.client = up, lc
	up.head, up.reparse = 0, false
	fc.writeRequestHead(up.rc.bw, st, lc.ex.requestID)
	if up.connecting {
		lp.setUntil(lc, lc.ex.start.Add(loopPatience))
		return
	}
	lp.send(lc)
}

// send writes the request head to the instance, whose answer the loop
// then waits for until response_header runs out.
func (lp *eventLoop) send(lc *loopConn) {
	up := lc.up
	if up.rc.bw.Flush() != nil || len(up.lio.pending) > 0 {
		// Closed by the instance, or full: the goroutine path sends it
		// again, on a connection of its own.
		lp.retry(lc)
		return
	}
	lp.setUntil(lc, deadlineAfter(lc.ex.start, up.pool.u.responseHeader))
}

// retry closes the exchange's connection to the instance, which took
// nothing of the request, and hands the client to a goroutine that sends
// it again.
func (lp *eventLoop) retry(lc *loopConn) {
	lp.closeUp(lc.up)
	lc.up = nil
	lc.t.release()
	lp.handOff(lc, nil)
}

// get returns an idle connection to t or a new one; nil when a new one
// cannot be opened at once.
func (lp *eventLoop) get(t *Target, replayable bool, now time.Time) *loopUp {
	u := t.up.Load()
	p := lp.pools[u]
	if p == nil {
		p = &loopPool{u: u, t: t}
		if ap, err := netip.ParseAddrPort(t.Addr); err == nil && ap.Addr().Zone() == "" {
			if a := ap.Addr(); a.Is4() {
				p.sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
			} else {
				p.sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
			}
		}
		lp.pools[u] = p
	}
	for k := len(p.idle); k > 0; k = len(p.idle) {
		up := p.idle[k-1]
		age := now.Sub(up.idleSince)
		if age > rawIdleTimeout {
			p.idle = p.idle[:k-1]
			lp.closeUp(up)
			continue
		}
		if !replayable && age > rawFreshFor {
			break // see rawFreshFor
		}
		p.idle[k-1] = nil
		p.idle = p.idle[:k-1]
		up.reused = true
		return up
	}
	return lp.dial(p)
}

func (lp *eventLoop) dial(p *loopPool) *loopUp {
	if p.sa == nil {
		return nil
	}
	family := syscall.AF_INET
	if _, ok := p.sa.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	connecting := false
	switch err := syscall.Connect(fd, p.sa); err {
	case nil:
	case syscall.EINPROGRESS, syscall.EINTR:
		connecting = true
	default:
		syscall.Close(fd)
		return nil
	}
	up := &loopUp{fd: fd, pool: p, connecting: connecting, rc: &rawConn{}}
	up.lio.fd = fd
	up.rc.rw = &up.lio
	up.rc.bw = bufio.NewWriterSize(up.rc, 4<<10)
	up.rc.br = bufio.NewReaderSize(up.rc, 16<<10)
	if lp.ctl(syscall.EPOLL_CTL_ADD, fd, syscall.EPOLLIN|syscall.EPOLLOUT|syscall.EPOLLRDHUP|epollET) != nil {
		syscall.Close(fd)
		return nil
	}
	lp.setSlot(fd, loopSlot{u: up})
	return up
}

// upstreamReady handles an event on a connection to an instance.
func (lp *eventLoop) upstreamReady(up *loopUp, events uint32) {
	lc := up.client
	switch {
	case lc == nil:
		// Idle: readable means closed by the instance (or an answer
		// nobody asked for), either way of no more use.
		var b [1]byte
		if _, e := sysRead(uintptr(up.fd), b[:]); e != syscall.EAGAIN {
			lp.dropIdle(up)
		}
	case up.connecting:
		if events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		if soerr, err := syscall.GetsockoptInt(up.fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || soerr != 0 {
			lp.retry(lc) // refused: the goroutine path takes the instance out and tries another
			return
		}
		up.connecting = false
		lp.send(lc)
	default:
		// An instance that closes after its answer often sends the FIN
		// with it: then no event would tell the idle connection's end.
		up.closed = up.closed || events&syscall.EPOLLRDHUP != 0
		lp.readAnswer(lc)
	}
}

// readAnswer reads the instance's answer and writes it to the client once
// it is whole; an answer the loop does not relay itself goes to a
// goroutine with the connection.
func (lp *eventLoop) readAnswer(lc *loopConn) {
	up, fc := lc.up, lc.fc
	br := up.rc.br
	for {
		buf, _ := br.Peek(br.Buffered())
		if up.head == 0 && len(buf) > 0 {
			h := parseResponseHead(buf, &fc.resp)
			resp := &fc.resp
			switch {
			case h < 0:
				lp.handOffExchange(lc) // which answers 502
				return
			case h > 0:
				body := bodiless(fc.req.method, resp.status)
				if resp.status < 200 || (!body && (resp.chunked || resp.untilClose)) {
					lp.handOffExchange(lc) // informational answers, streams
					return
				}
				up.head, up.total = h, h
				if !body {
					up.total += int(resp.contentLength)
				}
				if up.total > br.Size() {
					lp.handOffExchange(lc)
					return
				}
			case len(buf) == br.Size():
				lp.handOffExchange(lc) // which answers 502: too large
				return
			}
		}
		if up.head > 0 && len(buf) >= up.total {
			lp.finish(lc)
			return
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			switch {
			case errors.Is(err, errWouldBlock):
				if up.head > 0 {
					up.reparse = true // a read may move what the head points into
				}
			case len(buf) == 0 && up.reused && lc.replayable:
				lp.retry(lc) // the instance had closed the idle connection
			default:
				lp.handOffExchange(lc) // which says what failed
			}
			return
		}
	}
}

// finish writes the whole answer to the client, gives the connection to
// the instance back, and goes on with the client's next request.
func (lp *eventLoop) finish(lc *loopConn) {
	up, fc, t, ex := lc.up, lc.fc, lc.t, &lc.ex
	resp := &fc.resp
	br := up.rc.br
	if up.reparse {
		buf, _ := br.Peek(up.total)
		parseResponseHead(buf, resp)
	}
	fc.br.Discard(lc.n)
	fc.writeResponseHead(resp, ex)
	br.Discard(up.head)
	var err error
	if body := up.total - up.head; body > 0 {
		err = fc.relayN(br, int64(body), ex)
	}
	// Counted and logged before the client can see the answer, as on
	// the fast path, whose answer waits in its buffer until then.
	t.answeredRaw(resp.status, resp.reason)
	lc.up, up.client = nil, nil
	if resp.close || resp.untilClose || up.closed {
		lp.closeUp(up)
	} else {
		lp.putIdle(up)
	}
	t.stats.observe(ex.status, time.Since(ex.start))
	t.release()
	fc.logAccess(lc.st, ex)
	fc.served++
	lp.s.loopAnswered.Add(1)
	if err == nil {
		err = fc.bw.Flush()
	}
	keep := err == nil && !fc.req.close && !lp.s.closing.Load()
	switch {
	case len(lc.lio.pending) > 0:
		lp.handOffWriting(lc, keep)
	case !keep:
		lp.close(lc)
	default:
		lp.serve(lc)
	}
}

func (lp *eventLoop) putIdle(up *loopUp) {
	p := up.pool
	if len(p.idle) >= maxIdleRaw {
		lp.closeUp(up)
		return
	}
	up.idleSince = time.Now()
	up.reused = false
	p.idle = append(p.idle, up)
}

// dropIdle closes an idle connection and takes it out of its pool.
func (lp *eventLoop) dropIdle(up *loopUp) {
	p := up.pool
	for i, x := range p.idle {
		if x == up {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	lp.closeUp(up)
}

func (lp *eventLoop) closeUp(up *loopUp) {
	lp.table[up.fd] = loopSlot{}
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(up.fd), 0, 0)
	up.fd = -1
}
