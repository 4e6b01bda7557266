// Package cli is teal's command line: one file per command, and views
// that render what the server answers for people (text) and machines
// (-json).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes, as DESIGN.md fixes them.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2 // also a configuration error; and "changes" with -detailed-exitcode
)

// env is what a command runs with.
type env struct {
	ctx     context.Context
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	getenv  func(string) string
	environ func() []string
	jsonOut bool // -json: output for machines
}

// command is one subcommand.
type command struct {
	name    string
	args    string // shown in usage
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"up", "[flags] [DIR]", "run a server in the foreground, apply DIR, keep serving until Ctrl-C", runUp},
		{"server", "[flags]", "run the server", runServer},
		{"validate", "[flags] [DIR]", "check a configuration offline", runValidate},
		{"fmt", "[flags] [DIR]", "rewrite configuration files in canonical style", runFmt},
		{"plan", "[flags] [DIR]", "show what apply would do", runPlan},
		{"apply", "[flags] [DIR]", "make what runs match the configuration", runApply},
		{"status", "[flags] [SERVICE]", "show live slots, revisions, instances and their health", runStatus},
		{"history", "[flags] SERVICE", "show a service's revisions and deployments", runHistory},
		{"rollback", "[flags] SERVICE", "go back to the previous (or a named) revision", runRollback},
		{"promote", "[flags] SERVICE", "move a held deployment on: the next canary step, or the switch", runPromote},
		{"abort", "[flags] SERVICE", "roll back the deployment in flight", runAbort},
		{"pause", "[flags] SERVICE", "hold new requests to a service until resume (-deployment: hold the deployment in flight)", runPause},
		{"maintenance", "[flags] SERVICE", "answer a service's requests with a maintenance page until resume", runMaintenance},
		{"resume", "[flags] SERVICE", "serve a paused service, or one in maintenance, again (-deployment: let a paused deployment go on)", runResume},
		{"logs", "[flags] SERVICE", "show what a service's instances write, and follow it with -f", runLogs},
		{"events", "[flags]", "show what happened, and follow it with -f", runEvents},
		{"import", "[flags] service.NAME HOST:PORT [DIR]", "bring an application that already runs under teal, with no downtime", runImport},
		{"state", "list|show|versions|locks [flags]", "look at what is recorded, now or at an earlier serial", runState},
		{"force-unlock", "[flags] LOCK_ID", "remove a lock whose operation will not release it", runForceUnlock},
		{"token", "rotate [flags]", "replace the server's API token; the old one stops working at once", runToken},
		{"version", "", "print the version", runVersion},
	}
}

// exitError carries the exit code for an error; its message has been
// printed already when quiet is set.
type exitError struct {
	code  int
	err   error
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// Run runs the teal command line and returns the process's exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, environ func() []string) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, environ: environ}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return exitCode(stderr, c.run(e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "teal: unknown command %q%s\n\n", args[0], suggestCommand(args[0]))
	usage(stderr)
	return ExitUsage
}

func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.quiet {
			fmt.Fprintf(stderr, "Error: %s\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "Error: %s\n", err)
	return ExitFailure
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: teal COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "teal deploys web services with zero downtime: blue-green behind its own load balancer.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'teal COMMAND -help' for a command's flags. Flags take one dash or two.")
}

func suggestCommand(given string) string {
	best, bestDist := "", 3
	for _, c := range commands() {
		d := osaDistance(given, c.name)
		if strings.HasPrefix(c.name, given) {
			d = 0
		}
		if d < bestDist {
			best, bestDist = c.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// osaDistance is the edit distance that counts swapping two neighbouring
// letters as one edit, the typo people make most ("statsu").
func osaDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
