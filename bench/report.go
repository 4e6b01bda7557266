package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// round is what every participant measured in one round of one mode.
type round map[string]load

// spread is a median with the range it came from.
type spread struct{ med, lo, hi float64 }

func spreadOf(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Sorted(slices.Values(xs))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{med, s[0], s[len(s)-1]}
}

func (s spread) format(f string) string {
	if s.lo == s.hi {
		return fmt.Sprintf(f, s.med)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.med, s.lo, s.hi)
}

// table renders one mode's rounds: each participant's requests per
// second, median latencies, and its ratios to the direct connection and
// to HAProxy, computed within each round so that drift between rounds
// cancels out. Ratios are left blank where the reference did not run.
func table(names []string, rounds []round) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "participant\treq/s median (range)\tp50\tp99\t× direct\t× HAProxy\tCPU/req\tCPU/req × HAProxy\terrors")
	for _, name := range names {
		var rps, p50, p99, vsDirect, vsHA, cpu, cpuVsHA []float64
		var errs int64
		for _, r := range rounds {
			l, ok := r[name]
			if !ok {
				continue
			}
			rps = append(rps, l.RPS)
			p50 = append(p50, float64(l.P50))
			p99 = append(p99, float64(l.P99))
			errs += l.Non2xx + l.SocketErrors
			if d, ok := r["direct"]; ok && d.RPS > 0 {
				vsDirect = append(vsDirect, l.RPS/d.RPS)
			}
			if h, ok := r["HAProxy"]; ok && h.RPS > 0 {
				vsHA = append(vsHA, l.RPS/h.RPS)
			}
			if l.CPU > 0 {
				cpu = append(cpu, float64(l.CPU))
				if h, ok := r["HAProxy"]; ok && h.CPU > 0 {
					cpuVsHA = append(cpuVsHA, float64(l.CPU)/float64(h.CPU))
				}
			}
		}
		if len(rps) == 0 {
			continue
		}
		ratio := func(xs []float64) string {
			if len(xs) == 0 {
				return "–"
			}
			return spreadOf(xs).format("%.2f")
		}
		cpuCol := "–"
		if len(cpu) > 0 {
			cpuCol = fmt.Sprintf("%.1fµs", spreadOf(cpu).med/1e3)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", name, spreadOf(rps).format("%.0f"),
			latency(spreadOf(p50).med), latency(spreadOf(p99).med), ratio(vsDirect), ratio(vsHA), cpuCol, ratio(cpuVsHA), errs)
	}
	w.Flush()
	return b.String()
}

func latency(ns float64) string {
	d := time.Duration(ns)
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}

// switchResult is what the switch test saw of one proxy.
type switchResult struct {
	name     string
	load     load
	switches int
	// stale counts probes, sent right after a switch returned, that
	// reached the backend switched away from.
	stale int
	// visible is the longest time from a switch's start until a probe
	// reached the new backend.
	visible time.Duration
	// publish is the longest time the proxy itself said a switch took to
	// publish (teal only).
	publish time.Duration
	err     error
}

func switchTable(rs []switchResult) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "proxy\tswitches\trequests\tnon-2xx\tsocket errors\tstale probes\tswitch → new backend seen (max)\tpublish (max)")
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(w, "%s\tfailed: %v\n", r.name, r.err)
			continue
		}
		pub := "–"
		if r.publish > 0 {
			pub = r.publish.Round(time.Microsecond).String()
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.name, r.switches, r.load.Requests, r.load.Non2xx,
			r.load.SocketErrors, r.stale, r.visible.Round(time.Microsecond), pub)
	}
	w.Flush()
	return b.String()
}
