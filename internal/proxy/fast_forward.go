package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Outcomes of one attempt to forward a request on the fast path.
var (
	errStale   = errors.New("idle connection closed by the instance") // nothing received: send again
	errTooBig  = errors.New("response head too large")
	errBadHead = errors.New("malformed response head")
)

// forward sends the request to t (acquired by the caller) and relays the
// answer; it reports whether the client connection may serve another
// request. A refused connection takes t out of rotation, and a request
// that can be sent twice is tried once more on another instance, as the
// net/http path does.
func (fc *fastConn) forward(st *settings, b *backend, t *Target, n int, ex *exchange) bool {
	r := &fc.req
	replayable := r.contentLength <= 0 && idempotentMethod(bstr(r.method))
	for {
		ex.target = t
		start := time.Now()
		keep, err := fc.attempt(st, t, n, ex, replayable)
		t.stats.observe(ex.status, time.Since(start)) // 0: the instance gave no answer
		t.release()
		if err == nil {
			return keep
		}
		var de *dialError
		if errors.As(err, &de) {
			t.takeOut("connection failed: " + err.Error())
			if replayable && !ex.retried {
				if other := b.pickOther(t); other != nil {
					ex.retried = true
					t = other
					continue
				}
			}
		}
		if errors.Is(err, errClient) {
			return false
		}
		if ex.status != 0 {
			return false // the answer had begun: all that can be done is close
		}
		consumed := r.contentLength > 0 || !keep
		code, msg := 502, "teal: the instance failed to answer"
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			code, msg = 504, "teal: the instance did not answer in time"
			t.p.log.Warn("upstream timed out", "host", string(r.host), "path", string(r.path), "err", err)
		} else {
			t.p.log.Warn("upstream failed", "host", string(r.host), "path", string(r.path), "err", err)
		}
		keepConn := !consumed && fc.skipBody(n)
		fc.plainError(ex, code, msg, !keepConn)
		return keepConn && !r.close
	}
}

// attempt is one try at forwarding to t. An error before anything was
// written to the client leaves ex.status 0; keep false with an error means
// the request's head or body was consumed.
func (fc *fastConn) attempt(st *settings, t *Target, n int, ex *exchange, replayable bool) (keep bool, err error) {
	up := t.up.Load()
	now := ex.start
	for try := 0; ; try++ {
		var rc *rawConn
		var reused bool
		if rc, reused = fc.sent, fc.sentReused; rc != nil {
			fc.sent = nil
			up = rc.c.u
			rc.client = fc.bw
			keep, err = fc.answer(up, rc, n, ex, up.responseHeaderLeft(ex.start))
		} else {
			rc, reused, err = up.get(t.Addr, replayable, now)
			if err != nil {
				return true, err
			}
			rc.client = fc.bw
			keep, err = fc.exchange(st, up, rc, n, ex)
		}
		if errors.Is(err, errStale) && reused && replayable && try == 0 {
			continue // the instance had closed it; net/http's Transport retries the same way
		}
		return keep, err
	}
}

// exchange sends the request on rc and relays the response. It puts rc
// back in the pool when the response was read to its end, and closes it
// otherwise.
func (fc *fastConn) exchange(st *settings, up *upstream, rc *rawConn, n int, ex *exchange) (keep bool, err error) {
	r := &fc.req
	fc.writeRequestHead(rc.bw, st, ex.requestID)
	if r.contentLength > 0 {
		fc.br.Discard(n)
		if err := fc.copyBody(rc.bw, r.contentLength); err != nil {
			rc.c.Close()
			return false, err
		}
	}
	if err := rc.bw.Flush(); err != nil {
		rc.c.Close()
		if r.contentLength <= 0 {
			return true, errStale
		}
		return false, err
	}
	return fc.answer(up, rc, n, ex, up.responseHeader)
}

// answer relays the instance's answer to the request sent on rc, whose
// head was n bytes long, waiting up to wait for its head (0: no limit);
// see exchange.
func (fc *fastConn) answer(up *upstream, rc *rawConn, n int, ex *exchange, wait time.Duration) (keep bool, err error) {
	r := &fc.req
	resp := &fc.resp
	head, err := readResponseHead(rc, resp, wait)
	if err != nil {
		rc.c.Close()
		if r.contentLength > 0 {
			return false, err
		}
		return true, err
	}
	if r.contentLength <= 0 {
		fc.br.Discard(n) // the request is answered: its head may go
	}
	fc.writeResponseHead(resp, ex)
	rc.br.Discard(head)
	keep, err = fc.relayBody(rc, resp, ex)
	if err != nil {
		rc.c.Close()
		return false, err
	}
	ex.target.answeredRaw(resp.status, resp.reason)
	if resp.close || resp.untilClose {
		rc.c.Close()
	} else {
		up.put(rc, time.Now())
	}
	return keep, nil
}

