package cli

import "fmt"

func runToken(e *env, args []string) error {
	fs := newFlagSet(e, "token", "rotate [flags]")
	var sf serverFlags
	sf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "rotate" {
		return usageError("teal token takes one subcommand: rotate")
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	t, err := c.RotateToken(e.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "The server's token is new, in %s; the old one no longer works, for the API on TCP or the dashboard's actions.\n", t.File)
	fmt.Fprintln(e.stdout, t.Token)
	return nil
}
