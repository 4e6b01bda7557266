package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/plan"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/version"
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
	out := fs.String("out", "", "save the plan to this file, for teal apply FILE to carry out exactly")
	desired, _, p, err := planArgs(e, "plan", fs, args, &cf, &sf)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSONTo(e.stdout, p); err != nil {
			return err
		}
	} else {
		renderPlan(e, p)
	}
	if *out != "" {
		f := plan.File{Teal: version.String(), Created: time.Now(), Env: sf.env, Desired: desired, Plan: p}
		if err := plan.WriteFile(*out, f); err != nil {
			return fmt.Errorf("save the plan: %w", err)
		}
		if !*asJSON {
			fmt.Fprintf(e.stdout, "\nSaved the plan to %s. To carry out exactly these actions, run:\n  teal apply %s\n", *out, *out)
		}
	}
	if *detailed && p.HasChanges() {
		return &exitError{code: ExitUsage, err: errChanges, quiet: true}
	}
	return nil
}

// renderPlan prints a plan, with a warning when it is targeted.
func renderPlan(e *env, p plan.Plan) {
	if len(p.Targets) > 0 {
		fmt.Fprintf(e.stdout, "Warning: only %v are planned (-target). What else has changed stays as it is; run a plan without -target to see it.\n\n", p.Targets)
	}
	plan.Render(e.stdout, p)
}

// planArgs does what plan and apply both begin with: read the flags and
// DIR, load the configuration, and ask the server for the plan.
func planArgs(e *env, name string, fs *flag.FlagSet, args []string, cf *configFlags, sf *serverFlags) (spec.Desired, *api.Client, plan.Plan, error) {
	var desired spec.Desired
	var targets multiFlag
	fs.Var(&targets, "target", "plan only the object at this address, like service.web (repeatable)")
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
	p, err := c.Plan(e.ctx, desired, targets...)
	return desired, c, p, err
}

// isPlanFile reports whether path names a file (a saved plan) rather than
// a configuration directory.
func isPlanFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
