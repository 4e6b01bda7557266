package proxy

import (
	"slices"

	"github.com/teal-deploy/teal/internal/spec"
)

// Pool is one slot of a service as the load balancer routes it: the share
// of new requests the slot receives and the targets in it.
type Pool struct {
	Slot    spec.Slot
	Weight  int // percent of new requests; 0 for a candidate held back or a warm slot
	Targets []*Target
}

// Pools returns the slots of a service that have targets or weight, blue
// then green, as they are now; nil for a service the proxy does not know.
// It is for views of the load balancer (the dashboard reads each target's
// Stats from it); the slices are copies, the targets are the live ones.
func (p *Proxy) Pools(service string) []Pool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.services[service]
	if c == nil {
		return nil
	}
	var out []Pool
	for _, slot := range []spec.Slot{spec.Blue, spec.Green} {
		ts, w := c.pools[slot], c.weights[slot]
		if len(ts) == 0 && w == 0 {
			continue
		}
		out = append(out, Pool{Slot: slot, Weight: w, Targets: slices.Clone(ts)})
	}
	return out
}
