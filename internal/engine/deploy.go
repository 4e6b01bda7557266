package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/strategy"
)

// DeploymentError is returned when a deployment failed and was rolled
// back; what was live before kept serving.
type DeploymentError struct {
	Service    string
	Deployment int
	Reason     string
}

func (e *DeploymentError) Error() string {
	return fmt.Sprintf("service %q: deployment %d failed and was rolled back: %s", e.Service, e.Deployment, e.Reason)
}

// run is one deployment in progress: what its loop observes and acts on.
type run struct {
	e       *Engine
	j       *journal
	s       *service
	applied spec.Service
	strat   strategy.Strategy
	rolling bool
	live    *group // what was live; a rolling deployment takes its instances out one batch at a time
	cand    *group // the new revision's instances
	ctl     *control
	obs     strategy.Observation

	wake     chan struct{}
	baseline proxy.Snapshot // the candidate's counters when the current canary step began
	waiting  int            // journal step of a wait for health, or -1
	holding  int            // journal step of a hold, or -1
	holdKey  string
}

// deploy moves service s to revision rev, run as applied says (count,
// routes, health check, strategy), by the strategy's steps. The caller
// holds s.op.
func (e *Engine) deploy(ctx context.Context, s *service, rev state.Revision, applied spec.Service, kind state.DeploymentKind, actor string, rep Reporter) (state.Deployment, error) {
	s.mu.Lock()
	live := s.live
	s.mu.Unlock()
	dep := applied.Deploy
	if live == nil {
		dep.Strategy = spec.BlueGreen // nothing to share traffic with or to replace: start it all
	}
	strat, err := strategy.For(dep, applied.DesiredCount)
	if err != nil {
		return state.Deployment{}, fmt.Errorf("service %q: %w", s.name, err)
	}
	r := &run{e: e, s: s, applied: applied, strat: strat, rolling: dep.Strategy == spec.Rolling, live: live,
		wake: make(chan struct{}, 1), waiting: -1, holding: -1}
	r.obs = strategy.Observation{Desired: applied.DesiredCount, HasPrevious: live != nil, Step: -1}

	d := state.Deployment{Service: s.name, Kind: kind, Strategy: dep.Strategy, ToRevision: rev.Number, Slot: spec.Blue}
	if live != nil {
		d.FromRevision, d.Slot = live.rev.Number, live.slot.Other()
		if r.rolling {
			d.Slot = live.slot
		}
	}
	if r.j, err = e.openJournal(d, actor, rep, nil); err != nil {
		return d, err
	}
	if kind == state.KindDeploy && applied.Build != nil {
		if err := e.build(ctx, r.j, applied); err != nil {
			_ = r.j.finish(state.Failed, err.Error(), nil)
			return r.j.d, &DeploymentError{Service: s.name, Deployment: r.j.d.ID, Reason: err.Error()}
		}
	}
	if live == nil {
		// Nothing is live: route now, so that requests get a 503 that
		// names the service rather than a 404, until it is.
		if err := e.sw.SetService(applied); err != nil {
			e.log.Warn("route service", "service", s.name, "err", err)
		}
	}
	r.cand = &group{rev: rev, spec: applied, slot: d.Slot}
	r.ctl = &control{kick: r.kick}
	s.mu.Lock()
	s.candidate, s.ctl = r.cand, r.ctl
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.candidate, s.ctl, s.candShare = nil, nil, 0
		s.mu.Unlock()
	}()
	return r.loop(ctx)
}

