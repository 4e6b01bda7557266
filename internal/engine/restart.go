package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/state"
)

// An instance of the live revision that exits on its own is replaced, as
// ECS replaces a service's stopped task: after 1s, then, if replacements
// keep failing or exiting, after twice as long each time up to 5m. A
// crash 10 minutes after the last one starts again at 1s. Each
// replacement is a repair deployment, in the history like any other, and
// takes traffic once healthy.
const (
	restartFirstDelay = time.Second
	restartMaxDelay   = 5 * time.Minute
	restartResetAfter = 10 * time.Minute
	restartBusyDelay  = 2 * time.Second // while another operation holds the service
)

// restarts is a service's record of crashes of its live instances.
type restarts struct {
	inARow int         // crashes since the last quiet restartResetAfter
	last   time.Time   // of the last crash
	timer  *time.Timer // the replacement due
}

// restartDelay returns how long to wait before replacing after the
// n-th crash in a row (n ≥ 1).
func restartDelay(n int) time.Duration {
	d := restartFirstDelay
	for i := 1; i < n && d < restartMaxDelay; i++ {
		d *= 2
	}
	return min(d, restartMaxDelay)
}

// crashed is told that a member of g exited on its own; when g is live,
// a replacement is due.
func (e *Engine) crashed(s *service, g *group, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != g || e.ctx.Err() != nil {
		return // a candidate's crash fails its deployment; a warm slot's waits for a rollback
	}
	r := &s.restarts
	now := e.now()
	if now.Sub(r.last) > restartResetAfter {
		r.inARow = 0
	}
	r.inARow++
	r.last = now
	if r.timer != nil {
		return // one replacement starts all that is missing
	}
	delay := restartDelay(r.inARow)
	e.log.Info("instance will be replaced", "service", s.name, "instance", id, "in", delay)
	r.timer = time.AfterFunc(delay, func() { e.replace(s, g) })
}

// replace starts what is missing of the live revision, unless another
// operation holds the service (it tries again shortly) or g is no longer
// live.
func (e *Engine) replace(s *service, g *group) {
	s.mu.Lock()
	s.restarts.timer = nil
	s.mu.Unlock()
	if e.ctx.Err() != nil {
		return
	}
	if err := s.lock("replace crashed instances", "teal", e.now()); err != nil {
		s.mu.Lock()
		if s.restarts.timer == nil && s.live == g {
			s.restarts.timer = time.AfterFunc(restartBusyDelay, func() { e.replace(s, g) })
		}
		s.mu.Unlock()
		return
	}
	defer s.unlock()
	s.mu.Lock()
	live, inARow := s.live, s.restarts.inARow
	s.mu.Unlock()
	if live != g || e.ctx.Err() != nil {
		return // a deployment replaced it, or the server is stopping
	}
	missing := 0
	for _, m := range g.members {
		if m.exited() {
			missing++
		}
	}
	missing += g.spec.DesiredCount - len(g.members)
	if missing <= 0 {
		return
	}
	e.event(state.Event{Service: s.name, Type: "instance.restarting",
		Message: fmt.Sprintf("replacing %s of revision %d in %s that exited on its own (%s in a row)", count(missing, "instance"), g.rev.Number, g.slot, count(inARow, "crash"))})
	_, err := e.scale(s, g, g.spec, "teal", nil)
	var de *DeploymentError
	if errors.As(err, &de) {
		e.crashed(s, g, "") // the replacement failed: back off and try again
	} else if err != nil {
		e.log.Error("replace crashed instances", "service", s.name, "err", err)
	}
}
