package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// serve is the request path of every listener except the redirect: find
// the service (by route, or the preview listener's own), wait at a pause,
// pick a healthy target, forward, count, log.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, st settings) {
	start := time.Now()
	info := inspect(r, st.trusted)
	w.Header().Set(RequestIDHeader, info.requestID)
	rec := &recorder{ResponseWriter: w}
	defer func() {
		if st.accessLog {
			p.logRequest(r, rec, info, st, time.Since(start))
		}
	}()
	if st.maxBody > 0 {
		if r.ContentLength > st.maxBody {
			plainError(rec, http.StatusRequestEntityTooLarge, "teal: the request body is larger than this load balancer accepts")
			return
		}
		r.Body = http.MaxBytesReader(rec, r.Body, st.maxBody)
	}
	if r.Body != nil && r.Body != http.NoBody {
		info.body = &clientBody{ReadCloser: r.Body}
		r.Body = info.body
	}
	r = withInfo(r, info)

	resumed := false
	for {
		b, ok := p.backendFor(rec, r, st)
		if !ok {
			return
		}
		if g := b.gate; g != nil && !resumed {
			if !g.wait(rec, r) {
				return
			}
			resumed = true // route again, on the table that resumed it
			continue
		}
		preview := st.service != "" || b.wantsPreview(r)
		t := b.pick(r, preview)
		if t == nil {
			plainError(rec, http.StatusServiceUnavailable, "teal: no healthy instance of service "+b.service)
			return
		}
		if preview {
			rec.Header().Set("X-Teal-Slot", string(t.Slot))
		}
		if b.sticky != nil && len(b.slots) > 1 {
			setSticky(rec, r, b, t, info)
		}
		info.backend = b
		p.forward(rec, r, t)
		return
	}
}

// backendFor finds the service a request goes to, or answers it.
func (p *Proxy) backendFor(w http.ResponseWriter, r *http.Request, st settings) (*backend, bool) {
	t := p.table.Load()
	if st.slot != "" {
		return p.slotBackend(w, t, st)
	}
	if st.service != "" {
		if b := t.service(st.service); b != nil {
			return b, true
		}
		plainError(w, http.StatusServiceUnavailable, "teal: service "+st.service+" is not deployed")
		return nil, false
	}
	rt := t.match(st.lb, hostOnly(r.Host), r.URL.Path)
	if rt == nil {
		plainError(w, http.StatusNotFound, "teal: no route for this host and path")
		return nil, false
	}
	return t.backend(rt), true
}

// forward sends r to t and counts what came of it. t was acquired by
// pick; forward releases it.
func (p *Proxy) forward(w *recorder, r *http.Request, t *Target) {
	defer t.release()
	info := infoOf(r)
	info.target = t
	start := time.Now()
	t.rp.ServeHTTP(w, r)
	status := w.status
	if slices.Contains(info.failed, t) {
		status = 0 // the instance gave no answer; teal did (502, 504) or a retry did
	}
	t.stats.observe(status, time.Since(start))
}

// upstreamError handles a request whose instance failed to answer. A
// refused connection takes the instance out of rotation at once, and an
// idempotent request with no body is tried once more, on another healthy
// instance: nothing of it was sent, so a crashed instance costs no failed
// request. Otherwise: 413 for a body over the limit, 504 for an instance
// that did not answer in time, 502 for the rest. A client that went away
// gets nothing.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	info := infoOf(r)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		plainError(w, http.StatusRequestEntityTooLarge, "teal: the request body is larger than this load balancer accepts")
		return
	}
	if info != nil && info.body != nil && info.body.broken.Load() {
		// The client's fault (a malformed chunked body, a client gone in
		// the middle of it), not the instance's: neither a 502 nor a
		// failure counted against it, which a canary's analysis would
		// read as its error rate.
		plainError(w, http.StatusBadRequest, "teal: the request body could not be read")
		return
	}
	if info != nil {
		info.failed = append(info.failed, info.target)
	}
	if r.Context().Err() != nil {
		return // the client cancelled; there is no one to answer
	}
	if info != nil && isDialError(err) {
		failed := info.target
		failed.takeOut("connection failed: " + err.Error())
		if rec, ok := w.(*recorder); ok && !info.retried && idempotent(r) && info.backend != nil {
			if other := info.backend.pickOther(failed); other != nil {
				info.retried = true
				p.log.Debug("retrying on another instance", "failed", failed.ID, "instance", other.ID, "err", err)
				p.forward(rec, r, other)
				return
			}
		}
	}
	var nerr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()) {
		p.log.Warn("upstream timed out", "host", r.Host, "path", r.URL.Path, "err", err)
		plainError(w, http.StatusGatewayTimeout, "teal: the instance did not answer in time")
		return
	}
	p.log.Warn("upstream failed", "host", r.Host, "path", r.URL.Path, "err", err)
	plainError(w, http.StatusBadGateway, "teal: the instance failed to answer")
}

// clientBody notes that reading the client's request body failed.
type clientBody struct {
	io.ReadCloser
	broken atomic.Bool // read by the handler while the transport's goroutine may still read the body
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			b.broken.Store(true)
		}
	}
	return n, err
}

// setSticky gives a client that is not yet on a slot the cookie that
// keeps it on the one it got.
func setSticky(w http.ResponseWriter, r *http.Request, b *backend, t *Target, info *reqInfo) {
	if c, err := r.Cookie(b.sticky.Cookie); err == nil && c.Value == string(t.Slot) {
		return
	}
	ck := &http.Cookie{Name: b.sticky.Cookie, Value: string(t.Slot), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: info.proto == "https"}
	if b.sticky.MaxAge > 0 {
		ck.MaxAge = int(b.sticky.MaxAge.D().Seconds())
	}
	http.SetCookie(w, ck)
}

// recorder remembers what was answered, for the counters and the access
// log. Unwrap lets http.ResponseController reach the real writer, which is
// how ReverseProxy flushes streams and hijacks upgraded connections.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack takes over the connection for an upgrade (a WebSocket); the
// answer was 101 Switching Protocols.
func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

func (p *Proxy) logRequest(r *http.Request, w *recorder, info *reqInfo, st settings, d time.Duration) {
	p.logAccess(&st, accessEntry{method: r.Method, host: r.Host, path: r.URL.Path, proto: r.Proto,
		status: w.status, bytes: w.bytes, duration: d, client: info.client, requestID: info.requestID,
		target: info.target, retried: info.retried})
}

// accessEntry is one line of the access log.
type accessEntry struct {
	method, host, path, proto string
	status                    int
	bytes                     int64
	duration                  time.Duration
	client, requestID         string
	target                    *Target
	retried                   bool
}

func (p *Proxy) logAccess(st *settings, e accessEntry) {
	attrs := []any{
		"load_balancer", st.lb,
		"method", e.method,
		"host", e.host,
		"path", e.path,
		"proto", e.proto,
		"status", e.status,
		"bytes", e.bytes,
		"duration_ms", float64(e.duration.Microseconds()) / 1000,
		"client", e.client,
		"request_id", e.requestID,
	}
	if t := e.target; t != nil {
		attrs = append(attrs, "service", t.Service, "slot", string(t.Slot), "instance", t.ID)
	}
	if e.retried {
		attrs = append(attrs, "retried", true)
	}
	p.accessLog.Info("request", attrs...)
}

func plainError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