func (r *run) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *run) loop(ctx context.Context) (state.Deployment, error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.observe()
		step := r.strat.Next(r.obs)
		if ctx.Err() != nil && r.obs.Weight < 100 {
			step = strategy.Step{Action: strategy.Fail, Reason: "the server is shutting down"}
		}
		if step.Action != strategy.Hold {
			r.endHold()
		}
		if step.Action != strategy.Wait && r.waiting >= 0 {
			_ = r.j.end(r.waiting, state.Succeeded, fmt.Sprintf("%d of %d healthy after %s",
				r.obs.Healthy, r.obs.Started, r.obs.Now.Sub(r.j.d.Steps[r.waiting].StartedAt).Round(time.Millisecond)))
			r.waiting = -1
		}
		var err error
		switch step.Action {
		case strategy.Start:
			err = r.start(ctx, step.Count)
		case strategy.Wait:
			err = r.waitHealth(ctx, timer, step.Until)
		case strategy.Hold:
			err = r.hold(ctx, timer, step)
		case strategy.RunHook:
			err = r.hook(ctx, step.Hook)
		case strategy.Shift:
			err = r.shift(step.Weight)
		case strategy.StopOld:
			err = r.stopOld(ctx, step.Count)
		case strategy.Drain:
			i, _ := r.j.begin("drain", fmt.Sprintf("draining %s (revision %d): requests in flight finish, for at most %s",
				r.live.slot, r.live.rev.Number, r.applied.Deploy.DrainTimeout), nil)
			_ = r.j.end(i, state.Succeeded, drain(ctx, r.live, r.applied.Deploy.DrainTimeout.D()))
			r.obs.Drained = true
		case strategy.Succeed:
			return r.succeed()
		case strategy.Fail:
			return r.fail(step.Reason)
		}
		if err != nil {
			return r.fail(err.Error()) // a step that cannot be journaled is not acted on
		}
	}
}

// buildOutcomeBytes bounds the build output kept in the journal.
const buildOutcomeBytes = 4 << 10

// build builds the image of a revision to deploy, as a journaled step; a
// rollback deploys the image an earlier build made, and does not build.
func (e *Engine) build(ctx context.Context, j *journal, applied spec.Service) error {
	b, image := applied.Build, applied.Container.Image
	i, err := j.begin("build", fmt.Sprintf("image %s from %s with %s", image, b.Context, b.Dockerfile), nil)
	if err != nil {
		return err
	}
	if e.builder == nil {
		err := fmt.Errorf("build %s: this server has no container engine to build with", image)
		_ = j.end(i, state.Failed, err.Error())
		return err
	}
	began := e.now()
	out, err := e.builder.Build(ctx, *b, image, applied.Container.Pull)
	if len(out) > buildOutcomeBytes {
		out = "…" + out[len(out)-buildOutcomeBytes:]
	}
	if err != nil {
		_ = j.end(i, state.Failed, strings.TrimSpace(err.Error()+"\n"+out))
		return err
	}
	_ = j.end(i, state.Succeeded, fmt.Sprintf("built in %s:\n%s", e.now().Sub(began).Round(time.Millisecond), out))
	return nil
}

// observe refreshes what the strategy looks at.
func (r *run) observe() {
	o := &r.obs
	o.Now = r.e.now()
	r.s.mu.Lock()
	o.Healthy, o.Unhealthy, o.Exited = r.cand.counts()
	if r.rolling {
		o.OldActive, o.OldHealthy = 0, 0
		for _, m := range r.live.members {
			if !m.exited() {
				o.OldActive++
				if m.target.Health() == proxy.Healthy {
					o.OldHealthy++
				}
			}
		}
	}
	targets := r.cand.targets()
	o.Promoted, o.Paused, o.Aborted = r.ctl.promote, r.ctl.paused, r.ctl.aborted
	r.s.mu.Unlock()
	if o.Step >= 0 {
		var sn proxy.Snapshot
		for _, t := range targets {
			sn = sn.Add(t.Stats())
		}
		w := sn.Sub(r.baseline)
		o.Analysis = strategy.Analysis{Requests: w.Requests, ErrorRate: w.ErrorRate(), P99: w.Quantile(0.99)}
	}
}

