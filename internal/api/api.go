// Package api is the wire format of teal's HTTP API and a client for it.
// The server's handlers and the CLI share these types, so the two cannot
// drift apart. Long operations (apply, rollback) answer with a stream of
// JSON lines: progress as it happens, then one result or one error.
package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// ActorHeader carries who is asking, for the event log.
const ActorHeader = "X-Teal-Actor"

// PlanRequest asks what applying Desired would do.
type PlanRequest struct {
	Desired spec.Desired `json:"desired"`
	Targets []string     `json:"targets,omitempty"`
}

// ApplyRequest asks to apply Desired. With ExpectSerial set, the server
// refuses when the state changed since the plan the user approved.
type ApplyRequest struct {
	Desired       spec.Desired `json:"desired"`
	ExpectSerial  *uint64      `json:"expect_serial,omitempty"`
	ExpectLineage string       `json:"expect_lineage,omitempty"`
	Targets       []string     `json:"targets,omitempty"`
}

// ApplyResult is the last line of an apply's stream.
type ApplyResult struct {
	Plan    plan.Plan       `json:"plan"`
	Results []engine.Result `json:"results"`
}

// RollbackRequest asks to roll a service back; To 0 means the revision
// before the live one.
type RollbackRequest struct {
	To int `json:"to,omitempty"`
}

// RollbackResult is the last line of a rollback's stream.
type RollbackResult struct {
	Deployment state.Deployment `json:"deployment"`
	Error      string           `json:"error,omitempty"`
}

// ImportRequest asks to bring what serves on Addr under teal as Service.
type ImportRequest struct {
	Service spec.Service `json:"service"`
	Addr    string       `json:"addr"`
	Pid     int          `json:"pid,omitempty"`
}

// PauseRequest asks to hold a service's new requests; Max 0 means the
// service's maintenance.max_pause.
type PauseRequest struct {
	Max spec.Duration `json:"max,omitempty"`
}

// MaintenanceRequest asks to answer a service's requests with a page.
type MaintenanceRequest struct {
	Message string `json:"message,omitempty"`
}

// HistoryResponse holds a service's revisions and deployments.
type HistoryResponse struct {
	Revisions   []state.Revision   `json:"revisions"`
	Deployments []state.Deployment `json:"deployments"`
}

// VersionResponse says which teal the server is.
type VersionResponse struct {
	Version string `json:"version"`
}

// Line is one line of a stream: exactly one field is set.
type Line struct {
	Progress *engine.Progress `json:"progress,omitempty"`
	Log      *engine.LogLine  `json:"log,omitempty"` // of GET /v1/services/NAME/logs
	Result   json.RawMessage  `json:"result,omitempty"`
	Error    *Error           `json:"error,omitempty"`
}

// LogsQuery chooses whose output GET /v1/services/NAME/logs streams: one
// instance, or one slot's, or by default what serves and what a deployment
// starts. Since, Tail and Follow are `teal logs`' --since, -n and -f.
type LogsQuery struct {
	Instance string
	Slot     string
	Since    time.Time
	Tail     int
	Follow   bool
}

// Values returns the query's URL parameters.
func (q LogsQuery) Values() url.Values {
	v := url.Values{}
	if q.Instance != "" {
		v.Set("instance", q.Instance)
	}
	if q.Slot != "" {
		v.Set("slot", q.Slot)
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if q.Tail > 0 {
		v.Set("tail", strconv.Itoa(q.Tail))
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	return v
}

// TokenResponse answers POST /v1/token/rotate: the new token, and the
// file on the server that holds it.
type TokenResponse struct {
	Token string `json:"token"`
	File  string `json:"file"`
}

// LogsResult ends a stream of logs that was not followed.
type LogsResult struct {
	Lines int `json:"lines"`
}

// Error kinds, so that a client can tell them apart.
const (
	KindInvalid      = "invalid"       // the request or its desired state is malformed
	KindNotFound     = "not_found"     // no such service or revision
	KindBusy         = "busy"          // another operation holds what this one needs
	KindStale        = "stale"         // the state moved since the plan
	KindConflict     = "conflict"      // the service is not in a state that allows it (nothing to promote, nothing to roll back to)
	KindShuttingDown = "shutting_down" // the server is stopping
	KindUnauthorized = "unauthorized"  // a TCP client without the token
	KindFailed       = "failed"        // anything else
)

// Error is what the API answers when a request fails.
type Error struct {
	Kind     string         `json:"kind"`
	Message  string         `json:"message"`
	Problems []spec.Problem `json:"problems,omitempty"`
}

// HTTPStatus returns the status code an error of e's kind is answered
// with; 500 for a kind it does not know.
func (e *Error) HTTPStatus() int {
	switch e.Kind {
	case KindInvalid:
		return http.StatusBadRequest
	case KindNotFound:
		return http.StatusNotFound
	case KindBusy, KindStale, KindConflict:
		return http.StatusConflict
	case KindShuttingDown:
		return http.StatusServiceUnavailable
	case KindUnauthorized:
		return http.StatusUnauthorized
	default:
		return http.StatusInternalServerError
	}
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.Message
	}
	s := e.Message
	for _, p := range e.Problems {
		s += fmt.Sprintf("\n  %s", p.Error())
	}
	return s
}
