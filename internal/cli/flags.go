package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/teal-deploy/teal/internal/api"
	"github.com/teal-deploy/teal/internal/config"
	"github.com/teal-deploy/teal/internal/spec"
)

// multiFlag is a flag that may be given more than once, in order.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ", ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlagSet(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: teal %s %s\n\nFlags (one dash or two):\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse reads flags before and after the positional arguments, so that
// `teal status web -json` works as well as Terraform's `teal status -json web`.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: ExitUsage, err: err, quiet: true}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// atMostOne returns the only positional argument, def when there is none.
func atMostOne(name string, pos []string, def string) (string, error) {
	switch len(pos) {
	case 0:
		return def, nil
	case 1:
		return pos[0], nil
	default:
		return "", usageError("teal %s takes one argument, got %d: %s", name, len(pos), strings.Join(pos, " "))
	}
}

// configFlags are the flags of commands that read a configuration.
type configFlags struct {
	vars     multiFlag
	varFiles multiFlag
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.vars, "var", "set a variable: -var name=value (repeatable; later wins)")
	fs.Var(&c.varFiles, "var-file", "read variables from a file of name = value lines (repeatable)")
}

// load reads the configuration in dir; its diagnostics go to stderr.
func (c *configFlags) load(e *env, dir string) (spec.Desired, error) {
	d, diags := config.Load(dir, config.Vars{Env: e.environ(), Files: c.varFiles, Flags: c.vars})
	if diags.Len() > 0 {
		diags.Write(e.stderr)
	}
	if diags.HasErrors() {
		return d, &exitError{code: ExitUsage, err: errors.New("the configuration is not valid"), quiet: false}
	}
	return d, nil
}

// serverFlags are the flags of commands that talk to a server.
type serverFlags struct {
	addr  string
	token string
	env   string
}

func (s *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.addr, "addr", "", "the server: unix:///path/teal.sock or http://host:port (default: $TEAL_ADDR, else the socket in DIR/.teal or ./.teal)")
	fs.StringVar(&s.token, "token", "", "the API token for a server on TCP (default: $TEAL_TOKEN)")
	fs.StringVar(&s.env, "env", "", "the environment, such as qa or prod, each with its own state and load balancers (default: $TEAL_ENV, else the default one)")
}

// client returns a client for the server; dir is the configuration
// directory, whose .teal holds the socket of `teal up DIR`.
func (s *serverFlags) client(e *env, dir string) (*api.Client, error) {
	addr := s.addr
	if addr == "" {
		addr = e.getenv("TEAL_ADDR")
	}
	if addr == "" {
		addr = defaultSocket(dir)
	}
	token := s.token
	if token == "" {
		token = e.getenv("TEAL_TOKEN")
	}
	if s.env == "" {
		s.env = e.getenv("TEAL_ENV")
	}
	c, err := api.NewClient(addr, token, actor(e))
	if err != nil {
		return nil, usageError("%v", err)
	}
	return c.InEnv(s.env), nil
}

// defaultSocket finds the socket of a server started by `teal up DIR` or
// `teal server` in the current directory.
func defaultSocket(dir string) string {
	candidates := []string{filepath.Join(".teal", "teal.sock")}
	if dir != "" && dir != "." {
		candidates = append([]string{filepath.Join(dir, ".teal", "teal.sock")}, candidates...)
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			abs, _ := filepath.Abs(c)
			return "unix://" + abs
		}
	}
	abs, _ := filepath.Abs(candidates[len(candidates)-1])
	return "unix://" + abs
}

// actor names who runs this command, for the server's event log.
func actor(e *env) string {
	user := e.getenv("USER")
	if user == "" {
		user = "unknown"
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s (teal cli, pid %d)", user, host, os.Getpid())
}

// sizeFlag is a number of bytes, written as 10MiB, 500KB or 1048576.
type sizeFlag int64

func (s *sizeFlag) String() string { return fmt.Sprintf("%dMiB", int64(*s)>>20) }

func (s *sizeFlag) Set(v string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}, {"", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 {
			break
		}
		*s = sizeFlag(n * u.mult)
		return nil
	}
	return fmt.Errorf("expected a size like 10MiB, 500KB or 1048576")
}
