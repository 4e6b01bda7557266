package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/teal-deploy/teal/internal/state"
)

func runEvents(e *env, args []string) error {
	fs := newFlagSet(e, "events", "[flags]")
	var sf serverFlags
	sf.register(fs)
	follow := fs.Bool("f", false, "follow: print events as they happen, until Ctrl-C")
	service := fs.String("service", "", "only the events of this service")
	n := fs.Int("n", 20, "how many of the last events to print first")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("teal events takes no arguments (use --service NAME); got %v", pos)
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	evs, err := c.LastEvents(e.ctx, max(*n, 1), *service)
	if err != nil {
		return err
	}
	var after uint64
	print := func(evs []state.Event) {
		for _, ev := range evs {
			after = max(after, ev.Seq)
			if *asJSON {
				_ = writeJSONLine(e.stdout, ev)
			} else {
				printEvent(e.stdout, ev)
			}
		}
	}
	if *n > 0 {
		print(evs)
	} else if len(evs) > 0 {
		after = evs[len(evs)-1].Seq
	}
	for *follow && e.ctx.Err() == nil {
		evs, err := c.Events(e.ctx, after, 500, *service, 30*time.Second)
		if err != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			return err
		}
		print(evs)
	}
	return nil
}

// printEvent writes an event the way ECS shows a service's: when, whose,
// what, and who asked.
func printEvent(w io.Writer, ev state.Event) {
	who := "teal"
	if ev.Service != "" {
		who = "service " + ev.Service
	}
	msg := ev.Message
	if ev.Deployment != 0 {
		msg = fmt.Sprintf("deployment %d: %s", ev.Deployment, msg)
	}
	if ev.Actor != "" && !strings.HasPrefix(ev.Actor, "teal") {
		msg += " (by " + ev.Actor + ")"
	}
	fmt.Fprintf(w, "%s  %s: %s\n", ev.Time.Local().Format("2006-01-02 15:04:05.000"), who, strings.ReplaceAll(msg, "\n", "\n    "))
}
