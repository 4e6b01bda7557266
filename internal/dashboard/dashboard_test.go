package dashboard

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// web is a snapshot of service web with a live blue slot and a green
// candidate, whose instances have counted what reqs and errs say.
func web(reqs, errs [2]uint64) Snapshot {
	return Snapshot{Services: []Service{{Name: "web", Slots: []Slot{
		{Role: Live, Slot: spec.Blue, Weight: 90, Instances: []Instance{{ID: "b1", Requests: reqs[0], Errors: errs[0]}}},
		{Role: Candidate, Slot: spec.Green, Weight: 10, Instances: []Instance{{ID: "g1", Requests: reqs[1], Errors: errs[1]}}},
	}}}}
}

func rates(s Snapshot) [2]string {
	var out [2]string
	for i, sl := range s.Services[0].Slots {
		if sl.RequestRate == nil || sl.ErrorRate == nil {
			out[i] = "none"
		} else {
			out[i] = fmt.Sprintf("%.1f/s %.2f", *sl.RequestRate, *sl.ErrorRate)
		}
	}
	return out
}

// Rates are the counters differenced over the window: nothing from one
// sample, then per second and as a share, over up to rateSpan.
func TestRates(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		at         time.Duration
		reqs, errs [2]uint64
		want       [2]string
	}{
		{0, [2]uint64{1000, 50}, [2]uint64{3, 0}, [2]string{"none", "none"}}, // counted before anyone looked: not a rate
		{time.Second, [2]uint64{1090, 60}, [2]uint64{3, 5}, [2]string{"90.0/s 0.00", "10.0/s 0.50"}},
		{2 * time.Second, [2]uint64{1180, 70}, [2]uint64{3, 5}, [2]string{"90.0/s 0.00", "10.0/s 0.25"}},
		{5 * time.Second, [2]uint64{1450, 100}, [2]uint64{3, 5}, [2]string{"90.0/s 0.00", "10.0/s 0.10"}},
		// Past the span the base moves on: from 1s, not 0s.
		{6 * time.Second, [2]uint64{1450, 100}, [2]uint64{3, 5}, [2]string{"72.0/s 0.00", "8.0/s 0.00"}},
	}
	w := &rateWindow{span: 5 * time.Second}
	for _, st := range steps {
		snap := web(st.reqs, st.errs)
		w.observe(t0.Add(st.at), &snap)
		if got := rates(snap); got != st.want {
			t.Errorf("at %s: %v, want %v", st.at, got, st.want)
		}
	}
}

// An instance started since the base sample counts all it served; a
// slot's rate is the sum of its instances'.
func TestRatesOfNewInstances(t *testing.T) {
	t0 := time.Now()
	w := &rateWindow{span: 5 * time.Second}
	snap := web([2]uint64{100, 0}, [2]uint64{0, 0})
	snap.Services[0].Slots = snap.Services[0].Slots[:1] // no candidate yet
	w.observe(t0, &snap)
	snap = web([2]uint64{120, 30}, [2]uint64{0, 4})
	snap.Services[0].Slots[1].Instances = append(snap.Services[0].Slots[1].Instances, Instance{ID: "g2", Requests: 10, Errors: 0})
	w.observe(t0.Add(2*time.Second), &snap)
	if got, want := rates(snap), [2]string{"10.0/s 0.00", "20.0/s 0.10"}; got != want {
		t.Errorf("%v, want %v", got, want)
	}
	// The same name in another environment is another instance.
	other := web([2]uint64{6, 0}, [2]uint64{0, 0})
	other.Services[0].Env = "qa"
	snap.Services = append(snap.Services, other.Services[0])
	w.observe(t0.Add(4*time.Second), &snap)
	if got := rates(Snapshot{Services: snap.Services[1:]}); got != [2]string{"1.5/s 0.00", "0.0/s 0.00"} {
		t.Errorf("qa/web: %v", got)
	}
}

// fakeBackend is a Backend over a snapshot the test sets, recording the
// actions asked of it.
type fakeBackend struct {
	mu    sync.Mutex
	snap  Snapshot
	reads int
	acts  []string
}

