package cli

import "fmt"

func runValidate(e *env, args []string) error {
	fs := newFlagSet(e, "validate", "[flags] [DIR]")
	var cf configFlags
	cf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	dir, err := atMostOne("validate", pos, ".")
	if err != nil {
		return err
	}
	d, err := cf.load(e, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Success! The configuration is valid: %d load %s, %d %s.\n",
		len(d.LoadBalancers), plural(len(d.LoadBalancers), "balancer", "balancers"),
		len(d.Services), plural(len(d.Services), "service", "services"))
	return nil
}
