// Package engine runs deployments. It turns a plan into actions: it starts
// instances through a runtime driver, moves traffic through a switch,
// records every step in the state store before acting on it, and rolls
// back when a strategy says so. One operation at a time holds a service.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Switch is what moves traffic between a service's slots: teal's load
// balancer now, DNS later. It makes the targets that health checks and
// draining act on.
type Switch interface {
	SetLoadBalancers(ctx context.Context, lbs []spec.LoadBalancer) error
	NewTarget(o proxy.TargetOptions) *proxy.Target
	// SetService sets how a service is routed (routes, preview, sticky);
	// the error is a preview listener that cannot be bound.
	SetService(svc spec.Service) error
	SetPool(service string, slot spec.Slot, targets []*proxy.Target)
	SetWeights(service string, w proxy.Weights)
	// SetCandidate names the slot that preview requests reach, or "".
	SetCandidate(service string, slot spec.Slot)
	RemoveService(service string)
	Pause(service string, maxPause time.Duration)
	Maintenance(service, message string)
	Resume(service string)
}

// Builder builds a service's image before a revision of it is deployed:
// the container driver, through the engine's build API. It returns the
// last lines of the build's output, also when the build fails.
type Builder interface {
	Build(ctx context.Context, b spec.Build, image string, pull spec.Pull) (output string, err error)
}

// StopGrace is how long an instance has to exit after SIGTERM before it
// is killed. It follows a drain, so the instance has no request in flight.
const StopGrace = 10 * time.Second

// Config is what an Engine is built from.
type Config struct {
	Store  *state.Store
	Driver runtime.Driver
	// Builder builds the images of services with a build block; nil
	// when the server has no container engine, and their deployments fail.
	Builder Builder
	Switch  Switch
	Log     *slog.Logger
	// InstancePrefix starts every instance ID, so that instances of two
	// environments on one server never share one.
	InstancePrefix string
	// OnDeployment, when set, is told as a deployment starts, switches,
	// succeeds, fails and is rolled back (event is one of those words:
	// "started", "switched", "succeeded", "failed", "rolled_back"). It must
	// not block: a webhook is sent from elsewhere.
	OnDeployment func(d state.Deployment, event, reason string)
}

// Engine runs deployments for every service.
type Engine struct {
	store   *state.Store
	driver  runtime.Driver
	builder Builder
	sw      Switch
	log     *slog.Logger
	now     func() time.Time
	prefix  string // of instance IDs
	onDep   func(state.Deployment, string, string)

	ctx    context.Context // cancelled by Shutdown: running deployments roll back
	cancel context.CancelFunc
	bg     sync.WaitGroup // background work: stopping retired instances

	mu       sync.Mutex
	services map[string]*service
}

// New returns an engine. Call Recover before anything else, to take over
// what a previous server left running.
func New(cfg Config) *Engine {
	ctx, cancel := context.WithCancel(context.Background())
	return &Engine{
		store:    cfg.Store,
		driver:   cfg.Driver,
		builder:  cfg.Builder,
		sw:       cfg.Switch,
		log:      cfg.Log,
		prefix:   cfg.InstancePrefix,
		onDep:    cfg.OnDeployment,
		now:      time.Now,
		ctx:      ctx,
		cancel:   cancel,
		services: map[string]*service{},
	}
}

// Progress is one line of what an operation is doing, for the person who
// asked for it.
type Progress struct {
	Time       time.Time    `json:"time"`
	Service    string       `json:"service,omitempty"`
	Deployment int          `json:"deployment,omitempty"`
	Step       string       `json:"step,omitempty"`
	Status     state.Status `json:"status,omitempty"`
	Message    string       `json:"message"`
}

// Reporter receives progress as it happens; it must not block for long.
type Reporter func(Progress)

// holder says who holds a lock, for the error that another caller gets.
type holder struct {
	what  string
	actor string
	since time.Time
}

// BusyError is returned when an operation cannot start because another
// holds what it needs.
type BusyError struct {
	What   string // what was wanted: "apply", "service web"
	Holder string // what holds it
	Actor  string
	Since  time.Time
}

func (e *BusyError) Error() string {
	s := fmt.Sprintf("%s is busy: %s", e.What, e.Holder)
	if e.Actor != "" {
		s += " by " + e.Actor
	}
	return s + fmt.Sprintf(", running since %s", e.Since.Format(time.TimeOnly))
}

// ErrStale is returned when a plan was made against a state that has
// changed since.
var ErrStale = errors.New("the state has changed since the plan was made; run plan again")

// ErrShuttingDown is returned for operations asked of a server that is
// stopping.
var ErrShuttingDown = errors.New("the server is shutting down")

// InvalidError holds the problems of a desired state that failed
// validation.
type InvalidError struct{ Problems []spec.Problem }

