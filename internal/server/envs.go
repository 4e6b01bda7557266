package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/notify"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/container"
	"github.com/teal-deploy/teal/internal/runtime/process"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// EnvDir is where the data of environments other than the default lives,
// under the data directory: env/NAME/state.db, env/NAME/logs.
const EnvDir = "env"

// ErrNoEnvironment is returned for an environment nothing was applied to.
var ErrNoEnvironment = errors.New("no such environment")

var envName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,30}$`)

// environment is one environment's own state and engine. Environments
// share the server's load balancer, under names of their own ("qa/web"),
// so the same configuration can run as QA and as prod on one server, each
// with its own listeners.
type environment struct {
	name   string
	store  *state.Store
	engine *engine.Engine
	// containers is the environment's container driver; it does not
	// connect until a container service needs it.
	containers *container.Driver
}

// envFor returns the environment named, "" being the default; with
// create, one that does not exist yet is made.
func (s *Server) envFor(ctx context.Context, name string, create bool) (*environment, error) {
	if name != "" && !envName.MatchString(name) {
		return nil, &InvalidEnvError{Name: name}
	}
	s.envMu.Lock()
	defer s.envMu.Unlock()
	if e := s.envs[name]; e != nil {
		return e, nil
	}
	if !create {
		return nil, fmt.Errorf("environment %q: %w; teal apply -env %s makes it", name, ErrNoEnvironment, name)
	}
	e, err := s.openEnv(name)
	if err != nil {
		return nil, err
	}
	if err := e.engine.Recover(ctx); err != nil {
		e.store.Close()
		return nil, err
	}
	s.envs[name] = e
	return e, nil
}

// InvalidEnvError is an environment name that cannot be one.
type InvalidEnvError struct{ Name string }

func (e *InvalidEnvError) Error() string {
	return fmt.Sprintf("%q is not an environment name: lower-case letters, digits, '-' and '_', starting with a letter", e.Name)
}

// envDir is where an environment keeps its data.
func (s *Server) envDir(name string) string {
	if name == "" {
		return s.cfg.DataDir
	}
	return filepath.Join(s.cfg.DataDir, EnvDir, name)
}

func (s *Server) openEnv(name string) (*environment, error) {
	dir := s.envDir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	store, err := state.Open(filepath.Join(dir, StateFile))
	if errors.Is(err, state.ErrLocked) {
		return nil, fmt.Errorf("another teal server is using %s (its state file is locked)", s.cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if s.cfg.EventsKept > 0 {
		store.KeepEvents(s.cfg.EventsKept)
	}
	prefix := ""
	if name != "" {
		prefix = name + "-"
	}
	// The containers of an environment are those labelled with its data
	// directory: another environment, or another server, on the same
	// engine sweeps only its own.
	containers, err := container.New(container.Config{Host: s.cfg.DockerHost, Owner: dir})
	if err != nil {
		store.Close()
		return nil, err
	}
	driver := &process.Driver{LogDir: filepath.Join(dir, LogDir), Env: os.Environ(),
		LogMaxSize: s.cfg.Logs.MaxSize, LogFiles: s.cfg.Logs.Files, LogRetention: s.cfg.Logs.Retention}
	go driver.Maintain(s.bg)
	return &environment{name: name, store: store, containers: containers, engine: engine.New(engine.Config{
		Store:          store,
		Driver:         &runtime.ByKind{Process: driver, Container: containers},
		Builder:        containers,
		Switch:         envSwitch{p: s.proxy, env: name},
		Log:            s.log.With("env", orDefault(name)),
		InstancePrefix: prefix,
		OnDeployment: func(d state.Deployment, event, reason string) {
			s.notify.Notify(notify.Message{Event: notify.Event(event), Env: name, Service: d.Service,
				Deployment: d.ID, Revision: d.ToRevision, Reason: reason})
		},
	})}, nil
}

// existingEnvs lists the environments with data in the data directory.
func (s *Server) existingEnvs() []string {
	names := []string{""}
	entries, _ := os.ReadDir(filepath.Join(s.cfg.DataDir, EnvDir))
	for _, e := range entries {
		if e.IsDir() && envName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// passive tells the engine of a target's environment that real requests
// took it out of rotation.
func (s *Server) passive(t *proxy.Target, reason string) {
	env, svc, ok := strings.Cut(t.Service, "/")
	if !ok {
		env, svc = "", t.Service
	}
	s.envMu.Lock()
	e := s.envs[env]
	s.envMu.Unlock()
	if e != nil {
		e.engine.TargetFailed(svc, t, reason)
	}
}

func (s *Server) shutdownEnvs(ctx context.Context) {
	s.envMu.Lock()
	envs := make([]*environment, 0, len(s.envs))
	for _, e := range s.envs {
		envs = append(envs, e)
	}
	s.envMu.Unlock()
	for _, e := range envs {
		e.engine.Shutdown(ctx)
		e.containers.Close()
		if err := e.store.Close(); err != nil {
			s.log.Error("close state", "env", orDefault(e.name), "err", err)
		}
	}
}

func orDefault(env string) string {
	if env == "" {
		return "default"
	}
	return env
}

// envSwitch is the load balancer as one environment's engine sees it:
// the names it uses are its own, qualified as "ENV/NAME" in the proxy,
// and the load balancers it sets are only its own.
type envSwitch struct {
	p   *proxy.Proxy
	env string
}

var _ engine.Switch = envSwitch{}

func (s envSwitch) q(name string) string {
	if s.env == "" || name == "" {
		return name
	}
	return s.env + "/" + name
}

func (s envSwitch) SetLoadBalancers(ctx context.Context, lbs []spec.LoadBalancer) error {
	out := make([]spec.LoadBalancer, len(lbs))
	for i, lb := range lbs {
		lb.Name = s.q(lb.Name)
		out[i] = lb
	}
	return s.p.SetLoadBalancersIn(ctx, s.env, out)
}

func (s envSwitch) NewTarget(o proxy.TargetOptions) *proxy.Target {
	o.Service = s.q(o.Service)
	return s.p.NewTarget(o)
}

func (s envSwitch) SetService(svc spec.Service) error {
	svc.Name = s.q(svc.Name)
	routes := make([]spec.Route, len(svc.Routes))
	for i, r := range svc.Routes {
		r.LoadBalancer = s.q(r.LoadBalancer)
		routes[i] = r
	}
	svc.Routes = routes
	return s.p.SetService(svc)
}

func (s envSwitch) SetPool(service string, slot spec.Slot, targets []*proxy.Target) {
	s.p.SetPool(s.q(service), slot, targets)
}
func (s envSwitch) SetWeights(service string, w proxy.Weights) { s.p.SetWeights(s.q(service), w) }
func (s envSwitch) SetCandidate(service string, slot spec.Slot) {
	s.p.SetCandidate(s.q(service), slot)
}
func (s envSwitch) RemoveService(service string) { s.p.RemoveService(s.q(service)) }
func (s envSwitch) Pause(service string, max time.Duration) {
	s.p.Pause(s.q(service), max)
}
func (s envSwitch) Maintenance(service, message string) { s.p.Maintenance(s.q(service), message) }
func (s envSwitch) Resume(service string)               { s.p.Resume(s.q(service)) }
