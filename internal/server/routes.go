package server

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/version"
)

// maxBody bounds a request body: a desired state is a few kilobytes.
const maxBody = 8 << 20

// routes lists the whole API.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/version", handler(s.version))
	mux.Handle("POST /v1/plan", s.in(true, s.plan))
	mux.Handle("POST /v1/apply", s.in(true, s.apply))
	mux.Handle("GET /v1/status", s.in(false, s.status))
	mux.Handle("GET /v1/services/{name}/history", s.in(false, s.history))
	mux.Handle("POST /v1/services/{name}/rollback", s.in(false, s.rollback))
	mux.Handle("POST /v1/services/{name}/pause", s.in(false, s.pause))
	mux.Handle("POST /v1/services/{name}/maintenance", s.in(false, s.maintenance))
	mux.Handle("POST /v1/services/{name}/resume", s.in(false, s.resume))
	mux.Handle("POST /v1/services/{name}/promote", s.in(false, s.control((*engine.Engine).Promote)))
	mux.Handle("POST /v1/services/{name}/abort", s.in(false, s.control((*engine.Engine).Abort)))
	mux.Handle("POST /v1/services/{name}/deployment/pause", s.in(false, s.control((*engine.Engine).PauseDeployment)))
	mux.Handle("POST /v1/services/{name}/deployment/resume", s.in(false, s.control((*engine.Engine).ResumeDeployment)))
	mux.Handle("GET /v1/services/{name}/logs", s.in(false, s.logs))
	mux.Handle("GET /v1/events", s.in(false, s.events))
	mux.Handle("POST /v1/import", s.in(true, s.importService))
	mux.Handle("GET /v1/state", s.in(false, s.stateVersion))
	mux.Handle("GET /v1/state/versions", s.in(false, s.stateVersions))
	mux.Handle("GET /v1/locks", s.in(false, s.locks))
	mux.Handle("POST /v1/locks/{id}/force-unlock", s.in(false, s.forceUnlock))
	mux.Handle("POST /v1/token/rotate", handler(s.rotateToken))
	return s.authenticate(mux)
}

// adminRoutes lists what the admin listener serves: metrics for
// Prometheus, and the dashboard. Reading them needs nothing; the
// dashboard's actions need the token.
func (s *Server) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}))
	// GET / (the page), GET /dashboard/static/FILE, GET /dashboard/events
	// (server-sent events), POST /dashboard/services/NAME/ACTION?env=ENV.
	mux.Handle("/", s.dash)
	return s.checkHost(mux)
}

// checkHost answers only requests addressed to the admin listener by an
// address, localhost, or a name in Config.AdminHosts. A web page on
// another site could otherwise point a name of its own at 127.0.0.1 (DNS
// rebinding) and read the dashboard from the operator's browser.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		_, ipErr := netip.ParseAddr(host)
		if ipErr == nil || host == "localhost" || strings.HasSuffix(host, ".localhost") || slices.Contains(s.cfg.AdminHosts, host) {
			next.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusMisdirectedRequest, map[string]*api.Error{"error": {Kind: api.KindInvalid,
			Message: fmt.Sprintf("teal's admin listener answers requests to its address or localhost, not to %q: add it with teal server --admin-host %s", host, host)}})
	})
}

