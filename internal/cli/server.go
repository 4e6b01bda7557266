package cli

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/teal-deploy/teal/internal/runtime/process"
	"github.com/teal-deploy/teal/internal/server"
	"github.com/teal-deploy/teal/internal/state"
)

func runServer(e *env, args []string) error {
	fs := newFlagSet(e, "server", "[flags]")
	dataDir := fs.String("data-dir", ".teal", "where the state, the instances' logs and the API socket live")
	apiAddr := fs.String("api", "", "where the API listens: unix:///path/teal.sock (default: in the data directory) or tcp://127.0.0.1:7171 (needs the token in DATA-DIR/token)")
	dockerHost := fs.String("docker-host", "", "the container engine, for services that run as containers: unix:///path/docker.sock (default: $DOCKER_HOST, else unix:///var/run/docker.sock)")
	admin := fs.String("admin", "", "where to serve the dashboard (at /) and /metrics for Prometheus, like 127.0.0.1:7070 (default: nowhere)")
	var adminHosts multiFlag
	fs.Var(&adminHosts, "admin-host", "a name the admin listener may be reached by, besides its address and localhost (repeatable); others are refused, against DNS rebinding")
	var webhooks multiFlag
	fs.Var(&webhooks, "webhook", "a URL told of every deployment as it starts, switches, succeeds, fails and is rolled back, in JSON Slack accepts (repeatable)")
	eventsKept := fs.Int("events-kept", state.DefaultEventsKept, "how many events each environment keeps")
	logSize := sizeFlag(process.DefaultLogMaxSize)
	fs.Var(&logSize, "log-max-size", "rotate an instance's log past this size")
	logFiles := fs.Int("log-files", process.DefaultLogFiles, "rotated copies of each instance's log to keep")
	logRetention := fs.Duration("log-retention", process.DefaultLogRetention, "how long the logs of stopped instances stay")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("teal server takes no arguments; got %v", pos)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(server.Config{DataDir: *dataDir, API: *apiAddr, Admin: *admin, AccessLog: e.stdout, DockerHost: *dockerHost, Log: log,
		Webhooks: webhooks, EventsKept: *eventsKept, AdminHosts: adminHosts,
		Logs: server.LogLimits{MaxSize: int64(logSize), Files: *logFiles, Retention: *logRetention}})
	if err != nil {
		return err
	}
	if err := srv.Start(e.ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "teal server is running; API on %s\n", srv.APIAddr())
	if a := srv.AdminAddr(); a != "" {
		fmt.Fprintf(e.stdout, "dashboard on http://%s/ (its buttons need the token in %s); metrics on http://%s/metrics\n", a, srv.TokenFile(), a)
	}
	<-e.ctx.Done()
	fmt.Fprintln(e.stdout, "stopping: finishing requests in flight, then stopping every instance")
	srv.Shutdown(context.Background())
	return nil
}
