// Package state is teal's record of the world: services as last applied,
// their numbered and immutable revisions, every deployment with each of its
// steps, and an event log. It is kept in an embedded transactional store
// (bbolt) in the server's data directory, so it survives a restart, and
// every write is one fsynced transaction.
package state

import (
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Service is what is recorded about one service.
type Service struct {
	Name string `json:"name"`
	// Spec is the service as last applied: the live revision's template
	// with the in-place settings (routes, count, health check) of the last
	// apply.
	Spec spec.Service `json:"spec"`
	// Live is where the revision that takes traffic runs; nil until a
	// deployment of the service has succeeded.
	Live *Placement `json:"live,omitempty"`
	// Previous is the revision that took traffic before Live, kept warm
	// until WarmUntil so that a rollback is one switch; nil when it is
	// no longer running.
	Previous *Placement `json:"previous,omitempty"`
	// Gate, when set, holds requests (paused) or answers them with a page
	// (maintenance) until the operator resumes the service.
	Gate      *Gate     `json:"gate,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Gate is a pause or a maintenance set by an operator.
type Gate struct {
	Maintenance bool          `json:"maintenance,omitempty"`
	Message     string        `json:"message,omitempty"`
	MaxPause    spec.Duration `json:"max_pause,omitempty"`
	Actor       string        `json:"actor,omitempty"`
	Since       time.Time     `json:"since"`
}

// Placement is a revision in a slot.
type Placement struct {
	Revision  int       `json:"revision"`
	Slot      spec.Slot `json:"slot"`
	WarmUntil time.Time `json:"warm_until,omitzero"`
}

// Revision is one immutable version of a service's spec. Numbers start at
// 1 and grow by one for every new revision of the service; they are never
// reused, even when a service is destroyed and declared again.
type Revision struct {
	Service   string       `json:"service"`
	Number    int          `json:"number"`
	Version   string       `json:"version"`
	Hash      string       `json:"hash"` // of the template; equal hashes run the same thing
	Spec      spec.Service `json:"spec"`
	CreatedAt time.Time    `json:"created_at"`
	// Imported marks the revision `teal import` made of what already
	// ran: the configuration says what it should be, not what it is.
	Imported bool `json:"imported,omitempty"`
}

// DeploymentKind says why a deployment was made.
type DeploymentKind string

// The kinds of deployment.
const (
	KindDeploy   DeploymentKind = "deploy"   // a new revision, by the service's strategy
	KindRollback DeploymentKind = "rollback" // back to an earlier revision
	KindScale    DeploymentKind = "scale"    // more or fewer instances of the live revision
	KindRepair   DeploymentKind = "repair"   // instances that died outside a deployment replaced
	KindDestroy  DeploymentKind = "destroy"  // the service is drained and removed
	KindImport   DeploymentKind = "import"   // what already ran brought under teal
)

// Status is where a deployment or a step stands. Succeeded and Failed are
// terminal; a failed one carries a reason a person can act on.
type Status string

// The statuses of deployments and steps.
const (
	Running   Status = "running"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
)

// Deployment is one attempt to move a service from one revision to
// another, recorded step by step as it happens.
type Deployment struct {
	Service      string         `json:"service"`
	ID           int            `json:"id"` // 1, 2, 3 … per service
	Kind         DeploymentKind `json:"kind"`
	Strategy     spec.Strategy  `json:"strategy,omitempty"`
	FromRevision int            `json:"from_revision,omitempty"` // 0: nothing was live
	ToRevision   int            `json:"to_revision"`
	Slot         spec.Slot      `json:"slot,omitempty"` // where the new revision runs
	Status       Status         `json:"status"`
	Reason       string         `json:"reason,omitempty"`
	Steps        []Step         `json:"steps"`
	StartedAt    time.Time      `json:"started_at"`
	EndedAt      time.Time      `json:"ended_at,omitzero"`
}

// Step is one step of a deployment. It is recorded as Running before it is
// acted on, and finished with its outcome after.
type Step struct {
	Name      string    `json:"name"`
	Detail    string    `json:"detail,omitempty"`
	Status    Status    `json:"status"`
	Outcome   string    `json:"outcome,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// Instance is a running instance the server started, recorded so that a
// server that was killed can find it again.
type Instance struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	Revision  int       `json:"revision"`
	Slot      spec.Slot `json:"slot"`
	Addr      string    `json:"addr"`
	Handle    string    `json:"handle"` // the driver's, to adopt the instance again
	StartedAt time.Time `json:"started_at"`
}

// Event is one thing that happened, in order.
type Event struct {
	Seq        uint64    `json:"seq"`
	Time       time.Time `json:"time"`
	Service    string    `json:"service,omitempty"`
	Deployment int       `json:"deployment,omitempty"`
	Type       string    `json:"type"` // e.g. "deployment.step", "instance.exited", "health.changed"
	Message    string    `json:"message"`
	Actor      string    `json:"actor,omitempty"` // who asked for it, for operator actions
}
