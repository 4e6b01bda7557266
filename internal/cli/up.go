package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/server"
	"github.com/teal-deploy/teal/internal/spec"
)

// runUp is the embedded default in one command: a server in the
// foreground with its data in DIR/.teal, DIR applied, and everything
// drained and stopped on Ctrl-C.
func runUp(e *env, args []string) error {
	fs := newFlagSet(e, "up", "[flags] [DIR]")
	var cf configFlags
	cf.register(fs)
	dockerHost := fs.String("docker-host", "", "the container engine, for services that run as containers (default: $DOCKER_HOST, else unix:///var/run/docker.sock)")
	admin := fs.String("admin", "127.0.0.1:7070", "where to serve the dashboard (at /) and /metrics for Prometheus; empty for nowhere")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	dir, err := atMostOne("up", pos, ".")
	if err != nil {
		return err
	}
	desired, err := cf.load(e, dir)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(server.Config{DataDir: filepath.Join(dir, ".teal"), Admin: *admin, AccessLog: e.stdout, DockerHost: *dockerHost, Log: log})
	if err != nil {
		return err
	}
	if err := srv.Start(e.ctx); err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(e.stdout, "\nStopping: finishing requests in flight, then stopping every instance…")
		srv.Shutdown(context.Background())
		fmt.Fprintln(e.stdout, "Stopped.")
	}()
	fmt.Fprintf(e.stdout, "teal server is running; API on %s\n", srv.APIAddr())
	if a := srv.AdminAddr(); a != "" {
		fmt.Fprintf(e.stdout, "dashboard on http://%s/ (its buttons need the token in %s); metrics on http://%s/metrics\n", a, srv.TokenFile(), a)
	}
	fmt.Fprintln(e.stdout)

	view := newProgressView(e.stdout)
	p, results, err := srv.Engine().Apply(desired, engine.ApplyOptions{Actor: actor(e)}, view.print)
	if err != nil {
		return err
	}
	if !p.HasChanges() {
		fmt.Fprintln(e.stdout, "No changes: what runs matches the configuration.")
	} else {
		renderResults(e.stdout, api.ApplyResult{Plan: p, Results: results})
	}
	waitServing(e, srv.Engine(), desired)
	fmt.Fprintln(e.stdout)
	for _, lb := range desired.LoadBalancers {
		fmt.Fprintf(e.stdout, "Load balancer %q serves on http://%s/\n", lb.Name, srv.Proxy().Addr(lb.Name))
	}
	fmt.Fprintf(e.stdout, "\nChange the configuration and run `teal apply %s` in another terminal to deploy it.\n", dir)
	fmt.Fprintf(e.stdout, "Other commands (status, history, rollback) find this server with:\n  export TEAL_ADDR=%s\n", srv.APIAddr())
	fmt.Fprintln(e.stdout, "Press Ctrl-C to stop.")
	<-e.ctx.Done()
	return nil
}

// upWait bounds how long teal up waits for a service's instances.
const upWait = time.Minute

// waitServing waits until every service has a healthy instance in its
// live slot, so that the addresses teal up prints next answer at once.
// An apply leaves them healthy; after a stop the state is unchanged ("No
// changes") but the instances were stopped with the server, and this
// start has just started them again.
func waitServing(e *env, eng *engine.Engine, desired spec.Desired) {
	deadline := time.Now().Add(upWait)
	told := false
	for _, svc := range desired.Services {
		for !liveHealthy(eng, svc.Name) {
			if !told {
				fmt.Fprintln(e.stdout, "Waiting for the instances started again to pass their health checks…")
				told = true
			}
			if time.Now().After(deadline) {
				fmt.Fprintf(e.stdout, "%s has no healthy instance after %s: see teal status %s and teal logs %s\n", svc.Name, upWait, svc.Name, svc.Name)
				break
			}
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// liveHealthy says whether a service's live slot has a healthy instance;
// a service without one (not deployed) has nothing to wait for.
func liveHealthy(eng *engine.Engine, name string) bool {
	st, err := eng.Status(name)
	if err != nil || len(st) != 1 || st[0].Live == nil {
		return true
	}
	for _, in := range st[0].Live.Instances {
		if in.Health == proxy.Healthy.String() {
			return true
		}
	}
	return false
}
