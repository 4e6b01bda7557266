package engine

import (
	"fmt"

	"github.com/teal-deploy/teal/internal/state"
)

// journal records a deployment step by step. A step is stored as running
// before it is acted on, and finished with its outcome after, so a server
// that dies in between knows how far it got. Each record is also an event
// and a line of progress for the person who asked.
type journal struct {
	e     *Engine
	d     state.Deployment
	actor string
	rep   Reporter
}

// openJournal records a new deployment; also, when given, writes in the
// same transaction.
func (e *Engine) openJournal(d state.Deployment, actor string, rep Reporter, also func(*state.Tx) error) (*journal, error) {
	d.Status = state.Running
	d.StartedAt = e.now()
	j := &journal{e: e, actor: actor, rep: rep}
	err := e.store.Update(func(tx *state.Tx) error {
		var err error
		if d, err = tx.CreateDeployment(d); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		_, err = tx.AppendEvent(state.Event{Service: d.Service, Deployment: d.ID, Type: "deployment.started",
			Message: describe(d), Actor: actor})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("service %q: record the deployment: %w", d.Service, err)
	}
	j.d = d
	j.report("", state.Running, describe(d))
	e.told(d, "started", "")
	return j, nil
}

func describe(d state.Deployment) string {
	switch {
	case d.Kind == state.KindRollback:
		return fmt.Sprintf("rollback from revision %d to revision %d", d.FromRevision, d.ToRevision)
	case d.Kind == state.KindScale:
		return fmt.Sprintf("scale revision %d", d.ToRevision)
	case d.Kind == state.KindRepair:
		return fmt.Sprintf("repair revision %d: replace instances that died", d.ToRevision)
	case d.Kind == state.KindImport:
		return fmt.Sprintf("import: what runs becomes revision %d, routed in %s", d.ToRevision, d.Slot)
	case d.Kind == state.KindDestroy:
		return fmt.Sprintf("destroy: drain and stop revision %d", d.FromRevision)
	case d.FromRevision == 0:
		return fmt.Sprintf("deploy revision %d by %s (nothing is live yet)", d.ToRevision, d.Strategy)
	default:
		return fmt.Sprintf("deploy revision %d by %s, replacing revision %d", d.ToRevision, d.Strategy, d.FromRevision)
	}
}

// begin records a step as running and returns its index.
func (j *journal) begin(name, detail string, also func(*state.Tx) error) (int, error) {
	j.d.Steps = append(j.d.Steps, state.Step{Name: name, Detail: detail, Status: state.Running, StartedAt: j.e.now()})
	i := len(j.d.Steps) - 1
	if err := j.write("deployment.step", name+": "+detail, also); err != nil {
		return i, err
	}
	j.report(name, state.Running, detail)
	return i, nil
}

// end records the outcome of step i.
func (j *journal) end(i int, status state.Status, outcome string) error {
	st := &j.d.Steps[i]
	st.Status, st.Outcome, st.EndedAt = status, outcome, j.e.now()
	err := j.write("deployment.step", fmt.Sprintf("%s: %s: %s", st.Name, status, outcome), nil)
	j.report(st.Name, status, outcome)
	return err
}

// finish records the deployment's outcome; reason says why it failed.
func (j *journal) finish(status state.Status, reason string, also func(*state.Tx) error) error {
	j.d.Status, j.d.Reason, j.d.EndedAt = status, reason, j.e.now()
	msg := fmt.Sprintf("deployment %d %s", j.d.ID, status)
	if reason != "" {
		msg += ": " + reason
	} else if status == state.Succeeded && j.d.Kind != state.KindDestroy {
		msg += fmt.Sprintf(": revision %d is live; the service has reached a steady state", j.d.ToRevision)
	}
	err := j.write("deployment."+string(status), msg, also)
	j.report("", status, msg)
	j.e.told(j.d, string(status), reason)
	return err
}

func (j *journal) write(typ, msg string, also func(*state.Tx) error) error {
	err := j.e.store.Update(func(tx *state.Tx) error {
		if err := tx.PutDeployment(j.d); err != nil {
			return err
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		_, err := tx.AppendEvent(state.Event{Service: j.d.Service, Deployment: j.d.ID, Type: typ, Message: msg, Actor: j.actor})
		return err
	})
	if err != nil {
		j.e.log.Error("journal", "service", j.d.Service, "deployment", j.d.ID, "err", err)
		return fmt.Errorf("service %q: deployment %d: record %s: %w", j.d.Service, j.d.ID, typ, err)
	}
	return nil
}

func (j *journal) report(step string, status state.Status, msg string) {
	if j.rep != nil {
		j.rep(Progress{Time: j.e.now(), Service: j.d.Service, Deployment: j.d.ID, Step: step, Status: status, Message: msg})
	}
}
