package dashboard

import "time"

// counts is what the load balancer counted of one instance.
type counts struct{ requests, errors uint64 }

// sample is every instance's counters at one moment, by instanceKey.
type sample struct {
	at     time.Time
	counts map[string]counts
}

// rateWindow turns the load balancer's ever-growing counters into rates
// over the last span: each observation is differenced with the oldest
// sample still in the window. It is not safe for concurrent use; the
// dashboard's one loop owns it.
type rateWindow struct {
	span    time.Duration
	samples []sample // oldest first; samples[0] is the base of the next rates
}

func instanceKey(s Service, id string) string { return s.Env + "/" + s.Name + "/" + id }

// observe records the counters of snap's instances at time at, and sets
// the rates of each of snap's slots over the time since the base sample.
// An instance that the base sample did not have was started since, so all
// it counted falls in the window; one whose counter went back is a new
// instance with an old name, and counts the same way.
func (w *rateWindow) observe(at time.Time, snap *Snapshot) {
	cur := sample{at: at, counts: map[string]counts{}}
	for _, svc := range snap.Services {
		for _, sl := range svc.Slots {
			for _, in := range sl.Instances {
				cur.counts[instanceKey(svc, in.ID)] = counts{in.Requests, in.Errors}
			}
		}
	}
	// Keep as base the newest sample at least span old, so that rates
	// cover the whole span once there is one.
	for len(w.samples) > 1 && !w.samples[1].at.After(at.Add(-w.span)) {
		w.samples = w.samples[1:]
	}
	if len(w.samples) > 0 && at.After(w.samples[0].at) {
		base := w.samples[0]
		secs := at.Sub(base.at).Seconds()
		for i := range snap.Services {
			svc := &snap.Services[i]
			for j := range svc.Slots {
				sl := &svc.Slots[j]
				var d counts
				for _, in := range sl.Instances {
					now, old := cur.counts[instanceKey(*svc, in.ID)], base.counts[instanceKey(*svc, in.ID)]
					if now.requests < old.requests || now.errors < old.errors {
						old = counts{}
					}
					d.requests += now.requests - old.requests
					d.errors += now.errors - old.errors
				}
				rate, errRate := float64(d.requests)/secs, 0.0
				if d.requests > 0 {
					errRate = float64(d.errors) / float64(d.requests)
				}
				sl.RequestRate, sl.ErrorRate = &rate, &errRate
			}
		}
	}
	w.samples = append(w.samples, cur)
}
