package cli

import (
	"bytes"
	"fmt"
	"time"
)

func runStatus(e *env, args []string) error {
	fs := newFlagSet(e, "status", "[flags] [SERVICE]")
	var sf serverFlags
	sf.register(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	watch := fs.Bool("w", false, "watch: show the status again whenever it changes, until Ctrl-C")
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
	tty := isTerminal(e.stdout, e.getenv)
	var last []byte
	for {
		st, err := c.Status(e.ctx, name)
		if err != nil {
			if *watch && e.ctx.Err() != nil {
				return nil
			}
			return err
		}
		var b bytes.Buffer
		if *asJSON {
			err = writeJSONLine(&b, st)
		} else {
			renderStatus(&b, st, name != "")
		}
		if err != nil {
			return err
		}
		if !*watch {
			_, err = e.stdout.Write(b.Bytes())
			return err
		}
		if !bytes.Equal(b.Bytes(), last) {
			if tty {
				fmt.Fprint(e.stdout, "\x1b[H\x1b[2J") // home, clear: a screen that follows
			} else if last != nil {
				fmt.Fprintln(e.stdout)
			}
			fmt.Fprintf(e.stdout, "%s\n", time.Now().Format(time.TimeOnly))
			e.stdout.Write(b.Bytes())
			last = b.Bytes()
		}
		select {
		case <-e.ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}
