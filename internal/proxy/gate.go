package proxy

import (
	"fmt"
	"html"
	"net/http"
	"sync"
	"time"
)

// gate is what stands before a paused service or one in maintenance.
type gate struct {
	maintenance bool   // answer 503 with message; otherwise hold requests
	message     string // for the maintenance page
	maxPause    time.Duration
	released    chan struct{} // closed when the service resumes
	once        sync.Once
}

func (g *gate) open() { g.once.Do(func() { close(g.released) }) }

// Mode says whether a service is serving, paused or in maintenance.
type Mode struct {
	Paused      bool   `json:"paused,omitempty"`
	Maintenance bool   `json:"maintenance,omitempty"`
	Message     string `json:"message,omitempty"`
}

// Pause holds new requests to a service until Resume, each for at most
// maxPause, after which it gets 503. Requests in flight go on. It is what
// lets a deploy that must stop the old revision first (a migration, a
// single-writer database) drop no request.
func (p *Proxy) Pause(service string, maxPause time.Duration) {
	p.setGate(service, &gate{maxPause: maxPause, released: make(chan struct{})})
}

// Maintenance answers every request to a service with 503 and a page
// that shows message, until Resume.
func (p *Proxy) Maintenance(service, message string) {
	p.setGate(service, &gate{maintenance: true, message: message, released: make(chan struct{})})
}

// Resume serves a paused service or one in maintenance again; held
// requests go on at once.
func (p *Proxy) Resume(service string) { p.setGate(service, nil) }

// Mode returns whether a service is paused or in maintenance.
func (p *Proxy) Mode(service string) Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.services[service]
	if c == nil || c.gate == nil {
		return Mode{}
	}
	return Mode{Paused: !c.gate.maintenance, Maintenance: c.gate.maintenance, Message: c.gate.message}
}

func (p *Proxy) setGate(service string, g *gate) {
	p.mu.Lock()
	c := p.config(service)
	old := c.gate
	c.gate = g
	p.publishService(service)
	p.mu.Unlock()
	if old != nil {
		old.open() // the new table is in place: held requests see it
	}
}

// wait holds a request at a pause. It returns true when the service
// resumed in time, false when the request got its answer here (503) or
// went away.
func (g *gate) wait(w http.ResponseWriter, r *http.Request) bool {
	if g.maintenance {
		maintenancePage(w, g.message)
		return false
	}
	timer := time.NewTimer(g.maxPause)
	defer timer.Stop()
	select {
	case <-g.released:
		return true
	case <-timer.C:
		w.Header().Set("Retry-After", "5")
		plainError(w, http.StatusServiceUnavailable, "teal: the service is paused")
		return false
	case <-r.Context().Done():
		return false
	}
}

func maintenancePage(w http.ResponseWriter, message string) {
	if message == "" {
		message = "This service is down for maintenance. Please try again soon."
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Retry-After", "60")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:15vh auto;padding:0 1em;color:#123}</style></head>
<body><h1>Down for maintenance</h1><p>%s</p></body></html>
`, html.EscapeString(message))
}
