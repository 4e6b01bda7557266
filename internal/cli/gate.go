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
	return gateCommand(e, fs, args, "pause", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Pause(e.ctx, name, *max)
	})
}

func runMaintenance(e *env, args []string) error {
	fs := newFlagSet(e, "maintenance", "[flags] SERVICE")
	message := fs.String("message", "", "what the maintenance page says")
	return gateCommand(e, fs, args, "maintenance", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Maintenance(e.ctx, name, *message)
	})
}

func runResume(e *env, args []string) error {
	fs := newFlagSet(e, "resume", "[flags] SERVICE")
	return gateCommand(e, fs, args, "resume", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Resume(e.ctx, name)
	})
}

// gateCommand runs pause, maintenance or resume on the one service named,
// and says what the service does now.
func gateCommand(e *env, fs *flag.FlagSet, args []string, name string, do func(*api.Client, string) (engine.ServiceStatus, error)) error {
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
	switch g := st.Gate; {
	case g == nil:
		fmt.Fprintf(e.stdout, "%s is serving.\n", st.Name)
	case g.Maintenance:
		fmt.Fprintf(e.stdout, "%s is in maintenance: every request gets 503 and the maintenance page. `teal resume %s` ends it.\n", st.Name, st.Name)
	default:
		fmt.Fprintf(e.stdout, "%s is paused: new requests wait, each for at most %s. `teal resume %s` lets them go.\n", st.Name, g.MaxPause, st.Name)
	}
	return nil
}
