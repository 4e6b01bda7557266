package dashboard

import (
	"time"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Snapshot is everything the page shows at one moment. The Backend fills
// it in; the dashboard adds the time and each slot's rates.
type Snapshot struct {
	Time     time.Time `json:"time"`
	Services []Service `json:"services"` // by environment, then name
	Events   []Event   `json:"events"`   // the most recent of every environment, oldest first
}

// Service is one service of one environment.
type Service struct {
	Env     string `json:"env"` // "" for the default environment
	Name    string `json:"name"`
	Version string `json:"version"` // of the live revision
	// Slots are the live slot, then the candidate and the warm previous
	// slot when there are.
	Slots []Slot `json:"slots"`
	// Deployment is the one in flight, or the last one.
	Deployment *state.Deployment `json:"deployment,omitempty"`
	// Gate is set while the service is paused or in maintenance.
	Gate *state.Gate `json:"gate,omitempty"`
}

// Role is what a slot is doing for its service.
type Role string

// The roles of a slot.
const (
	Live      Role = "live"      // takes the traffic (all of it, unless a canary shares it)
	Candidate Role = "candidate" // the revision being deployed
	Previous  Role = "previous"  // warm, for an instant rollback
)

// Slot is a revision in a slot, its share of new requests and its
// instances.
type Slot struct {
	Role      Role       `json:"role"`
	Slot      spec.Slot  `json:"slot"`
	Revision  int        `json:"revision"`
	Version   string     `json:"version"`
	Weight    int        `json:"weight"` // percent of new requests, as the load balancer routes them
	WarmUntil time.Time  `json:"warm_until,omitzero"`
	Instances []Instance `json:"instances"`
	// RequestRate is requests per second and ErrorRate the share of them
	// that failed (5xx or no answer), over the last few seconds, from the
	// load balancer's counters; nil until there are two samples to
	// difference.
	RequestRate *float64 `json:"request_rate"`
	ErrorRate   *float64 `json:"error_rate"`
}

// Instance is one instance as the load balancer sees it.
type Instance struct {
	ID        string    `json:"id"`
	Addr      string    `json:"addr"`
	Health    string    `json:"health"`
	LastCheck string    `json:"last_check,omitempty"`
	Started   time.Time `json:"started"`
	Exit      string    `json:"exit,omitempty"`
	// Requests and Errors are the load balancer's counters of the
	// instance since it was started. They are not sent to the page: the
	// dashboard turns them into each slot's rates.
	Requests uint64 `json:"-"`
	Errors   uint64 `json:"-"`
}

// Event is an event of one environment.
type Event struct {
	Env string `json:"env"`
	state.Event
}
