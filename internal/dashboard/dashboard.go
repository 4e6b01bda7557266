// Package dashboard is teal's web dashboard, served on the admin
// listener: one page (HTML, CSS and a little JavaScript, embedded in the
// binary, with no build step and nothing fetched from elsewhere) that
// shows every environment's services, their slots, weights, instances and
// health, the deployment in flight step by step, recent events, and each
// slot's request and error rates from the load balancer's counters. A
// server-sent event stream keeps it live; buttons promote, abort, pause,
// resume and roll back, each with the API token.
//
// Reading is open, like /metrics: the admin listener is on loopback by
// default. Every action needs the token as a bearer token; since a
// browser never sends that header by itself, another site cannot make a
// visitor's browser act (no CSRF), and the page refuses to be framed.
package dashboard

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is what the dashboard needs of the server: the state of every
// environment, and the operator's actions on a service.
type Backend interface {
	// Snapshot returns every environment's services with their slots and
	// instances (and the instances' request counters), and the last
	// events (at most that many) of all environments.
	Snapshot(events int) (Snapshot, error)
	// Act does what an operator asked of a service of an environment
	// ("" is the default). Its errors should be *api.Error, so that the
	// page gets the API's status and message.
	Act(env, service string, a Action, actor string) error
}

// Action is an operator's action on a service, named as the path that
// asks for it under /dashboard/services/NAME/, as in the API.
type Action string

// The actions. Pause and resume act on the deployment in flight, as
// `teal pause -deployment` does, not on the service's traffic.
const (
	Promote          Action = "promote"
	Abort            Action = "abort"
	PauseDeployment  Action = "deployment/pause"
	ResumeDeployment Action = "deployment/resume"
	Rollback         Action = "rollback"
)

// Actions lists every action, in the order the page shows them.
var Actions = []Action{Promote, Abort, PauseDeployment, ResumeDeployment, Rollback}

// Actor is who the event log says asked, for actions from the dashboard.
const Actor = "dashboard"

// How often the state is looked at, and the longest time between two
// snapshots the page receives (so that rates move even when nothing else
// does); rates are over rateSpan.
const (
	lookEvery = 250 * time.Millisecond
	pushEvery = time.Second
	rateSpan  = 5 * time.Second
)

// recentEvents is how many events the page shows.
const recentEvents = 30

//go:embed static
var static embed.FS

// Dashboard serves the page, its stream and its actions. Make one with
// New and stop it with Close.
type Dashboard struct {
	backend Backend
	token   atomic.Pointer[[]byte]
	log     *slog.Logger
	mux     *http.ServeMux

	mu      sync.Mutex
	subs    map[chan []byte]struct{}
	last    []byte // the last snapshot sent, for a new subscriber
	running bool   // the loop that makes snapshots runs
	closed  chan struct{}
	loops   sync.WaitGroup
}

// New returns a dashboard over b whose actions need token; with an empty
// token every action is refused.
func New(b Backend, token string, log *slog.Logger) *Dashboard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dashboard{backend: b, log: log, subs: map[chan []byte]struct{}{}, closed: make(chan struct{})}
	d.SetToken(token)
	d.mux = d.routes()
	return d
}

// SetToken makes token the one actions need from now on, as when the
// server's token is rotated.
func (d *Dashboard) SetToken(token string) {
	b := []byte(token)
	d.token.Store(&b)
}

// routes lists what the dashboard serves.
func (d *Dashboard) routes() *http.ServeMux {
	files, _ := fs.Sub(static, "static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.page)
	mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", http.FileServerFS(files)))
	mux.HandleFunc("GET /dashboard/events", d.stream)
	mux.HandleFunc("POST /dashboard/services/{name}/{action...}", d.act)
	return mux
}

// ServeHTTP serves the page at /, its files under /dashboard/static/,
// the stream of snapshots at /dashboard/events, and the actions at
// POST /dashboard/services/NAME/ACTION?env=ENV.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	d.mux.ServeHTTP(w, r)
}

func (d *Dashboard) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, static, "static/index.html")
}

// Close ends the streams and the loop that feeds them.
func (d *Dashboard) Close() {
	d.mu.Lock()
	select {
	case <-d.closed:
	default:
		close(d.closed)
	}
	for ch := range d.subs {
		delete(d.subs, ch)
		close(ch)
	}
	d.mu.Unlock()
	d.loops.Wait()
}
