package cli

import (
	"github.com/teal-deploy/teal/internal/plan"
)

func runPlan(e *env, args []string) error {
	fs := newFlagSet(e, "plan", "[flags] [DIR]")
	var cf configFlags
	var sf serverFlags
	cf.register(fs)
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the plan as JSON")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 when there are changes")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	dir, err := atMostOne("plan", pos, ".")
	if err != nil {
		return err
	}
	desired, err := cf.load(e, dir)
	if err != nil {
		return err
	}
	c, err := sf.client(e, dir)
	if err != nil {
		return err
	}
	p, err := c.Plan(e.ctx, desired)
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
