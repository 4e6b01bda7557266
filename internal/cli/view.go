package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/state"
)

// progressView prints progress line by line, each with the time since the
// command began, so that it reads the same on a terminal and in CI logs.
type progressView struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
}

func newProgressView(w io.Writer) *progressView {
	return &progressView{w: w, start: time.Now()}
}

func (v *progressView) print(p engine.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	prefix := fmt.Sprintf("[%6.1fs] ", time.Since(v.start).Seconds())
	who := p.Service
	if who == "" {
		who = "teal"
	}
	var line string
	switch {
	case p.Step == "":
		line = fmt.Sprintf("%s: %s", who, p.Message)
	case p.Status == state.Running:
		line = fmt.Sprintf("%s: %s: %s", who, p.Step, p.Message)
	case p.Status == state.Failed:
		line = fmt.Sprintf("%s: %s: FAILED: %s", who, p.Step, p.Message)
	default:
		line = fmt.Sprintf("%s: %s: done: %s", who, p.Step, p.Message)
	}
	pad := strings.Repeat(" ", len(prefix))
	fmt.Fprintln(v.w, prefix+strings.ReplaceAll(line, "\n", "\n"+pad))
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// renderResults prints how each change of an apply went and reports
// whether every one succeeded.
func renderResults(w io.Writer, res api.ApplyResult) bool {
	ok, failed := 0, 0
	for _, r := range res.Results {
		if r.Error != "" {
			failed++
		} else {
			ok++
		}
	}
	fmt.Fprintln(w)
	if failed == 0 {
		fmt.Fprintf(w, "Apply complete: %d %s changed.\n", ok, plural(ok, "object", "objects"))
	} else {
		fmt.Fprintf(w, "Apply failed: %d of %d changes failed; what was live before them keeps serving.\n", failed, ok+failed)
	}
	for _, r := range res.Results {
		msg := "done"
		if d := r.Deployment; d != nil {
			msg = fmt.Sprintf("deployment %d %s", d.ID, d.Status)
			if d.Status == state.Succeeded && d.Kind != state.KindDestroy && d.Kind != state.KindScale {
				msg += fmt.Sprintf("; revision %d is live in %s", d.ToRevision, d.Slot)
			}
		}
		if r.Error != "" {
			msg = "FAILED: " + r.Error
		}
		fmt.Fprintf(w, "  %s (%s): %s\n", r.Address, r.Action, strings.ReplaceAll(msg, "\n", "\n    "))
	}
	return failed == 0
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func renderStatus(w io.Writer, st []engine.ServiceStatus, detail bool) {
	if len(st) == 0 {
		fmt.Fprintln(w, "No services. Apply a configuration with teal apply.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tREVISION\tLIVE\tINSTANCES\tWARM\tSTATE\tLAST DEPLOYMENT")
	for _, s := range st {
		version, rev, live, inst, warm := "-", "-", "-", "-", "-"
		if l := s.Live; l != nil {
			version, rev, live = orDash(l.Version), fmt.Sprint(l.Revision), string(l.Slot)
			inst = healthSummary(l)
		}
		if p := s.Previous; p != nil {
			warm = fmt.Sprintf("revision %d in %s", p.Revision, p.Slot)
			if !p.WarmUntil.IsZero() {
				warm += " until " + p.WarmUntil.Local().Format(time.TimeOnly)
			}
		}
		last := "-"
		if d := s.Deployment; d != nil {
			last = fmt.Sprintf("#%d %s %s %s", d.ID, d.Kind, revisions(d), d.Status)
			if !d.EndedAt.IsZero() {
				last += " " + ago(d.EndedAt)
			}
		}
		state := "serving"
		if g := s.Gate; g != nil && g.Maintenance {
			state = "maintenance"
		} else if g != nil {
			state = "paused"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, version, rev, live, inst, warm, state, last)
	}
	tw.Flush()
	renderDNSStatus(w, st)
	if !detail {
		return
	}
	for _, s := range st {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tROLE\tREVISION\tADDRESS\tHEALTH\tIN FLIGHT\tSERVED\tLAST CHECK")
		for _, slot := range []struct {
			role string
			ss   *engine.SlotStatus
		}{{"live", s.Live}, {"candidate", s.Candidate}, {"warm", s.Previous}} {
			if slot.ss == nil {
				continue
			}
			for _, in := range slot.ss.Instances {
				health := in.Health
				if in.Exit != "" {
					health = in.Exit
				}
				fmt.Fprintf(tw, "%s\t%s (%s)\t%d\t%s\t%s\t%d\t%d\t%s\n", in.ID, slot.role, slot.ss.Slot, slot.ss.Revision, in.Addr, health, in.InFlight, in.Served, in.LastCheck)
			}
		}
		tw.Flush()
		if d := s.Deployment; d != nil && d.Reason != "" {
			fmt.Fprintf(w, "\nDeployment %d %s: %s\n", d.ID, d.Status, d.Reason)
		}
	}
}

func healthSummary(s *engine.SlotStatus) string {
	healthy := 0
	for _, in := range s.Instances {
		if in.Health == "healthy" {
			healthy++
		}
	}
	return fmt.Sprintf("%d/%d healthy", healthy, len(s.Instances))
}

func revisions(d *state.Deployment) string {
	if d.FromRevision == 0 {
		return fmt.Sprintf("→%d", d.ToRevision)
	}
	if d.FromRevision == d.ToRevision || d.ToRevision == 0 {
		return fmt.Sprintf("%d", d.FromRevision)
	}
	return fmt.Sprintf("%d→%d", d.FromRevision, d.ToRevision)
}

func renderHistory(w io.Writer, h api.HistoryResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tVERSION\tTEMPLATE\tCREATED")
	for _, r := range h.Revisions {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.Number, orDash(r.Version), r.Hash, r.CreatedAt.Local().Format(time.DateTime))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPLOYMENT\tKIND\tSTRATEGY\tREVISIONS\tSLOT\tSTATUS\tSTARTED\tTOOK\tSTEPS")
	for _, d := range h.Deployments {
		took := "-"
		if !d.EndedAt.IsZero() {
			took = d.EndedAt.Sub(d.StartedAt).Round(time.Millisecond).String()
		}
		steps := make([]string, len(d.Steps))
		for i, st := range d.Steps {
			steps[i] = st.Name
			if st.Status == state.Failed {
				steps[i] += "(failed)"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, orDash(string(d.Strategy)), revisions(&d), orDash(string(d.Slot)), d.Status,
			d.StartedAt.Local().Format(time.DateTime), took, strings.Join(steps, " → "))
	}
	tw.Flush()
	for _, d := range h.Deployments {
		if d.Reason != "" {
			fmt.Fprintf(w, "\nDeployment %d %s: %s\n", d.ID, d.Status, d.Reason)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	if d < time.Second {
		return "just now"
	}
	return d.String() + " ago"
}
