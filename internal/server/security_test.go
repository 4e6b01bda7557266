package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawGet sends "GET target" exactly as written, without the cleaning an
// HTTP client does, and returns the status and body.
func rawGet(t *testing.T, dial func() (net.Conn, error), target, token string) (int, string) {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
	if token != "" {
		req += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// traversals are ways to write "up and out" in a request's path or query,
// ending in NAME.
var traversals = []string{
	"../NAME", "../../NAME", "../../../NAME", "../../../../../../../../NAME",
	"..%2fNAME", "..%2f..%2fNAME", "..%2F..%2F..%2FNAME", "%2e%2e/%2e%2e/NAME", "%2e%2e%2f%2e%2e%2fNAME",
	"..%5c..%5cNAME", `..\..\NAME`, "....//....//NAME", "..;/..;/NAME", "%252e%252e%252fNAME",
	".%00./NAME", "..%00/NAME", "%c0%ae%c0%ae/NAME", "ABS",
}

func traversal(tpl, name, abs string) string {
	if tpl == "ABS" {
		return abs
	}
	return strings.ReplaceAll(tpl, "NAME", name)
}

// A path in a request cannot read a file outside what is served: not
// through the dashboard's static files, not through a service's logs by a
// crafted service, instance or slot name, not through an environment
// name. Secrets are planted next to, above and outside the logs
// directory, in files whose names end in .log as an instance's do; none
// may come back, whatever the request.
func TestNoPathLeadsOut(t *testing.T) {
	const secret = "SECRET-7c1e9a"
	s := startServer(t, Config{Admin: "127.0.0.1:0"})
	deployWeb(t, s, "")
	outside := t.TempDir()
	dataDir := s.cfg.DataDir
	for _, p := range []string{
		filepath.Join(dataDir, "planted.log"),
		filepath.Join(dataDir, LogDir, "planted.log"),
		filepath.Join(outside, "planted.log"),
		filepath.Join(dataDir, "planted"),
	} {
		if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	token, _ := os.ReadFile(filepath.Join(dataDir, TokenFile))
	leaks := func(body string) bool {
		return strings.Contains(body, secret) || strings.Contains(body, strings.TrimSpace(string(token))) || strings.Contains(body, "root:x:0:0")
	}
	apiDial := func() (net.Conn, error) { return net.Dial("unix", s.socket) }
	adminDial := func() (net.Conn, error) { return net.Dial("tcp", s.AdminAddr()) }

	// The dashboard serves its three embedded files and nothing else.
	if code, body := rawGet(t, adminDial, "/dashboard/static/app.js", ""); code != http.StatusOK || !strings.Contains(body, "function") {
		t.Fatalf("the dashboard's own script: %d %.100q", code, body)
	}
	served := map[string]bool{}
	for _, name := range []string{"etc/passwd", "token", "planted", "planted.log", "dashboard.go", "static/app.js"} {
		for _, tpl := range traversals {
			for _, prefix := range []string{"/dashboard/static/", "/dashboard/static/app.js/", "/"} {
				target := prefix + traversal(tpl, name, filepath.Join(dataDir, "token"))
				if !strings.HasPrefix(target, "/") {
					target = "/" + target
				}
				code, body := rawGet(t, adminDial, target, "")
				if leaks(body) {
					t.Errorf("GET %s on the admin listener leaks a file: %d %.100q", target, code, body)
				}
				if code == http.StatusOK {
					served[target] = true
				}
			}
		}
	}
	for target := range served {
		// What answers 200 must be one of the page's own: the page itself,
		// or a redirect's end the client did not follow (not followed here).
		code, body := rawGet(t, adminDial, target, "")
		if code == 200 && !strings.Contains(body, "teal") && !strings.Contains(body, "function") && !strings.Contains(body, "{") {
			t.Errorf("GET %s: 200 with something that is not the dashboard's: %.100q", target, body)
		}
	}

	// Logs: by instance, by slot, by service, by environment.
	var targets []string
	for _, name := range []string{"planted", "token", "etc/passwd"} {
		for _, tpl := range traversals {
			trav := traversal(tpl, name, filepath.Join(outside, "planted"))
			targets = append(targets,
				"/v1/services/web/logs?instance="+trav,
				"/v1/services/web/logs?instance=web-r1-blue-x/"+trav,
				"/v1/services/web/logs?slot="+trav,
				"/v1/services/"+trav+"/logs",
				"/v1/services/"+trav+"/logs?instance=planted",
				"/v1/services/web/logs?env="+trav,
				"/v1/status?env="+trav,
			)
		}
	}
	for _, target := range targets {
		code, body := rawGet(t, apiDial, target, "")
		if leaks(body) {
			t.Errorf("GET %s leaks a file: %d %.200q", target, code, body)
		}
		// A query Go cannot parse (a ';') names no environment: the default.
		if code == http.StatusOK && strings.Contains(target, "/logs") && !strings.Contains(body, `"result"`) {
			t.Errorf("GET %s: 200 %.200q", target, body)
		}
	}
	// A real instance's log is read, so the requests above were refused
	// for their names, not because logs cannot be read at all.
	code, body := rawGet(t, apiDial, "/v1/services/web/logs", "")
	if code != http.StatusOK || !strings.Contains(body, `"result"`) {
		t.Errorf("the service's own logs: %d %.200q", code, body)
	}
	if _, err := s.envFor(context.Background(), "../escape", true); err == nil {
		t.Errorf("an environment named ../escape was made")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "escape")); err == nil {
		t.Errorf("a directory was made outside env/")
	}
}

// Over TCP every route of the API, known or not, refuses a request
// without the token, with a wrong one, or with one that is nearly right,
// before it acts: the service it asks to pause, put in maintenance or roll
// back is left as it was, and no event records it.
func TestTCPRefusesEveryRouteWithoutTheToken(t *testing.T) {
	s, token := hostileServer(t, ConnLimits{})
	deployWeb(t, s, "")
	eng := s.Engine()
	evs, err := eng.LastEvents(1000, "")
	if err != nil {
		t.Fatal(err)
	}
	routes := []string{
		"GET /v1/version", "POST /v1/plan", "POST /v1/apply", "GET /v1/status", "GET /v1/services/web/history",
		"POST /v1/services/web/rollback", "POST /v1/services/web/pause", "POST /v1/services/web/maintenance",
		"POST /v1/services/web/resume", "POST /v1/services/web/promote", "POST /v1/services/web/abort",
		"POST /v1/services/web/deployment/pause", "POST /v1/services/web/deployment/resume",
		"GET /v1/services/web/logs", "GET /v1/events", "POST /v1/import", "GET /v1/state", "GET /v1/state/versions",
		"GET /v1/locks", "POST /v1/locks/x/force-unlock", "POST /v1/token/rotate", "GET /nowhere", "GET /",
	}
	bodies := map[string]string{
		"/v1/plan": `{"desired": {}}`, "/v1/apply": `{"desired": {}}`, "/v1/services/web/rollback": `{}`,
		"/v1/services/web/pause": `{"max": "1m"}`, "/v1/services/web/maintenance": `{"message": "down"}`,
	}
	wrong := map[string]string{
		"none":          "",
		"wrong":         "Bearer wrong",
		"empty bearer":  "Bearer ",
		"one short":     "Bearer " + token[:len(token)-1],
		"one more":      "Bearer " + token + "0",
		"twice":         "Bearer " + token + token,
		"basic":         "Basic " + token,
		"another case":  "Bearer " + strings.ToUpper(token),
		"second of two": "Bearer wrong\nBearer " + token,
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		for name, auth := range wrong {
			req, _ := http.NewRequest(method, s.APIAddr()+path+"?token="+token, strings.NewReader(bodies[path]))
			if auth != "" {
				req.Header["Authorization"] = strings.Split(auth, "\n")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s with %s: %v", route, name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"kind":"unauthorized"`) {
				t.Errorf("%s with the token %s: %d %.200s", route, name, resp.StatusCode, b)
			}
		}
	}
	st, err := eng.Status("web")
	if err != nil || len(st) != 1 || st[0].Live == nil || st[0].Live.Revision != 1 {
		t.Fatalf("status after refused requests: %+v %v", st, err)
	}
	if b, _ := json.Marshal(st[0]); strings.Contains(string(b), `"paused"`) || strings.Contains(string(b), `"maintenance"`) {
		t.Errorf("a refused request changed the service: %s", b)
	}
	after, _ := eng.LastEvents(1000, "")
	if len(after) != len(evs) {
		t.Errorf("refused requests were recorded as %d events: %+v", len(after)-len(evs), after[len(evs):])
	}
	if cur, _ := os.ReadFile(filepath.Join(s.cfg.DataDir, TokenFile)); strings.TrimSpace(string(cur)) != token {
		t.Errorf("a refused request rotated the token")
	}
	// With the token, the same client is served.
	req, _ := http.NewRequest("GET", s.APIAddr()+"/v1/version", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("with the token: %v %v", resp, err)
	}
}
