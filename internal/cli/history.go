package cli

func runHistory(e *env, args []string) error {
	fs := newFlagSet(e, "history", "[flags] SERVICE")
	var sf serverFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the history as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("teal history takes one service name")
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	h, err := c.History(e.ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSONTo(e.stdout, h)
	}
	renderHistory(e.stdout, h)
	return nil
}
