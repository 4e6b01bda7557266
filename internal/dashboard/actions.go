package dashboard

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
)

// ActionResult is the answer to an action that was done.
type ActionResult struct {
	Env     string `json:"env"`
	Service string `json:"service"`
	Action  Action `json:"action"`
}

// act does an operator's action on a service, for a request that carries
// the token. Errors have the API's shape: {"error": {"kind", "message"}}.
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request) {
	if !d.authorised(r) {
		writeError(w, &api.Error{Kind: api.KindUnauthorized,
			Message: "actions need the API token (the file token in the server's data directory): enter it at the top of the page"})
		return
	}
	a, name, env := Action(r.PathValue("action")), r.PathValue("name"), r.URL.Query().Get("env")
	if !slices.Contains(Actions, a) {
		writeError(w, &api.Error{Kind: api.KindNotFound, Message: fmt.Sprintf("no action %q; the actions are %s", a, list(Actions))})
		return
	}
	if err := d.backend.Act(env, name, a, Actor); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ActionResult{Env: env, Service: name, Action: a})
}

// authorised reports whether r carries the token as a bearer token,
// compared in constant time so that the time taken tells nothing of it.
func (d *Dashboard) authorised(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	token := *d.token.Load()
	return ok && len(token) > 0 && subtle.ConstantTimeCompare([]byte(got), token) == 1
}

func writeError(w http.ResponseWriter, err error) {
	var e *api.Error
	if !errors.As(err, &e) {
		e = &api.Error{Kind: api.KindFailed, Message: err.Error()}
	}
	writeJSON(w, e.HTTPStatus(), map[string]*api.Error{"error": e})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func list(as []Action) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
