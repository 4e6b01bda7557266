package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// handler returns the request path of one load balancer: match a route in
// the current table, pick a healthy target of the service, forward.
func (p *Proxy) handler(lb string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := p.table.Load().match(lb, hostOnly(r.Host), r.URL.Path)
		if rt == nil {
			plainError(w, http.StatusNotFound, "teal: no route for this host and path")
			return
		}
		t := rt.backend.pick()
		if t == nil {
			plainError(w, http.StatusServiceUnavailable, "teal: no healthy instance of service "+rt.service)
			return
		}
		defer t.release()
		t.rp.ServeHTTP(w, r)
	})
}

// upstreamError answers a request whose instance failed: 504 when it did
// not answer in time, 502 otherwise. A client that went away gets nothing.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client cancelled; there is no one to answer
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

func plainError(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
