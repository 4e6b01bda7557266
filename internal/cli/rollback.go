package cli

import (
	"errors"
	"fmt"
)

func runRollback(e *env, args []string) error {
	fs := newFlagSet(e, "rollback", "[flags] SERVICE")
	var sf serverFlags
	sf.register(fs)
	to := fs.Int("to", 0, "the revision to go back to (default: the one live before the live one)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("teal rollback takes one service name")
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	view := newProgressView(e.stdout)
	res, err := c.Rollback(e.ctx, pos[0], *to, view.print)
	if err != nil {
		return interrupted(e, err)
	}
	d := res.Deployment
	if res.Error != "" {
		fmt.Fprintf(e.stdout, "\nRollback failed; revision %d stays live: %s\n", d.FromRevision, res.Error)
		return &exitError{code: ExitFailure, err: errors.New("rollback failed"), quiet: true}
	}
	how := "by a new deployment of it"
	if len(d.Steps) > 0 && d.Steps[0].Name == "switch" {
		how = "with one switch: it was still warm"
	}
	fmt.Fprintf(e.stdout, "\nRolled back: revision %d is live in %s again, %s.\n", d.ToRevision, d.Slot, how)
	return nil
}