func (f *fakeBackend) Snapshot(events int) (Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	b, _ := json.Marshal(f.snap) // a copy: the dashboard adds rates to what it gets
	var s Snapshot
	_ = json.Unmarshal(b, &s)
	for i := range s.Services {
		for j := range s.Services[i].Slots {
			for k := range s.Services[i].Slots[j].Instances {
				s.Services[i].Slots[j].Instances[k] = f.snap.Services[i].Slots[j].Instances[k]
			}
		}
	}
	return s, nil
}

func (f *fakeBackend) set(s Snapshot) {
	f.mu.Lock()
	f.snap = s
	f.mu.Unlock()
}

func (f *fakeBackend) Act(env, service string, a Action, actor string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch service {
	case "web":
		f.acts = append(f.acts, fmt.Sprintf("%s/%s %s by %s", env, service, a, actor))
		return nil
	case "broken":
		return errors.New("the disk is full")
	}
	return &api.Error{Kind: api.KindNotFound, Message: fmt.Sprintf("service %q: not found", service)}
}

func serve(t *testing.T, b Backend, token string) (*Dashboard, string) {
	t.Helper()
	d := New(b, token, nil)
	s := httptest.NewServer(d)
	t.Cleanup(func() {
		d.Close()
		s.Close()
	})
	return d, s.URL
}

// events reads the snapshots of a stream, one per server-sent event.
func events(t *testing.T, url string) (<-chan Snapshot, func()) {
	t.Helper()
	resp, err := http.Get(url + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan Snapshot, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var s Snapshot
				if err := json.Unmarshal([]byte(data), &s); err != nil {
					t.Errorf("event %q: %v", data, err)
					return
				}
				ch <- s
			}
		}
	}()
	return ch, func() { resp.Body.Close() }
}

func next(t *testing.T, ch <-chan Snapshot, within time.Duration) Snapshot {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return s
	case <-time.After(within):
		t.Fatalf("no snapshot within %s", within)
	}
	return Snapshot{}
}

// The stream sends a snapshot at once, another as soon as something
// changes, and one every second anyway, with the rates; a change is seen
// within a look, not a push.
func TestStream(t *testing.T) {
	t.Parallel()
	b := &fakeBackend{}
	b.set(web([2]uint64{0, 0}, [2]uint64{0, 0}))
	d, url := serve(t, b, "secret")
	ch, stop := events(t, url)
	defer stop()

	first := next(t, ch, time.Second)
	if len(first.Services) != 1 || first.Services[0].Slots[0].Weight != 90 || first.Events == nil || first.Time.IsZero() {
		t.Errorf("first snapshot: %+v", first)
	}
	quiet := next(t, ch, 2*pushEvery) // nothing changed: the every-second push, now with rates
	if got := rates(quiet); got != [2]string{"0.0/s 0.00", "0.0/s 0.00"} {
		t.Errorf("rates with no traffic: %v", got)
	}
	if gap := quiet.Time.Sub(first.Time); gap < pushEvery || gap > 2*pushEvery {
		t.Errorf("%s between two snapshots of an unchanged state, want about %s", gap, pushEvery)
	}

	changed := web([2]uint64{0, 0}, [2]uint64{0, 0})
	changed.Services[0].Deployment = &state.Deployment{Service: "web", ID: 2, Status: state.Running,
		Steps: []state.Step{{Name: "hold", Detail: "at 10%: waiting for `teal promote`", Status: state.Running}}}
	b.set(changed)
	got := next(t, ch, 2*pushEvery)
	if got.Services[0].Deployment == nil || got.Services[0].Deployment.Steps[0].Name != "hold" {
		t.Errorf("after a change: %+v", got.Services[0])
	}
	// Sent for the change, at the next look, not with the push a second
	// after the last.
	if took := got.Time.Sub(quiet.Time); took >= pushEvery-lookEvery {
		t.Errorf("a change was sent %s after the last snapshot, want within about %s", took, lookEvery)
	}

	// A second page gets the last snapshot at once; both end on Close.
	ch2, stop2 := events(t, url)
	defer stop2()
	if s := next(t, ch2, 100*time.Millisecond); s.Services[0].Deployment == nil {
		t.Errorf("a new page got %+v", s)
	}
	d.Close()
	for range ch {
	}
	for range ch2 {
	}
}

