package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/teal-deploy/teal/internal/engine"
)

// renderDNSStatus writes, for the services that switch by DNS, where each
// record points and how much traffic still reaches each slot's listener:
// after a switch, the old slot's share is what clients with cached
// answers still send.
func renderDNSStatus(w io.Writer, st []engine.ServiceStatus) {
	any := false
	for _, s := range st {
		any = any || s.DNS != nil
	}
	if !any {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tPOINTS AT\tTTL\tSLOT\tLISTENER\tSERVES\tREQUESTS\tLAST 10S")
	for _, s := range st {
		d := s.DNS
		if d == nil {
			continue
		}
		for i, sl := range d.Slots {
			record, points, ttl := "", "", ""
			if i == 0 {
				record, points, ttl = d.Name, orDash(d.Points), d.TTL.String()
			}
			listen := sl.Listen
			if listen == "" {
				listen = "not listening"
				if sl.Error != "" {
					listen += ": " + sl.Error
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f/s\n", record, points, ttl, sl.Slot, listen, sl.Serves, sl.Requests, sl.Rate)
		}
	}
	tw.Flush()
}
