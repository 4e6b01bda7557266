package cli

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// runState is `teal state list|show|versions|locks`.
func runState(e *env, args []string) error {
	if len(args) == 0 {
		return usageError("teal state takes a subcommand: list, show ADDRESS, versions or locks")
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet(e, "state "+sub, "[flags]")
	var sf serverFlags
	sf.register(fs)
	serial := fs.Uint64("serial", 0, "an earlier version of the state (see teal state versions)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	switch sub {
	case "list":
		if len(pos) != 0 {
			return usageError("teal state list takes no arguments")
		}
		v, err := c.State(e.ctx, *serial)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONTo(e.stdout, v)
		}
		for _, lb := range v.LoadBalancers {
			fmt.Fprintf(e.stdout, "load_balancer.%s\t(%s)\n", lb.Name, lb.Listen)
		}
		for _, s := range v.Services {
			live := "nothing live"
			if s.Live != nil {
				live = fmt.Sprintf("revision %d live in %s", s.Live.Revision, s.Live.Slot)
			}
			fmt.Fprintf(e.stdout, "service.%s\t(%s)\n", s.Name, live)
		}
		for _, z := range v.DNSZones {
			fmt.Fprintf(e.stdout, "dns_zone.%s\t(%s)\n", z.Name, zoneServer(z))
		}
		return nil
	case "show":
		if len(pos) != 1 {
			return usageError("teal state show takes one address, like service.web, load_balancer.public or dns_zone.example.com")
		}
		v, err := c.State(e.ctx, *serial)
		if err != nil {
			return err
		}
		return showAddress(e, v, pos[0], *asJSON, *serial != 0)
	case "versions":
		vs, err := c.StateVersions(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONTo(e.stdout, vs)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SERIAL\tTIME\tLINEAGE")
		for _, v := range vs {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", v.Serial, v.Time.Local().Format(time.DateTime), v.Lineage)
		}
		return tw.Flush()
	case "locks":
		ls, err := c.Locks(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSONTo(e.stdout, ls)
		}
		if len(ls) == 0 {
			fmt.Fprintln(e.stdout, "No lock is held.")
		}
		for _, l := range ls {
			fmt.Fprintf(e.stdout, "%s\t%s: %s by %s since %s\n", l.ID, l.Name, l.Operation, l.Who, l.Created.Local().Format(time.DateTime))
		}
		return nil
	default:
		return usageError("teal state %s: expected list, show, versions or locks", sub)
	}
}

// showAddress prints one recorded object, attribute by attribute, as a
// plan shows it; earlier says v is an earlier version, kept without its
// DNS zones.
func showAddress(e *env, v state.Version, addr string, asJSON, earlier bool) error {
	kind, name, _ := strings.Cut(addr, ".")
	var obj any       // what -json prints
	var render func() // what is printed otherwise, below the address
	switch kind {
	case "load_balancer":
		if i := slices.IndexFunc(v.LoadBalancers, func(lb spec.LoadBalancer) bool { return lb.Name == name }); i >= 0 {
			lb := v.LoadBalancers[i]
			obj, render = lb, func() { plan.RenderLoadBalancer(e.stdout, lb) }
		}
	case "service":
		if i := slices.IndexFunc(v.Services, func(s state.Service) bool { return s.Name == name }); i >= 0 {
			s := v.Services[i]
			obj, render = s, func() {
				if s.Live != nil {
					fmt.Fprintf(e.stdout, "# revision %d live in %s", s.Live.Revision, s.Live.Slot)
					if p := s.Previous; p != nil {
						fmt.Fprintf(e.stdout, "; revision %d warm in %s", p.Revision, p.Slot)
					}
					fmt.Fprintln(e.stdout)
				}
				plan.RenderService(e.stdout, s.Spec)
			}
		}
	case "dns_zone":
		if i := slices.IndexFunc(v.DNSZones, func(z spec.DNSZone) bool { return z.Name == name }); i >= 0 {
			z := v.DNSZones[i]
			obj, render = z, func() { plan.RenderDNSZone(e.stdout, z) }
		} else if earlier {
			return &exitError{code: ExitFailure, err: fmt.Errorf("%s: earlier versions of the state are kept without their DNS zones; the current state has them", addr)}
		}
	default:
		return usageError("%q is not an address; expected service.NAME, load_balancer.NAME or dns_zone.NAME", addr)
	}
	if obj == nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("%s is not in the state (serial %d)", addr, v.Serial)}
	}
	if asJSON {
		return writeJSONTo(e.stdout, obj)
	}
	fmt.Fprintf(e.stdout, "# %s (serial %d)\n", addr, v.Serial)
	render()
	return nil
}

// zoneServer says who answers for a zone: teal itself, or the server teal
// sends updates to.
func zoneServer(z spec.DNSZone) string {
	if z.Update != nil {
		return "updates to " + z.Update.Server
	}
	return "answered by teal on " + z.Listen
}

func runForceUnlock(e *env, args []string) error {
	fs := newFlagSet(e, "force-unlock", "[flags] LOCK_ID")
	var sf serverFlags
	sf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("teal force-unlock takes the ID of a lock (see teal state locks)")
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	l, err := c.ForceUnlock(e.ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Lock %s on %s, held by %s for %s since %s, removed.\n", l.ID, l.Name, l.Who, l.Operation, l.Created.Local().Format(time.DateTime))
	return nil
}
