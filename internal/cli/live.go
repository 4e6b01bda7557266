package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/state"
)

// isTerminal reports whether w is a terminal that can be redrawn.
func isTerminal(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// liveView draws each service's deployment as it goes, in place: its
// steps with a spinner and their durations, the weights of its slots, its
// instances and their health, and the reason when something fails.
type liveView struct {
	w     io.Writer
	c     *api.Client
	mu    sync.Mutex
	deps  map[string]*liveDeployment // by service
	order []string
	other []string // progress not about a deployment
	stat  map[string]engine.ServiceStatus
	lines int // drawn last time, to draw over
	frame int
	start time.Time
}

type liveDeployment struct {
	title  string
	steps  []liveStep
	result string
	failed bool
}

type liveStep struct {
	name, detail, outcome string
	status                state.Status
	began, ended          time.Time
}

func newLiveView(w io.Writer, c *api.Client) *liveView {
	return &liveView{w: w, c: c, deps: map[string]*liveDeployment{}, stat: map[string]engine.ServiceStatus{}, start: time.Now()}
}

// run redraws until ctx is done, asking the server for the instances'
// health as it goes.
func (v *liveView) run(ctx context.Context) {
	tick := time.NewTicker(120 * time.Millisecond)
	defer tick.Stop()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			v.draw()
			return
		case <-poll.C:
			if st, err := v.c.Status(ctx, ""); err == nil {
				v.mu.Lock()
				for _, s := range st {
					v.stat[s.Name] = s
				}
				v.mu.Unlock()
			}
		case <-tick.C:
			v.draw()
		}
	}
}

// print takes one line of progress.
func (v *liveView) print(p engine.Progress) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if p.Deployment == 0 {
		v.other = append(v.other, p.Message)
		return
	}
	d := v.deps[p.Service]
	if d == nil {
		d = &liveDeployment{}
		v.deps[p.Service] = d
		v.order = append(v.order, p.Service)
	}
	switch {
	case p.Step == "" && p.Status == state.Running:
		d.title = fmt.Sprintf("deployment %d: %s", p.Deployment, p.Message)
	case p.Step == "":
		d.result, d.failed = p.Message, p.Status == state.Failed
	case p.Status == state.Running:
		d.steps = append(d.steps, liveStep{name: p.Step, detail: p.Message, status: state.Running, began: p.Time})
	default:
		for i := len(d.steps) - 1; i >= 0; i-- {
			if s := &d.steps[i]; s.name == p.Step && s.status == state.Running {
				s.status, s.outcome, s.ended = p.Status, p.Message, p.Time
				break
			}
		}
	}
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (v *liveView) draw() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.frame++
	var b strings.Builder
	if v.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", v.lines) // back to the top of what was drawn, and clear it
	}
	var out []string
	for _, m := range v.other {
		out = append(out, m)
	}
	for _, name := range v.order {
		d := v.deps[name]
		out = append(out, fmt.Sprintf("%s  %s", bold(name), d.title))
		for _, s := range d.steps {
			mark, took, text := spinner[v.frame%len(spinner)], time.Since(s.began), s.detail
			switch s.status {
			case state.Succeeded:
				mark, took, text = "✓", s.ended.Sub(s.began), s.outcome
			case state.Failed:
				mark, took, text = "✗", s.ended.Sub(s.began), s.outcome
			}
			out = append(out, fmt.Sprintf("    %s %-13s %7s  %s", mark, s.name, short(took), firstLine(text)))
		}
		if st, ok := v.stat[name]; ok && d.result == "" {
			out = append(out, slotLines(st)...)
		}
		if d.result != "" {
			mark := "✓"
			if d.failed {
				mark = "✗"
			}
			out = append(out, fmt.Sprintf("    %s %s", mark, firstLine(d.result)))
			if d.failed {
				for _, l := range strings.Split(d.result, "\n")[1:] {
					out = append(out, "      "+l)
				}
			}
		}
	}
	for _, l := range out {
		b.WriteString(l + "\n")
	}
	v.lines = len(out)
	io.WriteString(v.w, b.String())
}

// slotLines says a service's weights and instances, a line each.
func slotLines(st engine.ServiceStatus) []string {
	var weights, insts []string
	for _, s := range []*engine.SlotStatus{st.Live, st.Candidate} {
		if s == nil {
			continue
		}
		weights = append(weights, fmt.Sprintf("%s %d%% (revision %d)", s.Slot, s.Weight, s.Revision))
		for _, in := range s.Instances {
			h := in.Health
			if in.Exit != "" {
				h = "exited"
			}
			insts = append(insts, fmt.Sprintf("%s %s", in.ID, h))
		}
	}
	sort.Strings(insts)
	var out []string
	if len(weights) > 0 {
		out = append(out, "      weights: "+strings.Join(weights, " · "))
	}
	if len(insts) > 0 {
		out = append(out, "      instances: "+strings.Join(insts, " · "))
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func bold(s string) string { return "\x1b[1m" + s + "\x1b[0m" }

// short writes a duration as a person reads a step's: "3ms", "1.2s".
func short(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
