package cli

func runStatus(e *env, args []string) error {
	fs := newFlagSet(e, "status", "[flags] [SERVICE]")
	var sf serverFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	name, err := atMostOne("status", pos, "")
	if err != nil {
		return err
	}
	c, err := sf.client(e, "")
	if err != nil {
		return err
	}
	st, err := c.Status(e.ctx, name)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSONTo(e.stdout, st)
	}
	renderStatus(e.stdout, st, name != "")
	return nil
}
