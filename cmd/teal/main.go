// Command teal deploys web services with zero downtime: blue-green behind
// its own load balancer. See the README.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/teal-deploy/teal/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, os.Environ)
	stop()
	os.Exit(code)
}
