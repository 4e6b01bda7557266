package cli

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/plan"
)

func runApply(e *env, args []string) error {
	fs := newFlagSet(e, "apply", "[flags] [DIR]")
	var cf configFlags
	var sf serverFlags
	cf.register(fs)
	sf.register(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	desired, c, p, err := planArgs(e, "apply", fs, args, &cf, &sf)
	if err != nil {
		return err
	}
	plan.Render(e.stdout, p)
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
	fmt.Fprintln(e.stdout)
	view := newProgressView(e.stdout)
	// The server applies exactly the plan shown: it refuses if the state
	// moved since.
	res, err := c.Apply(e.ctx, api.ApplyRequest{Desired: desired, ExpectSerial: &p.Serial}, view.print)
	if err != nil {
		return interrupted(e, err)
	}
	if !renderResults(e.stdout, res) {
		return &exitError{code: ExitFailure, err: errors.New("apply failed"), quiet: true}
	}
	return nil
}

// interrupted explains an error that comes from the user stopping the
// command: the server owns the operation and carries on with it.
func interrupted(e *env, err error) error {
	if e.ctx.Err() == nil {
		return err
	}
	return errors.New("interrupted: the server carries on with the operation; follow it with `teal status`")
}
