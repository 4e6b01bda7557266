package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collector returns the proxy's metrics for a Prometheus registry. They
// are read at scrape time from each target's counters, so counting costs
// the request path a few atomic adds and no label lookup; a target's
// series end when it is closed.
func (p *Proxy) Collector() prometheus.Collector { return collector{p} }

var (
	instanceLabels = []string{"service", "slot", "instance"}

	descRequests = prometheus.NewDesc("teal_requests_total",
		"Requests forwarded to an instance, by the class of the answer; code=\"error\" when the instance gave none.",
		append(instanceLabels, "code"), nil)
	descDuration = prometheus.NewDesc("teal_request_duration_seconds",
		"Time from forwarding a request to the end of its answer.", instanceLabels, nil)
	descInFlight = prometheus.NewDesc("teal_requests_in_flight",
		"Requests being forwarded to an instance now.", instanceLabels, nil)
	descHealthy = prometheus.NewDesc("teal_instance_healthy",
		"1 when the instance may take traffic, 0 when it may not.", instanceLabels, nil)
	descChecks = prometheus.NewDesc("teal_health_checks_total",
		"Active health checks, by result.", append(instanceLabels, "result"), nil)
	descTransitions = prometheus.NewDesc("teal_health_transitions_total",
		"Changes of an instance's health, by active checks or by real requests.", instanceLabels, nil)
	descLoopAnswers = prometheus.NewDesc("teal_event_loop_answers_total",
		"Requests a load balancer's event loops answered themselves.", []string{"load_balancer"}, nil)
	descLoopHandOvers = prometheus.NewDesc("teal_event_loop_handovers_total",
		"Connections a load balancer's event loops handed to goroutines: a body, a stream, a slow instance or client, anything net/http serves.", []string{"load_balancer"}, nil)
)

type collector struct{ p *Proxy }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descDuration, descInFlight, descHealthy, descChecks, descTransitions, descLoopAnswers, descLoopHandOvers} {
		ch <- d
	}
}

var codeLabels = [6]string{"error", "1xx", "2xx", "3xx", "4xx", "5xx"}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for name, s := range c.p.fastServers() {
		ch <- prometheus.MustNewConstMetric(descLoopAnswers, prometheus.CounterValue, float64(s.loopAnswered.Load()), name)
		ch <- prometheus.MustNewConstMetric(descLoopHandOvers, prometheus.CounterValue, float64(s.loopHandedOff.Load()), name)
	}
	for _, t := range c.p.tracked() {
		lv := []string{t.Service, string(t.Slot), t.ID}
		sn := t.stats.snapshot()
		for i, n := range sn.Codes {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), append(lv, codeLabels[i])...)
		}
		buckets := make(map[float64]uint64, len(latencyBounds))
		var cum uint64
		for i, b := range latencyBounds {
			cum += sn.Buckets[i]
			buckets[b] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, cum+sn.Buckets[len(latencyBounds)], sn.Sum.Seconds(), buckets, lv...)
		ch <- prometheus.MustNewConstMetric(descInFlight, prometheus.GaugeValue, float64(t.InFlight()), lv...)
		healthy := 0.0
		if t.Health() == Healthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, lv...)
		ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(t.stats.checksPassed.Load()), append(lv, "pass")...)
		ch <- prometheus.MustNewConstMetric(descChecks, prometheus.CounterValue, float64(t.stats.checksFailed.Load()), append(lv, "fail")...)
		ch <- prometheus.MustNewConstMetric(descTransitions, prometheus.CounterValue, float64(t.stats.transitions.Load()), lv...)
	}
}

// fastServers returns the fast path of each load balancer, by name.
func (p *Proxy) fastServers() map[string]*fastServer {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]*fastServer, len(p.listeners))
	for name, l := range p.listeners {
		if l.fast != nil {
			out[name] = l.fast
		}
	}
	return out
}
