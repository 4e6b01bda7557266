package cli

import (
	"fmt"

	"github.com/teal-deploy/teal/internal/version"
)

func runVersion(e *env, args []string) error {
	fs := newFlagSet(e, "version", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, version.String())
	return nil
}