// copyBody sends n bytes of request body from the client.
func (fc *fastConn) copyBody(w *bufio.Writer, n int64) error {
	if int64(fc.br.Buffered()) < n {
		fc.deadline = coarseDeadline(fc.c, fc.deadline, time.Now(), 0) // uploads take the time they take
	}
	for n > 0 {
		if fc.br.Buffered() == 0 {
			if _, err := fc.br.Peek(1); err != nil {
				return errors.Join(errClient, err)
			}
		}
		k := min(int64(fc.br.Buffered()), n)
		b, _ := fc.br.Peek(int(k))
		if _, err := w.Write(b); err != nil {
			return err
		}
		fc.br.Discard(int(k))
		n -= k
	}
	return nil
}

// readResponseHead waits up to timeout for the instance's response head,
// passing informational (1xx) answers on to the client as they come. It
// returns the head's length; the head stays in rc's buffer.
func readResponseHead(rc *rawConn, resp *h1Response, timeout time.Duration) (int, error) {
	rc.setReadDeadline(time.Now(), timeout)
	got := false
	for {
		if rc.br.Buffered() == 0 {
			if _, err := rc.br.Peek(1); err != nil {
				if !got && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
					return 0, errStale
				}
				return 0, err
			}
		}
		got = true
		buf, _ := rc.br.Peek(rc.br.Buffered())
		n := parseResponseHead(buf, resp)
		switch {
		case n < 0:
			return 0, errBadHead
		case n == 0 && len(buf) == rc.br.Size():
			return 0, errTooBig
		case n == 0:
			if _, err := rc.br.Peek(len(buf) + 1); err != nil {
				return 0, err
			}
		case resp.status == 101:
			return 0, errBadHead // no upgrade was asked for on this path
		case resp.status >= 100 && resp.status < 200:
			rc.client.Write(buf[:n]) // 103 Early Hints and the like go on at once
			rc.client.Flush()
			rc.br.Discard(n)
		default:
			return n, nil
		}
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// writeRequestHead writes the request line and headers for the instance:
// the client's, less hop-by-hop ones, with X-Forwarded-* and Forwarded
// set as setForwarded sets them on the net/http path.
func (fc *fastConn) writeRequestHead(w *bufio.Writer, st *settings, requestID []byte) {
	r := &fc.req
	w.Write(r.method)
	w.WriteByte(' ')
	w.Write(r.target)
	w.WriteString(" HTTP/1.1\r\n")
	for i := range r.headers {
		switch r.headers[i].kind {
		case hdrPlain, hdrHost, hdrCookie:
			w.Write(r.headers[i].line)
		}
	}
	trusted := len(st.trusted) > 0 && isTrusted(fc.peer, st.trusted)
	proto, host := "http", r.host
	if trusted {
		if p := r.header("X-Forwarded-Proto"); string(p) == "http" || string(p) == "https" {
			proto = bstr(p)
		}
		if h := r.header("X-Forwarded-Host"); len(h) > 0 {
			host = h
		}
	}
	w.WriteString("X-Forwarded-For: ")
	if trusted && fc.writeJoined(w, hdrXFF) {
		w.WriteString(", ")
	}
	w.WriteString(fc.peerStr)
	w.WriteString("\r\nX-Forwarded-Host: ")
	w.Write(host)
	w.WriteString("\r\nX-Forwarded-Proto: ")
	w.WriteString(proto)
	w.WriteString("\r\nForwarded: ")
	if trusted && fc.writeJoined(w, hdrForwarded) {
		w.WriteString(", ")
	}
	writeForwardedElement(w, fc.peer, fc.peerStr, r.host, proto)
	w.WriteString("\r\nX-Request-Id: ")
	w.Write(requestID)
	w.WriteString("\r\n\r\n")
}

// writeJoined writes the values of every header of a kind, joined by
// commas, and reports whether there was any.
func (fc *fastConn) writeJoined(w *bufio.Writer, kind headerKind) bool {
	any := false
	for i := range fc.req.headers {
		if h := &fc.req.headers[i]; h.kind == kind {
			if any {
				w.WriteString(", ")
			}
			w.Write(h.value)
			any = true
		}
	}
	return any
}

// writeForwardedElement writes what forwardedElement returns.
func writeForwardedElement(w *bufio.Writer, peer netip.Addr, peerStr string, host []byte, proto string) {
	w.WriteString("for=")
	if peer.Is6() {
		w.WriteString(`"[` + peerStr + `]"`)
	} else {
		w.WriteString(peerStr)
	}
	if len(host) > 0 {
		w.WriteString(";host=")
		if strings.ContainsAny(bstr(host), ":[]") {
			w.WriteByte('"')
			w.Write(host)
			w.WriteByte('"')
		} else {
			w.Write(host)
		}
	}
	w.WriteString(";proto=")
	w.WriteString(proto)
}

// writeResponseHead writes the instance's status and headers, less
// hop-by-hop ones, with teal's framing and request ID, to the client.
func (fc *fastConn) writeResponseHead(resp *h1Response, ex *exchange) {
	w := fc.bw
	ex.status = resp.status
	w.WriteString("HTTP/1.1 ")
	num := fc.num[:0] // a field: a local array would escape through Write
	w.Write(strconv.AppendInt(num, int64(resp.status), 10))
	w.WriteByte(' ')
	w.Write(resp.reason)
	w.WriteString("\r\n")
	for i := range resp.headers {
		h := &resp.headers[i]
		if h.kind == hdrHop || (equalFold(h.name, "x-request-id") && string(h.value) == string(ex.requestID)) {
			continue
		}
		w.Write(h.line)
	}
	w.WriteString("X-Request-Id: ")
	w.Write(ex.requestID)
	w.WriteString("\r\n")
	switch {
	case bodiless(fc.req.method, resp.status):
		if resp.contentLength >= 0 {
			w.WriteString("Content-Length: ")
			w.Write(strconv.AppendInt(num, resp.contentLength, 10))
			w.WriteString("\r\n")
		}
	case resp.chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case resp.contentLength >= 0:
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(num, resp.contentLength, 10))
		w.WriteString("\r\n")
	}
	if fc.req.close || (resp.untilClose && !bodiless(fc.req.method, resp.status)) || fc.s.closing.Load() {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
}

// relayBody passes the response body on as it arrives: rc flushes the
// client's writer before each read that may wait, so a stream (SSE) is
// never held back. It reports whether the client connection may go on.
func (fc *fastConn) relayBody(rc *rawConn, resp *h1Response, ex *exchange) (bool, error) {
	if bodiless(fc.req.method, resp.status) {
		return true, nil
	}
	if !(resp.contentLength >= 0 && int64(rc.br.Buffered()) >= resp.contentLength) {
		rc.setReadDeadline(time.Now(), 0) // the body takes the time it takes
	}
	switch {
	case resp.chunked:
		return true, fc.relayChunked(rc.br, ex)
	case resp.contentLength >= 0:
		return true, fc.relayN(rc.br, resp.contentLength, ex)
	default:
		err := fc.relayN(rc.br, -1, ex)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return false, err
	}
}

// relayN copies n bytes (n < 0: until EOF) from src to the client.
func (fc *fastConn) relayN(src *bufio.Reader, n int64, ex *exchange) error {
	for n != 0 {
		if src.Buffered() == 0 {
			if _, err := src.Peek(1); err != nil {
				return err
			}
		}
		k := int64(src.Buffered())
		if n > 0 {
			k = min(k, n)
		}
		b, _ := src.Peek(int(k))
		if _, err := fc.bw.Write(b); err != nil {
			return errors.Join(errClient, err)
		}
		src.Discard(int(k))
		ex.bytes += k
		if n > 0 {
			n -= k
		}
	}
	return nil
}

// relayChunked copies a chunked body, chunk by chunk and trailers too, as
// it came: the framing is checked, not changed.
func (fc *fastConn) relayChunked(src *bufio.Reader, ex *exchange) error {
	for {
		line, err := src.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return errBadHead
		}
		if _, err := fc.bw.Write(line); err != nil {
			return errors.Join(errClient, err)
		}
		if size == 0 {
			for { // trailers, then the empty line
				line, err := src.ReadSlice('\n')
				if err != nil {
					return err
				}
				if _, err := fc.bw.Write(line); err != nil {
					return errors.Join(errClient, err)
				}
				if string(line) == "\r\n" {
					return nil
				}
			}
		}
		if err := fc.relayN(src, size, ex); err != nil {
			return err
		}
		crlf, err := src.Peek(2)
		if err != nil {
			return err
		}
		if string(crlf) != "\r\n" {
			return errBadHead
		}
		fc.bw.Write(crlf)
		src.Discard(2)
	}
}

// logAccess writes the access log line of a fast-path request.
func (fc *fastConn) logAccess(st *settings, ex *exchange) {
	if !st.accessLog {
		return
	}
	fc.s.l.p.logAccess(st, accessEntry{
		method: string(fc.req.method), host: string(fc.req.host), path: string(fc.req.path), proto: "HTTP/1.1",
		status: ex.status, bytes: ex.bytes, duration: time.Since(ex.start),
		client: ex.client, requestID: string(ex.requestID), target: ex.target, retried: ex.retried,
	})
}

// clientOf is the client as the access log names it: the peer, or from
// X-Forwarded-For when the peer is a trusted proxy.
func (fc *fastConn) clientOf(st *settings) string {
	if len(st.trusted) == 0 || !isTrusted(fc.peer, st.trusted) {
		return fc.peerStr
	}
	var xff []string
	for i := range fc.req.headers {
		if fc.req.headers[i].kind == hdrXFF {
			xff = append(xff, string(fc.req.headers[i].value))
		}
	}
	return clientFrom(xff, st.trusted, fc.peerStr)
}
