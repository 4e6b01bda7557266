package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Client talks to a teal server.
type Client struct {
	http  *http.Client
	addr  string // as given, for messages
	base  string
	token string
	actor string
	env   string
}

// InEnv returns a client for the environment named ("" is the default).
func (c *Client) InEnv(env string) *Client {
	cp := *c
	cp.env = env
	return &cp
}

// NewClient returns a client for the server at addr: "unix:///path/teal.sock"
// or "http://host:port". token is sent over TCP; actor names who asks.
func NewClient(addr, token, actor string) (*Client, error) {
	c := &Client{addr: addr, token: token, actor: actor}
	switch {
	case strings.HasPrefix(addr, "unix://"):
		path := strings.TrimPrefix(addr, "unix://")
		c.base = "http://teal"
		c.http = &http.Client{Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
		}}
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		if _, err := url.Parse(addr); err != nil {
			return nil, fmt.Errorf("server address %q: %w", addr, err)
		}
		c.base = strings.TrimSuffix(addr, "/")
		c.http = &http.Client{Transport: &http.Transport{Proxy: nil}}
	default:
		return nil, fmt.Errorf("server address %q: expected unix:///path/teal.sock or http://host:port", addr)
	}
	return c, nil
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	if c.env != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "env=" + url.QueryEscape(c.env)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.actor != "" {
		req.Header.Set(ActorHeader, c.actor)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var oerr *net.OpError
		if errors.As(err, &oerr) && oerr.Op == "dial" {
			return nil, fmt.Errorf("cannot reach the teal server at %s: %v; start one with `teal up DIR` or `teal server`, or point at one with --addr or TEAL_ADDR", c.addr, oerr.Err)
		}
		return nil, fmt.Errorf("teal server at %s: %w", c.addr, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error *Error `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) == nil && e.Error != nil {
			return nil, e.Error
		}
		return nil, &Error{Kind: KindFailed, Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))}
	}
	return resp, nil
}

func (c *Client) getJSON(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream reads a stream of lines, passing progress on, and decodes the
// result into out.
func (c *Client) stream(ctx context.Context, path string, body any, onProgress func(engine.Progress), out any) error {
	resp, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLines(resp.Body, func(l Line) error {
		if l.Progress != nil && onProgress != nil {
			onProgress(*l.Progress)
		}
		return nil
	}, out)
}

// readLines reads a stream of JSON lines, calling each with every line
// until a result, which it decodes into out (when not nil), or an error,
// which it returns.
func readLines(r io.Reader, each func(Line) error, out any) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("unreadable line from the server: %w", err)
		}
		switch {
		case l.Error != nil:
			return l.Error
		case l.Result != nil:
			if out == nil {
				return nil
			}
			return json.Unmarshal(l.Result, out)
		}
		if err := each(l); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("the stream from the server broke: %w", err)
	}
	return errors.New("the server ended the stream without a result; it may have stopped")
}

// Version returns the server's version.
func (c *Client) Version(ctx context.Context) (VersionResponse, error) {
	var v VersionResponse
	return v, c.getJSON(ctx, http.MethodGet, "/v1/version", nil, &v)
}

// Plan returns what applying desired would do, to the targets only when
// there are any.
func (c *Client) Plan(ctx context.Context, desired spec.Desired, targets ...string) (plan.Plan, error) {
	var p plan.Plan
	return p, c.getJSON(ctx, http.MethodPost, "/v1/plan", PlanRequest{Desired: desired, Targets: targets}, &p)
}

// Apply applies and calls onProgress for each step as it happens.
func (c *Client) Apply(ctx context.Context, req ApplyRequest, onProgress func(engine.Progress)) (ApplyResult, error) {
	var r ApplyResult
	return r, c.stream(ctx, "/v1/apply", req, onProgress, &r)
}

// Status returns the status of every service, or of the one named.
func (c *Client) Status(ctx context.Context, service string) ([]engine.ServiceStatus, error) {
	var st []engine.ServiceStatus
	path := "/v1/status"
	if service != "" {
		path += "?service=" + url.QueryEscape(service)
	}
	return st, c.getJSON(ctx, http.MethodGet, path, nil, &st)
}

// History returns a service's revisions and deployments.
func (c *Client) History(ctx context.Context, service string) (HistoryResponse, error) {
	var h HistoryResponse
	return h, c.getJSON(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(service)+"/history", nil, &h)
}

// Rollback rolls a service back and calls onProgress as it goes.
func (c *Client) Rollback(ctx context.Context, service string, to int, onProgress func(engine.Progress)) (RollbackResult, error) {
	var r RollbackResult
	return r, c.stream(ctx, "/v1/services/"+url.PathEscape(service)+"/rollback", RollbackRequest{To: to}, onProgress, &r)
}

// Pause holds a service's new requests; max 0 means its max_pause.
func (c *Client) Pause(ctx context.Context, service string, max time.Duration) (engine.ServiceStatus, error) {
	var st engine.ServiceStatus
	return st, c.getJSON(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/pause", PauseRequest{Max: spec.Duration(max)}, &st)
}

// Maintenance answers a service's requests with a page showing message.
func (c *Client) Maintenance(ctx context.Context, service, message string) (engine.ServiceStatus, error) {
	var st engine.ServiceStatus
	return st, c.getJSON(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/maintenance", MaintenanceRequest{Message: message}, &st)
}

// Resume serves a paused service, or one in maintenance, again.
func (c *Client) Resume(ctx context.Context, service string) (engine.ServiceStatus, error) {
	var st engine.ServiceStatus
	return st, c.getJSON(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/resume", struct{}{}, &st)
}

// Logs calls fn with each line of a service's output that q chooses; when
// following, it returns once ctx is done.
func (c *Client) Logs(ctx context.Context, service string, q LogsQuery, fn func(engine.LogLine)) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(service)+"/logs?"+q.Values().Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = readLines(resp.Body, func(l Line) error {
		if l.Log != nil {
			fn(*l.Log)
		}
		return nil
	}, nil)
	if ctx.Err() != nil {
		return nil // followed until told to stop
	}
	return err
}

// RotateToken makes the server replace its token; the old one stops
// working at once, this client's included.
func (c *Client) RotateToken(ctx context.Context) (TokenResponse, error) {
	var t TokenResponse
	return t, c.getJSON(ctx, http.MethodPost, "/v1/token/rotate", nil, &t)
}

// Events returns up to limit events after sequence number after, of one
// service or all (""), waiting up to wait for the first.
func (c *Client) Events(ctx context.Context, after uint64, limit int, service string, wait time.Duration) ([]state.Event, error) {
	var evs []state.Event
	q := url.Values{"after": {fmt.Sprint(after)}, "limit": {fmt.Sprint(limit)}}
	if service != "" {
		q.Set("service", service)
	}
	if wait > 0 {
		q.Set("wait", wait.String())
	}
	return evs, c.getJSON(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, &evs)
}

// LastEvents returns the last n events, of one service or all ("").
func (c *Client) LastEvents(ctx context.Context, n int, service string) ([]state.Event, error) {
	var evs []state.Event
	q := url.Values{"last": {fmt.Sprint(n)}}
	if service != "" {
		q.Set("service", service)
	}
	return evs, c.getJSON(ctx, http.MethodGet, "/v1/events?"+q.Encode(), nil, &evs)
}

// Import brings what serves on addr under teal as svc.
func (c *Client) Import(ctx context.Context, req ImportRequest) (state.Deployment, error) {
	var d state.Deployment
	return d, c.getJSON(ctx, http.MethodPost, "/v1/import", req, &d)
}

// State returns what was applied at serial, or now when serial is 0.
func (c *Client) State(ctx context.Context, serial uint64) (state.Version, error) {
	var v state.Version
	return v, c.getJSON(ctx, http.MethodGet, fmt.Sprintf("/v1/state?serial=%d", serial), nil, &v)
}

// StateVersions lists the versions of the state kept, newest first.
func (c *Client) StateVersions(ctx context.Context) ([]state.Version, error) {
	var vs []state.Version
	return vs, c.getJSON(ctx, http.MethodGet, "/v1/state/versions", nil, &vs)
}

// Locks lists the locks held.
func (c *Client) Locks(ctx context.Context) ([]state.Lock, error) {
	var ls []state.Lock
	return ls, c.getJSON(ctx, http.MethodGet, "/v1/locks", nil, &ls)
}

// ForceUnlock removes a lock by its ID.
func (c *Client) ForceUnlock(ctx context.Context, id string) (state.Lock, error) {
	var l state.Lock
	return l, c.getJSON(ctx, http.MethodPost, "/v1/locks/"+url.PathEscape(id)+"/force-unlock", struct{}{}, &l)
}

// Control acts on a service's deployment in flight: "promote", "abort",
// "deployment/pause" or "deployment/resume".
func (c *Client) Control(ctx context.Context, service, what string) (engine.ServiceStatus, error) {
	var st engine.ServiceStatus
	return st, c.getJSON(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(service)+"/"+what, struct{}{}, &st)
}
