package cli

import (
	"flag"
	"fmt"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
)

func runPause(e *env, args []string) error {
	fs := newFlagSet(e, "pause", "[flags] SERVICE")
	max := fs.Duration("max", 0, "hold each request at most this long, then answer 503 (default: the service's maintenance.max_pause)")
	dep := fs.Bool("deployment", false, "hold the deployment in flight where it is, instead of requests")
	return gateCommand(e, fs, args, "pause", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		if *dep {
			return c.Control(e.ctx, name, "deployment/pause")
		}
		return c.Pause(e.ctx, name, *max)
	}, func(st engine.ServiceStatus) string {
		if *dep {
			return deploymentSays("paused: it holds where it is until `teal resume -deployment " + st.Name + "`")(st)
		}
		return gateSays(st)
	})
}

func runMaintenance(e *env, args []string) error {
	fs := newFlagSet(e, "maintenance", "[flags] SERVICE")
	message := fs.String("message", "", "what the maintenance page says")
	return gateCommand(e, fs, args, "maintenance", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Maintenance(e.ctx, name, *message)
	}, gateSays)
}

func runResume(e *env, args []string) error {
	fs := newFlagSet(e, "resume", "[flags] SERVICE")
	dep := fs.Bool("deployment", false, "let a paused deployment go on, instead of requests")
	return gateCommand(e, fs, args, "resume", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		if *dep {
			return c.Control(e.ctx, name, "deployment/resume")
		}
		return c.Resume(e.ctx, name)
	}, func(st engine.ServiceStatus) string {
		if *dep {
			return deploymentSays("resumed")(st)
		}
		return gateSays(st)
	})
}

// gateCommand runs an operator's command on the one service named, and
// prints what says makes of the service's status afterwards.
func gateCommand(e *env, fs *flag.FlagSet, args []string, name string, do func(*api.Client, string) (engine.ServiceStatus, error), says func(engine.ServiceStatus) string) error {
	var sf serverFlags
	sf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("teal %s takes one service name", name)
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	st, err := do(c, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, says(st))
	return nil
}

// gateSays tells whether a service serves, is paused or in maintenance.
func gateSays(st engine.ServiceStatus) string {
	switch g := st.Gate; {
	case g == nil:
		return st.Name + " is serving."
	case g.Maintenance:
		return fmt.Sprintf("%s is in maintenance: every request gets 503 and the maintenance page. `teal resume %s` ends it.", st.Name, st.Name)
	default:
		return fmt.Sprintf("%s is paused: new requests wait, each for at most %s. `teal resume %s` lets them go.", st.Name, g.MaxPause, st.Name)
	}
}
