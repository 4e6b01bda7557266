package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/teal-deploy/teal/internal/config"
)

func runValidate(e *env, args []string) error {
	fs := newFlagSet(e, "validate", "[flags] [DIR]")
	var cf configFlags
	cf.register(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON, in the shape of terraform validate -json")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	dir, err := atMostOne("validate", pos, ".")
	if err != nil {
		return err
	}
	cfg, diags := config.LoadConfig(dir, config.Vars{Env: e.environ(), Files: cf.varFiles, Flags: cf.vars})
	invalid := &exitError{code: ExitUsage, err: errors.New("the configuration is not valid"), quiet: *asJSON}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(diags.Report()); err != nil {
			return err
		}
		if diags.HasErrors() {
			return invalid
		}
		return nil
	}
	if diags.Len() > 0 {
		diags.Write(e.stderr)
	}
	if diags.HasErrors() {
		return invalid
	}
	d := cfg.Desired
	fmt.Fprintf(e.stdout, "Success! The configuration is valid: %d load %s, %d %s.\n",
		len(d.LoadBalancers), plural(len(d.LoadBalancers), "balancer", "balancers"),
		len(d.Services), plural(len(d.Services), "service", "services"))
	if len(cfg.Outputs) > 0 {
		fmt.Fprint(e.stdout, "\nOutputs:\n\n")
		for _, o := range cfg.Outputs {
			fmt.Fprintf(e.stdout, "%s = %s\n", o.Name, o.String())
		}
	}
	return nil
}
