package cli

import (
	"fmt"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
)

// runImport is `teal import service.NAME HOST:PORT [DIR]`: the service as
// DIR configures it, made of what already serves on HOST:PORT.
func runImport(e *env, args []string) error {
	fs := newFlagSet(e, "import", "[flags] service.NAME HOST:PORT [DIR]")
	var cf configFlags
	var sf serverFlags
	cf.register(fs)
	sf.register(fs)
	pid := fs.Int("pid", 0, "the process serving on HOST:PORT (default: found from the port, on Linux)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usageError("teal import takes service.NAME, the HOST:PORT it serves on, and optionally the configuration directory")
	}
	name, ok := strings.CutPrefix(pos[0], "service.")
	if !ok {
		return usageError("%q is not a service address; expected service.NAME", pos[0])
	}
	dir := "."
	if len(pos) == 3 {
		dir = pos[2]
	}
	desired, err := cf.load(e, dir)
	if err != nil {
		return err
	}
	svc, ok := desired.Service(name)
	if !ok {
		return usageError("the configuration in %s declares no service %q: teal imports what its configuration describes", dir, name)
	}
	c, err := sf.client(e, dir)
	if err != nil {
		return err
	}
	d, err := c.Import(e.ctx, api.ImportRequest{Service: svc, Addr: pos[1], Pid: *pid})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Imported: what serves on %s is revision %d of service %q, live in %s; the load balancer routes to it.\n", pos[1], d.ToRevision, name, d.Slot)
	fmt.Fprintf(e.stdout, "The next `teal apply %s` replaces it by the service's strategy.\n", dir)
	return nil
}
