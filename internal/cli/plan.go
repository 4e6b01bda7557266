package cli

import (
	"errors"
	"flag"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
)

var errChanges = errors.New("the plan has changes")

func runPlan(e *env, args []string) error {
	fs := newFlagSet(e, "plan", "[flags] [DIR]")
	var cf configFlags
	var sf serverFlags
	cf.register(fs)
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 when there are changes")
	_, _, p, err := planArgs(e, "plan", fs, args, &cf, &sf)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSONTo(e.stdout, p); err != nil {
			return err
		}
	} else {
		plan.Render(e.stdout, p)
	}
	if *detailed && p.HasChanges() {
		return &exitError{code: ExitUsage, err: errChanges, quiet: true}
	}
	return nil
}

// planArgs does what plan and apply both begin with: read the flags and
// DIR, load the configuration, and ask the server for the plan.
func planArgs(e *env, name string, fs *flag.FlagSet, args []string, cf *configFlags, sf *serverFlags) (spec.Desired, *api.Client, plan.Plan, error) {
	var desired spec.Desired
	pos, err := parse(fs, args)
	if err != nil {
		return desired, nil, plan.Plan{}, err
	}
	dir, err := atMostOne(name, pos, ".")
	if err != nil {
		return desired, nil, plan.Plan{}, err
	}
	if desired, err = cf.load(e, dir); err != nil {
		return desired, nil, plan.Plan{}, err
	}
	c, err := sf.client(e, dir)
	if err != nil {
		return desired, nil, plan.Plan{}, err
	}
	p, err := c.Plan(e.ctx, desired)
	return desired, c, p, err
}
