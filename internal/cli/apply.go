package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/engine"
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
	fs.BoolVar(&e.jsonOut, "json", false, "print progress and the result as JSON lines, for machines (needs -auto-approve or a plan file)")
	if f, ok := planFileArg(args); ok {
		return applyPlanFile(e, fs, &sf, args, f)
	}
	desired, c, p, err := planArgs(e, "apply", fs, args, &cf, &sf)
	if err != nil {
		return err
	}
	if e.jsonOut && !*autoApprove {
		return usageError("apply -json needs -auto-approve: there is no one to ask")
	}
	if !e.jsonOut {
		renderPlan(e, p)
	}
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
	if !e.jsonOut {
		renderPlan(e, f.Plan)
	}
	if !f.Plan.HasChanges() {
		return nil
	}
	return carryOut(e, c, f.Desired, f.Plan)
}

// carryOut applies and shows it: redrawn in place on a terminal, line by
// line otherwise (CI logs), JSON lines with -json.
func carryOut(e *env, c *api.Client, desired spec.Desired, p plan.Plan) error {
	req := api.ApplyRequest{Desired: desired, ExpectSerial: &p.Serial, ExpectLineage: p.Lineage, Targets: p.Targets}
	var res api.ApplyResult
	var err error
	switch {
	case e.jsonOut:
		res, err = c.Apply(e.ctx, req, func(pr engine.Progress) { _ = writeJSONLine(e.stdout, pr) })
		if err == nil {
			_ = writeJSONLine(e.stdout, res)
		}
	case isTerminal(e.stdout, e.getenv):
		fmt.Fprintln(e.stdout)
		live := newLiveView(e.stdout, c)
		ctx, stop := context.WithCancel(e.ctx)
		done := make(chan struct{})
		go func() { live.run(ctx); close(done) }()
		res, err = c.Apply(e.ctx, req, live.print)
		stop()
		<-done
	default:
		fmt.Fprintln(e.stdout)
		res, err = c.Apply(e.ctx, req, newProgressView(e.stdout).print)
	}
	if err != nil {
		return interrupted(e, err)
	}
	ok := true
	if e.jsonOut {
		for _, r := range res.Results {
			ok = ok && r.Error == ""
		}
	} else {
		ok = renderResults(e.stdout, res)
	}
	if !ok {
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