// start starts n instances of the new revision. In a candidate slot they
// take no traffic, but preview requests reach them; in a rolling
// deployment they join the live pool and take traffic once healthy.
func (r *run) start(ctx context.Context, n int) error {
	rev := r.cand.rev
	where := "in " + string(r.cand.slot)
	if r.rolling {
		where = "beside revision " + fmt.Sprint(r.live.rev.Number) + " in " + string(r.cand.slot)
	}
	i, err := r.j.begin("start", fmt.Sprintf("starting %s of revision %d (%s) %s", count(n, "instance"), rev.Number, orNone(rev.Version), where), nil)
	if err != nil {
		return err
	}
	var started []string
	for range n {
		m, err := r.e.startMember(ctx, r.s.name, r.cand, r.applied.HealthCheck, r.kick)
		if err != nil {
			r.obs.StartError = err.Error()
			break
		}
		r.s.mu.Lock()
		r.cand.members = append(r.cand.members, m)
		r.s.mu.Unlock()
		r.obs.Started++
		started = append(started, m.inst.ID()+" on "+m.inst.Addr())
	}
	r.obs.Deadline = r.e.now().Add(r.applied.Deploy.ReadyTimeout.D())
	if r.rolling {
		r.e.sw.SetPool(r.s.name, r.cand.slot, r.pool())
	} else {
		r.e.sw.SetPool(r.s.name, r.cand.slot, r.cand.targets())
		r.e.sw.SetCandidate(r.s.name, r.cand.slot)
	}
	if r.obs.StartError != "" {
		return r.j.end(i, state.Failed, r.obs.StartError)
	}
	return r.j.end(i, state.Succeeded, fmt.Sprintf("started %s", strings.Join(started, ", ")))
}

// pool is the live slot's members in a rolling deployment: the old
// revision's that are left and the new revision's.
func (r *run) pool() []*proxy.Target {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	return append(r.live.targets(), r.cand.targets()...)
}

func (r *run) waitHealth(ctx context.Context, timer *time.Timer, until time.Time) error {
	if r.waiting < 0 {
		hc := r.applied.HealthCheck
		var err error
		r.waiting, err = r.j.begin("health", fmt.Sprintf("waiting for %s to pass GET %s %d times in a row, for at most %s",
			count(r.obs.Started-r.obs.Healthy, "new instance"), hc.Path, hc.HealthyThreshold, r.applied.Deploy.ReadyTimeout), nil)
		if err != nil {
			return err
		}
	}
	r.sleep(ctx, timer, until)
	return nil
}

