package cli

import (
	"fmt"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
)

func runPromote(e *env, args []string) error {
	fs := newFlagSet(e, "promote", "[flags] SERVICE")
	return gateCommand(e, fs, args, "promote", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Control(e.ctx, name, "promote")
	}, deploymentSays("promoted"))
}

func runAbort(e *env, args []string) error {
	fs := newFlagSet(e, "abort", "[flags] SERVICE")
	return gateCommand(e, fs, args, "abort", func(c *api.Client, name string) (engine.ServiceStatus, error) {
		return c.Control(e.ctx, name, "abort")
	}, deploymentSays("aborted: it rolls back now"))
}

// deploymentSays is what a command that acts on a deployment prints.
func deploymentSays(what string) func(engine.ServiceStatus) string {
	return func(st engine.ServiceStatus) string {
		if d := st.Deployment; d != nil {
			return fmt.Sprintf("%s: deployment %d (revision %d) %s. Follow it with `teal events -f --service %s`.", st.Name, d.ID, d.ToRevision, what, st.Name)
		}
		return fmt.Sprintf("%s: %s.", st.Name, what)
	}
}