func (e *InvalidError) Error() string {
	s := "the desired state is not valid:"
	for _, p := range e.Problems {
		s += "\n  " + p.Error()
	}
	return s
}

// Current returns what is recorded, as plan.Diff needs it.
func (e *Engine) Current() (plan.Current, error) {
	var cur plan.Current
	err := e.store.View(func(tx *state.Tx) error {
		cur.Serial, cur.Lineage = tx.Serial(), tx.Lineage()
		lbs, err := tx.LoadBalancers()
		if err != nil {
			return err
		}
		cur.LoadBalancers = lbs
		svcs, err := tx.Services()
		if err != nil {
			return err
		}
		for _, s := range svcs {
			cs := plan.CurrentService{Spec: s.Spec, NextRevision: tx.NextRevision(s.Name)}
			if s.Live != nil {
				cs.LiveRevision, cs.LiveSlot = s.Live.Revision, s.Live.Slot
				cs.Running, cs.Drift = e.drift(s.Name)
				if rev, err := tx.Revision(s.Name, s.Live.Revision); err == nil {
					cs.LiveImported = rev.Imported
				}
			}
			cur.Services = append(cur.Services, cs)
		}
		return nil
	})
	return cur, err
}

// Plan returns what applying desired would do; with targets, only to the
// objects at those addresses.
func (e *Engine) Plan(desired spec.Desired, targets ...string) (plan.Plan, error) {
	if ps := desired.Validate(); len(ps) > 0 {
		return plan.Plan{}, &InvalidError{Problems: ps}
	}
	for _, t := range targets {
		if !strings.HasPrefix(t, "service.") && !strings.HasPrefix(t, "load_balancer.") {
			return plan.Plan{}, &InvalidError{Problems: []spec.Problem{{Path: "target", Message: fmt.Sprintf("%q is not an address; expected service.NAME or load_balancer.NAME", t)}}}
		}
	}
	cur, err := e.Current()
	if err != nil {
		return plan.Plan{}, err
	}
	return plan.Diff(desired, cur).Target(targets), nil
}

// service returns the runtime view of a service, creating it if needed.
func (e *Engine) service(name string) *service {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.services[name]
	if s == nil {
		s = &service{name: name}
		e.services[name] = s
	}
	return s
}

func (e *Engine) serviceNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.services))
	for n := range e.services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// event records something that happened; a failure to record is logged,
// not returned: the event log must not stop a deployment that is
// otherwise journaled.
func (e *Engine) event(ev state.Event) {
	err := e.store.Update(func(tx *state.Tx) error {
		_, err := tx.AppendEvent(ev)
		return err
	})
	if err != nil {
		e.log.Error("record event", "type", ev.Type, "service", ev.Service, "err", err)
	}
}

// Shutdown rolls back deployments in flight, then drains and stops every
// instance the engine runs, warm ones included. The switch's listeners
// should be shut down first, so that requests in flight finish.
func (e *Engine) Shutdown(ctx context.Context) {
	e.cancel()
	var wg sync.WaitGroup
	for _, name := range e.serviceNames() {
		s := e.service(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.op.Lock() // waits for a deployment to roll back
			defer s.op.Unlock()
			s.stopTimer()
			s.mu.Lock()
			groups := []*group{s.live, s.previous}
			s.live, s.previous = nil, nil
			s.mu.Unlock()
			for _, g := range groups {
				e.stopGroup(ctx, g, s.name, "the server is shutting down")
			}
		}()
	}
	wg.Wait()
	e.bg.Wait()
}

// drift counts the live instances of a service that run, and says what
// went wrong with the others: what changed outside teal since it last
// acted.
func (e *Engine) drift(name string) (running int, drift []string) {
	s := e.service(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return 0, nil
	}
	for _, m := range s.live.members {
		switch {
		case m.exited():
			drift = append(drift, fmt.Sprintf("instance %s of revision %d %s", m.inst.ID(), s.live.rev.Number, m.inst.Exit()))
		case m.target.Health() == proxy.Unhealthy:
			running++
			drift = append(drift, fmt.Sprintf("instance %s of revision %d fails its checks (%s); it stays, out of rotation, until they pass", m.inst.ID(), s.live.rev.Number, m.target.LastResult()))
		default:
			running++
		}
	}
	if missing := s.live.spec.DesiredCount - len(s.live.members); missing > 0 {
		drift = append(drift, fmt.Sprintf("%s of revision %d could not be found", count(missing, "instance"), s.live.rev.Number))
	}
	return running, drift
}

// told tells OnDeployment, if set, what happened to d.
func (e *Engine) told(d state.Deployment, event, reason string) {
	if e.onDep != nil {
		e.onDep(d, event, reason)
	}
}
