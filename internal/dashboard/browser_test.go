package dashboard_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/server"
	"github.com/teal-deploy/teal/internal/spec"
)

func TestMain(m *testing.M) {
	runtimetest.MaybeRunApp()
	os.Exit(m.Run())
}

// ChromiumEnv names the Chromium binary the browser test drives; .ci/run
// sets it.
const ChromiumEnv = "TEAL_TEST_CHROMIUM"

// desired is service web, instances of the test binary at version, by a
// canary whose one step holds at 50% until someone promotes it.
func desired(t *testing.T, listen, version string) spec.Desired {
	self, _ := os.Executable()
	lb := spec.NewLoadBalancer("public")
	lb.Listen = listen
	web := spec.NewService("web")
	web.Version = version
	web.DesiredCount = 2
	web.Process = &spec.Process{Command: []string{self}, Dir: t.TempDir(),
		Env: map[string]string{runtimetest.EnvApp: "1", runtimetest.EnvVersion: version}}
	web.HealthCheck.Interval = spec.Duration(50 * time.Millisecond)
	web.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	web.Deploy.Strategy = spec.Canary
	web.Deploy.Steps = []spec.CanaryStep{{Weight: 50}} // no pause: it waits for promote
	web.Deploy.DrainTimeout = spec.Duration(time.Second)
	return spec.Desired{LoadBalancers: []spec.LoadBalancer{lb}, Services: []spec.Service{web}}
}

// In a real headless Chromium: the page shows a canary holding for
// promotion with traffic on both slots, refuses to act without the token,
// and with it, Promote finishes the deployment, which the page and the
// API then show.
func TestPromoteInBrowser(t *testing.T) {
	chromium := os.Getenv(ChromiumEnv)
	if chromium == "" {
		t.Skipf("needs Chromium: apt-get install -y chromium, then %s=/usr/bin/chromium go test ./internal/dashboard (.ci/run does both)", ChromiumEnv)
	}
	srv, err := server.New(server.Config{DataDir: t.TempDir(), Admin: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	token, err := os.ReadFile(srv.TokenFile())
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := ln.Addr().String()
	ln.Close()
	if _, res, err := srv.Engine().Apply(desired(t, listen, "1.0"), engine.ApplyOptions{Actor: "test"}, nil); err != nil || res[1].Error != "" {
		t.Fatalf("apply 1.0: %v %+v", err, res)
	}
	applied := make(chan error, 1)
	go func() {
		_, res, err := srv.Engine().Apply(desired(t, listen, "2.0"), engine.ApplyOptions{Actor: "test"}, nil)
		if err == nil && res[0].Error != "" {
			err = &api.Error{Message: res[0].Error}
		}
		applied <- err
	}()

	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	go func() { // traffic, so that both slots have a rate
		for ctx.Err() == nil {
			if resp, err := http.Get("http://" + listen + "/"); err == nil {
				resp.Body.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // as root, in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc) // before the user data directory is removed: it waits for the browser to exit
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	defer func() {
		if t.Failed() {
			text, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
			t.Logf("the page said:\n%s", text)
		}
	}()

	const card = `article[data-service="web"]`
	started := time.Now()
	do(t, bctx, "open the page and see the canary hold",
		chromedp.Navigate("http://"+srv.AdminAddr()+"/"),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-holding="true"]`)),
	)
	t.Logf("the page showed the hold %s after it was opened", time.Since(started).Round(time.Millisecond))
	hold, weight := text(t, bctx, card+" .holding"), text(t, bctx, card+` tr[data-role="candidate"] td.weight`)
	if !strings.Contains(hold, "at 50%: waiting for `teal promote`") || strings.TrimSpace(weight) != "50%" {
		t.Errorf("holding: %q, candidate's weight %q", hold, weight)
	}
	do(t, bctx, "see requests reach both slots",
		chromedp.Poll[chromedp.Void](`["live", "candidate"].every(r => parseFloat(document.querySelector('`+card+` tr[data-role="' + r + '"] td.rate').textContent) > 0)`,
			chromedp.WithPollingTimeout(10*time.Second)),
	)
	do(t, bctx, "click Promote without the token",
		chromedp.Click(chromedp.CSS(card+` button[data-action="promote"]`)),
	)
	if got := text(t, bctx, card+" .result"); !strings.Contains(got, "Enter the API token") {
		t.Errorf("Promote without the token said %q", got)
	}
	do(t, bctx, "enter the token and promote",
		chromedp.SendKeys(chromedp.ID("token"), strings.TrimSpace(string(token))),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.Poll[chromedp.Void](`document.getElementById("token-state").textContent === "saved in this browser"`,
			chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Click(chromedp.CSS(card+` button[data-action="promote"]`)),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-live-revision="2"][data-deployment-status="succeeded"]`)),
	)
	live := text(t, bctx, card+` tr[data-role="live"]`)
	if f := strings.Fields(live); len(f) < 5 || f[0] != "live" || f[2] != "r2" || f[3] != "2.0" || f[4] != "100%" {
		t.Errorf("live row after promote: %q", live)
	}
	if got := text(t, bctx, card+" .result"); got != "Promote: done" {
		t.Errorf("after the click: %q", got)
	}

	select {
	case err := <-applied:
		if err != nil {
			t.Errorf("the apply of 2.0: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the apply of 2.0 did not end after the promotion")
	}
	c, err := api.NewClient(srv.APIAddr(), "", "test")
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Live == nil || st[0].Live.Revision != 2 || st[0].Deployment.Status != "succeeded" {
		t.Errorf("the API's status: live %+v, deployment %+v", st[0].Live, st[0].Deployment)
	}
	evs, err := c.LastEvents(ctx, 50, "web")
	if err != nil {
		t.Fatal(err)
	}
	promoted := false
	for _, ev := range evs {
		promoted = promoted || ev.Type == "deployment.promoted" && ev.Actor == "dashboard"
	}
	if !promoted {
		t.Errorf("no deployment.promoted event by the dashboard in %+v", evs)
	}
	if dir := os.Getenv("TEAL_TEST_SCREENSHOT"); dir != "" {
		if png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "dashboard.png"), png, 0o644)
		}
	}
}

// do runs steps in the browser, and logs how long they took.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	start := time.Now()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %s", what, time.Since(start).Round(time.Millisecond))
}

// text returns the visible text of the element sel selects.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}