// sleep waits for something to be observed, for until (when set), or for
// the server to stop. A time already past waits a second, so that a
// strategy that waits on something else cannot spin.
func (r *run) sleep(ctx context.Context, timer *time.Timer, until time.Time) {
	d := time.Hour
	if !until.IsZero() {
		d = max(until.Sub(r.e.now()), 0)
		if d == 0 {
			d = time.Second
		}
	}
	timer.Reset(d)
	select {
	case <-r.wake:
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
}

// digits makes a hold's reason into its kind, so that a count that goes
// up ("37 of the 100 requests") does not make a new journal step.
var digits = regexp.MustCompile(`[0-9.]+`)

func (r *run) hold(ctx context.Context, timer *time.Timer, step strategy.Step) error {
	if key := digits.ReplaceAllString(step.Reason, "#"); key != r.holdKey {
		r.endHold()
		var err error
		if r.holding, err = r.j.begin("hold", step.Reason, nil); err != nil {
			return err
		}
		r.holdKey = key
	}
	r.sleep(ctx, timer, step.Until)
	return nil
}

func (r *run) endHold() {
	if r.holding >= 0 {
		_ = r.j.end(r.holding, state.Succeeded, "moved on")
		r.holding, r.holdKey = -1, ""
	}
}

// hook runs a hook of the deployment and records what it printed.
func (r *run) hook(ctx context.Context, h strategy.Hook) error {
	d := r.applied.Deploy
	cmd := d.BeforeSwitch
	if h == strategy.AfterSwitch {
		cmd = d.AfterSwitch
	}
	ok, msg, err := r.e.runHook(ctx, r.j, string(h), cmd, d.HookTimeout.D(), r.hookEnv())
	if err != nil {
		return err
	}
	if h == strategy.BeforeSwitch {
		r.obs.BeforeSwitchDone = true
	} else {
		r.obs.AfterSwitchDone = true
	}
	if !ok {
		r.obs.HookError = string(h) + " hook failed: " + msg
	}
	return nil
}

// hookEnv describes the deployment to a hook.
func (r *run) hookEnv() []string {
	env := []string{
		"TEAL_SERVICE=" + r.s.name,
		fmt.Sprintf("TEAL_DEPLOYMENT=%d", r.j.d.ID),
		fmt.Sprintf("TEAL_NEW_REVISION=%d", r.cand.rev.Number),
		"TEAL_NEW_VERSION=" + r.cand.rev.Version,
		"TEAL_NEW_SLOT=" + string(r.cand.slot),
		"TEAL_STRATEGY=" + string(r.j.d.Strategy),
	}
	if r.live != nil {
		env = append(env,
			fmt.Sprintf("TEAL_OLD_REVISION=%d", r.live.rev.Number),
			"TEAL_OLD_VERSION="+r.live.rev.Version,
			"TEAL_OLD_SLOT="+string(r.live.slot))
	}
	return env
}

// shift gives the candidate weight percent of new requests; 100 is the
// switch, which makes it live.
func (r *run) shift(weight int) error {
	if weight == 100 {
		if err := r.e.switchTo(r.j, r.s, r.cand, r.live); err != nil {
			return err
		}
		r.obs.Weight = 100
		return nil
	}
	i, err := r.j.begin("shift", fmt.Sprintf("sending %d%% of new requests to revision %d in %s", weight, r.cand.rev.Number, r.cand.slot), nil)
	if err != nil {
		return err
	}
	r.e.sw.SetWeights(r.s.name, proxy.Weights{r.live.slot: 100 - weight, r.cand.slot: weight})
	r.s.mu.Lock()
	r.ctl.promote = false
	r.s.candShare = weight
	targets := r.cand.targets()
	r.s.mu.Unlock()
	r.baseline = proxy.Snapshot{}
	for _, t := range targets {
		r.baseline = r.baseline.Add(t.Stats())
	}
	r.obs.Weight, r.obs.StepSince = weight, r.e.now()
	r.obs.Step++
	return r.j.end(i, state.Succeeded, fmt.Sprintf("%d%% in %s, %d%% in %s", weight, r.cand.slot, 100-weight, r.live.slot))
}

// stopOld takes n instances of the old revision out of the live pool,
// drains and stops them (rolling). Those failing their checks go first.
func (r *run) stopOld(ctx context.Context, n int) error {
	r.s.mu.Lock()
	ms := slices.Clone(r.live.members)
	slices.SortStableFunc(ms, func(a, b *member) int { return rank(a) - rank(b) })
	going := ms[:min(n, len(ms))]
	r.live.members = slices.DeleteFunc(r.live.members, func(m *member) bool { return slices.Contains(going, m) })
	r.s.mu.Unlock()
	i, err := r.j.begin("take out", fmt.Sprintf("draining and stopping %s of revision %d",
		count(len(going), "instance"), r.live.rev.Number), nil)
	if err != nil {
		return err
	}
	r.e.sw.SetPool(r.s.name, r.cand.slot, r.pool())
	r.e.stopGroup(ctx, &group{rev: r.live.rev, spec: r.live.spec, slot: r.live.slot, members: going}, r.s.name, "replaced by revision "+fmt.Sprint(r.cand.rev.Number))
	return r.j.end(i, state.Succeeded, fmt.Sprintf("%d of revision %d left", len(r.live.members), r.live.rev.Number))
}

// rank orders members for taking out: exited, then unhealthy, then the rest.
func rank(m *member) int {
	switch {
	case m.exited():
		return 0
	case m.target.Health() != proxy.Healthy:
		return 1
	}
	return 2
}

// succeed finishes a deployment whose new revision takes all the traffic.
func (r *run) succeed() (state.Deployment, error) {
	if r.rolling {
		// Every old instance is gone: the new revision is the live one.
		if err := r.e.switchTo(r.j, r.s, r.cand, nil); err != nil {
			return r.fail(err.Error())
		}
	}
	keep := r.applied.Deploy.KeepPrevious.D()
	var warm *group
	if !r.rolling {
		warm = r.live
	}
	_ = r.j.finish(state.Succeeded, "", warmUntil(r.s.name, r.e.now().Add(keep)))
	r.e.keepWarm(r.s, warm, keep, r.j.d.ID)
	r.e.pruneRevisions(r.s.name)
	return r.j.d, nil
}

// fail puts back what was live and stops the new revision's instances.
func (r *run) fail(reason string) (state.Deployment, error) {
	if detail := explain(r.cand); detail != "" && !strings.Contains(reason, "hook failed") {
		reason += "; " + detail
	}
	if r.waiting >= 0 {
		_ = r.j.end(r.waiting, state.Failed, reason)
		r.waiting = -1
	}
	r.endHold()
	ctx := context.Background()
	switch {
	case r.rolling:
		r.restore(ctx)
	case r.obs.Weight == 100:
		r.e.switchBack(r.j, r.s, r.live, r.cand)
	case r.obs.Weight > 0:
		i, _ := r.j.begin("shift", fmt.Sprintf("sending every request to revision %d in %s again", r.live.rev.Number, r.live.slot), nil)
		r.e.sw.SetWeights(r.s.name, proxy.Weights{r.live.slot: 100})
		r.s.mu.Lock()
		r.s.candShare = 0
		r.s.mu.Unlock()
		_ = r.j.end(i, state.Succeeded, "0% on the candidate")
	}
	r.e.sw.SetCandidate(r.s.name, "")
	i, _ := r.j.begin("roll back", fmt.Sprintf("stopping %s of revision %d; what was live stays live",
		count(len(r.cand.members), "new instance"), r.cand.rev.Number), nil)
	r.e.stopGroup(ctx, r.cand, r.s.name, "the deployment failed")
	_ = r.j.end(i, state.Succeeded, "stopped")
	r.e.told(r.j.d, "rolled_back", reason)
	if cmd := r.applied.Deploy.OnRollback; cmd != nil {
		_, _, _ = r.e.runHook(ctx, r.j, "on_rollback", cmd, r.applied.Deploy.HookTimeout.D(),
			append(r.hookEnv(), "TEAL_ROLLBACK_REASON="+reason))
	}
	_ = r.j.finish(state.Failed, reason, nil)
	return r.j.d, &DeploymentError{Service: r.s.name, Deployment: r.j.d.ID, Reason: reason}
}

// restore brings a failed rolling deployment back to the old revision:
// it starts old instances for those taken out, waits for them to be
// healthy, then the new ones are stopped by fail.
func (r *run) restore(ctx context.Context) {
	r.s.mu.Lock()
	missing := r.applied.DesiredCount - len(r.live.members)
	r.s.mu.Unlock()
	if missing <= 0 {
		r.e.sw.SetPool(r.s.name, r.live.slot, r.live.targets())
		return
	}
	i, _ := r.j.begin("restore", fmt.Sprintf("starting %s of revision %d for those taken out", count(missing, "instance"), r.live.rev.Number), nil)
	var added []*member
	for range missing {
		m, err := r.e.startMember(ctx, r.s.name, r.live, r.live.spec.HealthCheck, r.kick)
		if err != nil {
			break
		}
		added = append(added, m)
	}
	r.s.mu.Lock()
	r.live.members = append(r.live.members, added...)
	r.s.mu.Unlock()
	r.e.sw.SetPool(r.s.name, r.live.slot, r.pool())
	deadline := time.Now().Add(r.live.spec.Deploy.ReadyTimeout.D())
	healthy := 0
	for time.Now().Before(deadline) {
		healthy = 0
		for _, m := range added {
			if m.target.Health() == proxy.Healthy {
				healthy++
			}
		}
		if healthy == len(added) {
			break
		}
		select {
		case <-r.wake:
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.e.sw.SetPool(r.s.name, r.live.slot, r.live.targets())
	status := state.Succeeded
	if healthy < missing {
		status = state.Failed
	}
	_ = r.j.end(i, status, fmt.Sprintf("%d of %d healthy", healthy, missing))
}