// Nobody watching, nothing is read; the loop starts with the first page
// and stops after the last.
func TestLoopOnlyWhileWatched(t *testing.T) {
	t.Parallel()
	b := &fakeBackend{}
	b.set(web([2]uint64{0, 0}, [2]uint64{0, 0}))
	d, url := serve(t, b, "secret")
	reads := func() int {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.reads
	}
	time.Sleep(2 * lookEvery)
	if n := reads(); n != 0 {
		t.Errorf("%d reads with no page open", n)
	}
	ch, stop := events(t, url)
	next(t, ch, time.Second)
	stop()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		running := d.running
		d.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop still runs with no page open")
		}
	}
	n := reads()
	time.Sleep(2 * lookEvery)
	if reads() != n {
		t.Errorf("reads went on after the page closed: %d, then %d", n, reads())
	}
}

func post(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Every action needs the token; errors have the API's shape and status.
func TestActions(t *testing.T) {
	b := &fakeBackend{}
	_, url := serve(t, b, "secret")
	for _, tok := range []string{"", "wrong", "secret2", "Secret"} {
		code, body := post(t, url+"/dashboard/services/web/promote", tok)
		if code != 401 || !strings.Contains(body, `"kind":"unauthorized"`) || !strings.Contains(body, "API token") {
			t.Errorf("token %q: %d %s", tok, code, body)
		}
	}
	for _, a := range Actions {
		code, body := post(t, url+"/dashboard/services/web/"+string(a)+"?env=qa", "secret")
		if code != 200 || body != fmt.Sprintf(`{"env":"qa","service":"web","action":%q}`, a) {
			t.Errorf("%s: %d %s", a, code, body)
		}
	}
	b.mu.Lock()
	if want := "qa/web promote by dashboard,qa/web abort by dashboard,qa/web deployment/pause by dashboard," +
		"qa/web deployment/resume by dashboard,qa/web rollback by dashboard"; strings.Join(b.acts, ",") != want {
		t.Errorf("the backend was asked %q", b.acts)
	}
	b.mu.Unlock()
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/dashboard/services/nope/promote", 404, `{"error":{"kind":"not_found","message":"service \"nope\": not found"}}`},
		{"/dashboard/services/web/dance", 404, `"no action \"dance\"; the actions are promote, abort, deployment/pause, deployment/resume, rollback"`},
		{"/dashboard/services/broken/abort", 500, `{"error":{"kind":"failed","message":"the disk is full"}}`},
	} {
		if code, body := post(t, url+c.path, "secret"); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	if resp, err := http.Get(url + "/dashboard/services/web/promote"); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET of an action: %v %v", resp.StatusCode, err)
	}
}

// With no token configured, nothing is authorised, not even an empty one.
func TestActionsWithoutToken(t *testing.T) {
	_, url := serve(t, &fakeBackend{}, "")
	for _, tok := range []string{"", " "} {
		req, _ := http.NewRequest("POST", url+"/dashboard/services/web/promote", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("token %q: %d", tok, resp.StatusCode)
		}
	}
}

// The page and its files come from the binary; nothing is fetched from
// elsewhere, and the page cannot be framed.
func TestPage(t *testing.T) {
	_, url := serve(t, &fakeBackend{}, "secret")
	for path, typ := range map[string]string{
		"/":                           "text/html; charset=utf-8",
		"/dashboard/static/app.js":    "text/javascript; charset=utf-8",
		"/dashboard/static/style.css": "text/css; charset=utf-8",
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != typ {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if strings.Contains(string(b), "http://") || strings.Contains(string(b), "https://") {
			t.Errorf("%s refers to another site", path)
		}
	}
	if resp, _ := http.Get(url + "/nothing"); resp.StatusCode != 404 {
		t.Errorf("/nothing: %d", resp.StatusCode)
	}
}