// authenticate requires the token on a TCP listener. The unix socket is
// protected by its file mode (0600) instead.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tcp {
			got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(*s.token.Load())) != 1 {
				writeError(w, &api.Error{Kind: api.KindUnauthorized, Message: "this API needs the token from the server's data directory (--token or TEAL_TOKEN)"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// envHandler is a handler of one environment's API.
type envHandler func(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error

// in runs h with the engine of the environment the request names in its
// env parameter ("" or absent: the default). With create, an environment
// that does not exist yet is made, as an apply to it does.
func (s *Server) in(create bool, h envHandler) http.Handler {
	return handler(func(w http.ResponseWriter, r *http.Request) error {
		env, err := s.envFor(r.Context(), r.URL.Query().Get("env"), create)
		if err != nil {
			return err
		}
		return h(w, r, env.engine)
	})
}

// handler adapts a handler that returns an error into an http.Handler: the
// error becomes a JSON error with the status its kind calls for. Streaming
// handlers turn errors into the stream's last line themselves (wrapStream).
type handler func(w http.ResponseWriter, r *http.Request) error

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := h(w, r); err != nil {
		writeError(w, err)
	}
}

func apiError(err error) *api.Error {
	var ae *api.Error
	var busy *engine.BusyError
	var invalid *engine.InvalidError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, new(*InvalidEnvError)):
		return &api.Error{Kind: api.KindInvalid, Message: err.Error()}
	case errors.As(err, &invalid):
		return &api.Error{Kind: api.KindInvalid, Message: "the desired state is not valid", Problems: invalid.Problems}
	case errors.As(err, &busy):
		return &api.Error{Kind: api.KindBusy, Message: err.Error()}
	case errors.Is(err, engine.ErrStale):
		return &api.Error{Kind: api.KindStale, Message: err.Error()}
	case errors.Is(err, state.ErrNotFound), errors.Is(err, runtime.ErrNoLogs):
		return &api.Error{Kind: api.KindNotFound, Message: err.Error()}
	case errors.Is(err, ErrNoEnvironment), errors.Is(err, state.ErrNoLock):
		return &api.Error{Kind: api.KindNotFound, Message: err.Error()}
	case errors.Is(err, engine.ErrNoDeployment), errors.Is(err, engine.ErrAborting), errors.Is(err, engine.ErrNoRollback), errors.Is(err, engine.ErrCannotImport):
		return &api.Error{Kind: api.KindConflict, Message: err.Error()}
	case errors.Is(err, engine.ErrShuttingDown):
		return &api.Error{Kind: api.KindShuttingDown, Message: err.Error()}
	default:
		return &api.Error{Kind: api.KindFailed, Message: err.Error()}
	}
}

func writeError(w http.ResponseWriter, err error) {
	e := apiError(err)
	writeJSON(w, e.HTTPStatus(), map[string]*api.Error{"error": e})
}

// writeList returns a function that answers with a list, [] rather than
// null when it is empty, or returns the error that came with it.
func writeList[T any](w http.ResponseWriter) func([]T, error) error {
	return func(xs []T, err error) error {
		if err != nil {
			return err
		}
		if xs == nil {
			xs = []T{}
		}
		writeJSON(w, http.StatusOK, xs)
		return nil
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: one object, with no unknown field (a
// typo is an error, not silently ignored) and nothing after it (a second
// document, or a truncated paste of two, is not half read).
func decode(r *http.Request, v any) error {
	invalid := func(msg string) error {
		return &api.Error{Kind: api.KindInvalid, Message: "request body: " + msg}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return invalid(err.Error())
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return invalid("expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid(err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("expected nothing after the JSON object")
	}
	return nil
}

// noBody refuses a body on a route that takes none: nothing, or an empty
// object (what the CLI and the dashboard send), is all it reads. Anything
// else is a request meant for another route, or for another version of
// this one, and acting on it while ignoring what it says would surprise.
func noBody(r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return &api.Error{Kind: api.KindInvalid, Message: "request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decode(r, new(struct{}))
}

// streamWriter writes a stream of JSON lines, flushing each. Lines may
// come from several goroutines (one per service of an apply).
type streamWriter struct {
	http.ResponseWriter
	mu      sync.Mutex
	started bool
}

func (sw *streamWriter) line(l api.Line) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.begin()
	b, _ := json.Marshal(l)
	_, _ = sw.Write(append(b, '\n'))
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// start sends the stream's header now, not with the first line.
func (sw *streamWriter) start() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.begin()
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (sw *streamWriter) begin() {
	if !sw.started {
		sw.Header().Set("Content-Type", "application/x-ndjson")
		sw.WriteHeader(http.StatusOK)
		sw.started = true
	}
}

func (sw *streamWriter) progress(p engine.Progress) { sw.line(api.Line{Progress: &p}) }

func (sw *streamWriter) result(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sw.line(api.Line{Result: b})
	return nil
}

func actor(r *http.Request) string {
	if a := r.Header.Get(api.ActorHeader); a != "" {
		return a
	}
	return "api"
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, api.VersionResponse{Version: version.String()})
	return nil
}

func (s *Server) plan(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.PlanRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	p, err := eng.Plan(req.Desired, req.Targets...)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// apply runs with the server's lifetime, not the request's: a client that
// goes away does not stop a deployment half way.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.ApplyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	sw := &streamWriter{ResponseWriter: w}
	p, results, err := eng.Apply(req.Desired, engine.ApplyOptions{
		ExpectSerial: req.ExpectSerial, ExpectLineage: req.ExpectLineage, Targets: req.Targets, Actor: actor(r),
	}, sw.progress)
	if err != nil {
		return wrapStream(sw, err)
	}
	return sw.result(api.ApplyResult{Plan: p, Results: results})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.RollbackRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	sw := &streamWriter{ResponseWriter: w}
	d, err := eng.Rollback(r.PathValue("name"), req.To, actor(r), sw.progress)
	var de *engine.DeploymentError
	switch {
	case errors.As(err, &de):
		return sw.result(api.RollbackResult{Deployment: d, Error: de.Reason})
	case err != nil:
		return wrapStream(sw, err)
	}
	return sw.result(api.RollbackResult{Deployment: d})
}

// wrapStream returns err so that handler writes it the right way for
// whether the stream has begun.
func wrapStream(sw *streamWriter, err error) error {
	sw.mu.Lock()
	started := sw.started
	sw.mu.Unlock()
	if started {
		sw.line(api.Line{Error: apiError(err)})
		return nil
	}
	return err
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	return writeList[engine.ServiceStatus](w)(eng.Status(r.URL.Query().Get("service")))
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	revs, ds, err := eng.History(r.PathValue("name"))
	if err != nil {
		return err
	}
	for i := range revs {
		revs[i].Spec = revs[i].Spec.Redacted() // sensitive values never leave the server
	}
	writeJSON(w, http.StatusOK, api.HistoryResponse{Revisions: revs, Deployments: ds})
	return nil
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.PauseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := eng.Pause(r.PathValue("name"), req.Max.D(), actor(r)); err != nil {
		return err
	}
	return s.statusOf(w, r.PathValue("name"), eng)
}

func (s *Server) maintenance(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.MaintenanceRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := eng.Maintenance(r.PathValue("name"), req.Message, actor(r)); err != nil {
		return err
	}
	return s.statusOf(w, r.PathValue("name"), eng)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	if err := noBody(r); err != nil {
		return err
	}
	if err := eng.Resume(r.PathValue("name"), actor(r)); err != nil {
		return err
	}
	return s.statusOf(w, r.PathValue("name"), eng)
}

// control acts on the deployment in flight (promote, abort, pause,
// resume) and answers with the service's status.
func (s *Server) control(do func(e *engine.Engine, name, actor string) error) envHandler {
	return func(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
		if err := noBody(r); err != nil {
			return err
		}
		if err := do(eng, r.PathValue("name"), actor(r)); err != nil {
			return err
		}
		return s.statusOf(w, r.PathValue("name"), eng)
	}
}

// statusOf answers with one service's status, as the gate operations do.
func (s *Server) statusOf(w http.ResponseWriter, name string, eng *engine.Engine) error {
	st, err := eng.Status(name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st[0])
	return nil
}

func (s *Server) events(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	q := r.URL.Query()
	after, err := strconv.ParseUint(orZero(q.Get("after")), 10, 64)
	if err != nil {
		return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("after=%q: expected a sequence number", q.Get("after"))}
	}
	limit, err := strconv.Atoi(orZero(q.Get("limit")))
	if err != nil || limit < 0 {
		return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("limit=%q: expected a count", q.Get("limit"))}
	}
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	var wait time.Duration
	if q.Get("wait") != "" {
		if wait, err = time.ParseDuration(q.Get("wait")); err != nil || wait < 0 || wait > 5*time.Minute {
			return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("wait=%q: expected a duration up to 5m", q.Get("wait"))}
		}
	}
	if last := q.Get("last"); last != "" {
		n, err := strconv.Atoi(last)
		if err != nil || n < 1 || n > 1000 {
			return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("last=%q: expected a count from 1 to 1000", last)}
		}
		return writeList[state.Event](w)(eng.LastEvents(n, q.Get("service")))
	}
	return writeList[state.Event](w)(eng.Events(r.Context(), after, limit, q.Get("service"), wait))
}

func (s *Server) importService(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	var req api.ImportRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := eng.Import(r.Context(), req.Service, req.Addr, req.Pid, actor(r), nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) stateVersion(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	serial, err := strconv.ParseUint(orZero(r.URL.Query().Get("serial")), 10, 64)
	if err != nil {
		return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("serial=%q: expected a serial number", r.URL.Query().Get("serial"))}
	}
	v, err := eng.StateVersion(serial)
	if err != nil {
		return err
	}
	for i := range v.Services {
		v.Services[i].Spec = v.Services[i].Spec.Redacted()
	}
	for i, z := range v.DNSZones {
		if z.Update != nil {
			u := *z.Update
			u.KeySecret = spec.RedactedValue
			v.DNSZones[i].Update = &u
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) stateVersions(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	return writeList[state.Version](w)(eng.StateVersions())
}

func (s *Server) locks(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	return writeList[state.Lock](w)(eng.Locks())
}

func (s *Server) forceUnlock(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	if err := noBody(r); err != nil {
		return err
	}
	l, err := eng.ForceUnlock(r.PathValue("id"), actor(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// logs streams a service's output as JSON lines, {"log": {"instance",
// "line"}}, ended by a result unless followed; ?since= takes a time
// (RFC 3339) or a duration back from now.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, eng *engine.Engine) error {
	q := r.URL.Query()
	req := engine.LogRequest{Instance: q.Get("instance"), Slot: spec.Slot(q.Get("slot"))}
	if req.Slot != "" && req.Slot != spec.Blue && req.Slot != spec.Green {
		return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("slot %q: expected blue or green", req.Slot)}
	}
	if t := q.Get("tail"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("tail %q: expected a number of lines", t)}
		}
		req.Tail = n
	}
	if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			d, derr := time.ParseDuration(since)
			if derr != nil || d < 0 {
				return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("since %q: expected a time like 2026-11-26T07:00:00Z or a duration like 10m", since)}
			}
			t = time.Now().Add(-d)
		}
		req.Since = t
	}
	switch f := q.Get("follow"); f {
	case "", "0", "false":
	case "1", "true":
		req.Follow = true
	default:
		return &api.Error{Kind: api.KindInvalid, Message: fmt.Sprintf("follow %q: expected 1 or 0", f)}
	}
	sw := &streamWriter{ResponseWriter: w}
	if req.Follow {
		sw.start() // the client sees the stream begin before the first line
	}
	n := 0
	err := eng.Logs(r.Context(), r.PathValue("name"), req, func(l engine.LogLine) error {
		n++
		sw.line(api.Line{Log: &l})
		return r.Context().Err()
	})
	if err != nil {
		return wrapStream(sw, err)
	}
	if req.Follow {
		return nil
	}
	return sw.result(api.LogsResult{Lines: n})
}

// rotateToken answers with the new token: a client on TCP has just lost
// the one it used.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request) error {
	if err := noBody(r); err != nil {
		return err
	}
	token, err := s.RotateToken()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.TokenResponse{Token: token, File: s.TokenFile()})
	return nil
}
