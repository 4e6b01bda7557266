package cli

import (
	"fmt"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
)

func runLogs(e *env, args []string) error {
	fs := newFlagSet(e, "logs", "[flags] SERVICE")
	var sf serverFlags
	sf.register(fs)
	follow := fs.Bool("f", false, "follow: print lines as they are written, and from instances as they start, until Ctrl-C")
	n := fs.Int("n", 100, "how many of each instance's last lines to print (0: all)")
	since := fs.String("since", "", "only lines written since a time (2026-11-26T07:00:00Z) or for a while (10m)")
	slot := fs.String("slot", "", "the instances of one slot, blue or green, the warm previous one included (default: the live ones and those a deployment starts)")
	instance := fs.String("instance", "", "one instance, running or stopped: a failed candidate's output stays for the log retention")
	asJSON := fs.Bool("json", false, "one JSON object per line: instance and line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("teal logs takes one service name")
	}
	q := api.LogsQuery{Instance: *instance, Slot: *slot, Tail: *n, Follow: *follow}
	if *n < 0 {
		return usageError("-n %d: expected a number of lines, 0 for all", *n)
	}
	if *since != "" {
		if q.Since, err = parseSince(*since, time.Now()); err != nil {
			return usageError("%v", err)
		}
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	prefix := *instance == ""
	return c.Logs(e.ctx, pos[0], q, func(l engine.LogLine) {
		switch {
		case *asJSON:
			_ = writeJSONLine(e.stdout, l)
		case prefix:
			fmt.Fprintf(e.stdout, "%s | %s\n", l.Instance, l.Line)
		default:
			fmt.Fprintln(e.stdout, l.Line)
		}
	})
}

// parseSince reads --since: a time, or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: expected a duration like 10m or a time like 2026-11-26T07:00:00Z", s)
}
