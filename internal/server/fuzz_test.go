package server

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/spec"
)

// postRoutes are the API's POST routes, each with the request type its
// body is read into (nil: a route that takes no body, for which nothing
// or {} is the only body). Fuzz inputs name them by index.
var postRoutes = []struct {
	path string
	body func() any
}{
	{"/v1/plan", func() any { return new(api.PlanRequest) }},
	{"/v1/apply", func() any { return new(api.ApplyRequest) }},
	{"/v1/services/web/rollback", func() any { return new(api.RollbackRequest) }},
	{"/v1/services/web/pause", func() any { return new(api.PauseRequest) }},
	{"/v1/services/web/maintenance", func() any { return new(api.MaintenanceRequest) }},
	{"/v1/services/web/resume", nil},
	{"/v1/services/web/promote", nil},
	{"/v1/services/web/abort", nil},
	{"/v1/services/web/deployment/pause", nil},
	{"/v1/services/web/deployment/resume", nil},
	{"/v1/import", func() any { return new(api.ImportRequest) }},
	{"/v1/locks/0123abcd/force-unlock", nil},
	{"/v1/token/rotate", nil},
}

// strictly reports whether b is one JSON object that reads into v with no
// unknown field and nothing after it: what the API must demand of a body.
func strictly(b []byte, v any) bool {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return false
	}
	_, err := dec.Token()
	return err != nil && err.Error() == "EOF"
}

// FuzzAPIBodies sends any body to every POST route of the API, through the
// real handler of a real server with a service running, and checks:
//
//   - no handler panics;
//   - the answer is JSON (a stream of JSON lines for apply and rollback),
//     and an error is {"error": {"kind", "message"}} with the status its
//     kind calls for;
//   - a body is never the server's failure: never a 500;
//   - a body that is not one JSON object of the route's request type, with
//     no unknown field and nothing after it, is refused as invalid (400);
//     a route that takes no body takes nothing or {}.
//
// Bodies that would apply a valid desired state or import a process are
// not sent: they would start or adopt whatever programs the fuzzer wrote.
// /v1/plan takes the same desired states and reads them the same way,
// with no effect. The seed corpus is in testdata/fuzz/FuzzAPIBodies. Run
// it for longer with
//
//	go test -run '^$' -fuzz FuzzAPIBodies -fuzztime 5m ./internal/server
func FuzzAPIBodies(f *testing.F) {
	s := startServer(f, Config{})
	deployWeb(f, s, "")
	h := s.routes()
	for i := range postRoutes {
		f.Add(uint8(i), []byte(`{}`))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := postRoutes[int(route)%len(postRoutes)]
		var req any
		if rt.body != nil {
			req = rt.body()
		}
		ok := req == nil && len(bytes.TrimSpace(body)) == 0 || strictly(body, cmp.Or(req, any(new(struct{}))))
		if ok {
			switch r := req.(type) {
			case *api.ApplyRequest:
				if len(r.Desired.Validate()) == 0 {
					return
				}
			case *api.ImportRequest:
				if len((spec.Desired{Services: []spec.Service{r.Service}}).Validate()) <= len(r.Service.Routes) {
					return // valid but perhaps for its routes' load balancers, which import checks in the state
				}
			}
		}

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, rt.path, bytes.NewReader(body)))
		res := rec.Result()
		got := rec.Body.Bytes()
		where := fmt.Sprintf("POST %s %q: %d %s", rt.path, body, res.StatusCode, got)

		var firstErr *api.Error
		sc := bufio.NewScanner(bytes.NewReader(got))
		sc.Buffer(nil, 16<<20)
		lines := 0
		for sc.Scan() {
			lines++
			var line struct {
				Error *api.Error `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: not JSON: %v", where, err)
			}
			if line.Error != nil && firstErr == nil {
				firstErr = line.Error
			}
		}
		if lines == 0 {
			t.Fatalf("%s: no answer", where)
		}
		if res.StatusCode >= 400 {
			if firstErr == nil || firstErr.Kind == "" || firstErr.Message == "" || firstErr.HTTPStatus() != res.StatusCode {
				t.Fatalf("%s: not an error of the API's shape", where)
			}
		}
		if res.StatusCode >= 500 || firstErr != nil && firstErr.Kind == api.KindFailed {
			t.Fatalf("%s: a request body made the server fail", where)
		}
		if !ok && (res.StatusCode != http.StatusBadRequest || firstErr.Kind != api.KindInvalid) {
			t.Fatalf("%s: a body that is not one %T was not refused as invalid", where, cmp.Or(req, any(new(struct{}))))
		}
	})
}
