package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
)

func runApply(e *env, args []string) error {
	fs := newFlagSet(e, "apply", "[flags] [DIR or PLANFILE]")
	var cf configFlags
	var sf serverFlags
	cf.register(fs)
	sf.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	if f, ok := planFileArg(args); ok {
		return applyPlanFile(e, fs, &sf, args, f)
	}
	desired, c, p, err := planArgs(e, "apply", fs, args, &cf, &sf)
	if err != nil {
		return err
	}
	renderPlan(e, p)
	if !p.HasChanges() {
		return nil
	}
	if !*autoApprove {
		fmt.Fprint(e.stdout, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
		answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(e.stdout, "\nApply cancelled.")
			return &exitError{code: ExitFailure, err: errors.New("apply cancelled"), quiet: true}
		}
	}
	// The server applies exactly the plan shown: it refuses if the state
	// moved since.
	return carryOut(e, c, desired, p)
}

// planFileArg finds a saved plan among the arguments: the last one, when
// it is a file.
func planFileArg(args []string) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	last := args[len(args)-1]
	return last, !strings.HasPrefix(last, "-") && isPlanFile(last)
}

// applyPlanFile carries out a saved plan without asking again: it was
// reviewed when it was made. The server refuses it if the state moved on
// or is another state.
func applyPlanFile(e *env, fs interface{ Parse([]string) error }, sf *serverFlags, args []string, path string) error {
	if err := fs.Parse(args[:len(args)-1]); err != nil {
		return &exitError{code: ExitUsage, err: err, quiet: true}
	}
	f, err := plan.ReadFile(path)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	if f.Env != sf.env {
		return usageError("%s was planned for environment %q, not %q", path, envName(f.Env), envName(sf.env))
	}
	renderPlan(e, f.Plan)
	if !f.Plan.HasChanges() {
		return nil
	}
	return carryOut(e, c, f.Desired, f.Plan)
}

func carryOut(e *env, c *api.Client, desired spec.Desired, p plan.Plan) error {
	fmt.Fprintln(e.stdout)
	view := newProgressView(e.stdout)
	res, err := c.Apply(e.ctx, api.ApplyRequest{Desired: desired, ExpectSerial: &p.Serial, ExpectLineage: p.Lineage, Targets: p.Targets}, view.print)
	if err != nil {
		return interrupted(e, err)
	}
	if !renderResults(e.stdout, res) {
		return &exitError{code: ExitFailure, err: errors.New("apply failed"), quiet: true}
	}
	return nil
}

func envName(env string) string {
	if env == "" {
		return "default"
	}
	return env
}

// interrupted explains an error that comes from the user stopping the
// command: the server owns the operation and carries on with it.
func interrupted(e *env, err error) error {
	if e.ctx.Err() == nil {
		return err
	}
	return errors.New("interrupted: the server carries on with the operation; follow it with `teal status`")
}
