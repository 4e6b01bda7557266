// Command bench measures teal's load balancer against HAProxy and nginx
// on this machine: the same backends behind every participant, each proxy
// with the same number of workers, keep-alive to the backends and logging
// off, in interleaved rounds so that drift hits everyone alike. It prints
// requests per second, p50 and p99 latency and the ratios to a direct
// connection and to HAProxy, for keep-alive clients and for a new
// connection per request, both as fast as each participant answers, and
// for a new connection per request at a pace below saturation; then it
// switches each proxy's upstream back and forth under load and counts
// what failed.
//
// Run it from the repository root with bench/run (which installs nginx,
// HAProxy and wrk from Debian's packages when they are missing) or with
// go run ./bench. Participants whose programs are missing are left out.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	rounds      int
	duration    time.Duration
	connections int
	workers     int
	switches    int
	switchFor   time.Duration
	pause       time.Duration
	services    int
	only        string
	keep        bool
	profile     string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; each measures every participant once per mode")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measurement")
	fs.IntVar(&o.connections, "connections", 50, "client connections")
	fs.IntVar(&o.workers, "workers", 1, "worker processes or threads of every proxy (and GOMAXPROCS of teal and the backends)")
	fs.DurationVar(&o.pause, "pause", 2*time.Millisecond, "in a third mode, a new connection per request with each connection pausing this long on average between requests: latency at a load below saturation, the same for every participant (0: no such mode)")
	fs.IntVar(&o.switches, "switches", 40, "switches in the switch test (0: no switch test)")
	fs.DurationVar(&o.switchFor, "switch-duration", 12*time.Second, "length of the switch test's load, per proxy")
	fs.IntVar(&o.services, "services", 1, "services in teal's routing table (each past the first has 10 routes)")
	fs.StringVar(&o.only, "only", "direct,teal,HAProxy,nginx", "participants, comma-separated; eventloop (bench/eventloop: a reference for the design, not a proxy; Linux) runs only when named")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (configs and logs)")
	fs.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of teal over the whole run to this file (go tool pprof reads it)")
	smoke := fs.Bool("smoke", false, "a quick check that the harness and teal work: 1 round of 1s, 8 connections, 20 switches in 3s; implies -check")
	check := fs.Bool("check", false, "fail when teal answered anything but 2xx, had a socket error or served a stale request after a switch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *smoke {
		o.rounds, o.duration, o.connections, o.switches, o.switchFor = 1, time.Second, 8, 20, 3*time.Second
		*check = true
	}
	var problems []string

	dir, err := os.MkdirTemp("", "teal-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := env{dir: dir, bin: dir + "/bin/", workers: o.workers}
	progs := []string{"./bench/backend", "./bench/tealproxy"}
	if runtime.GOOS == "linux" {
		progs = append(progs, "./bench/eventloop")
	}
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", e.bin}, progs...)...)
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (run from the repository root): %w: %s", err, b)
	}

	var genPin []string
	pinned := "not pinned"
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() >= 2 && o.workers == 1 {
		e.pin, genPin = []string{ts, "-c", "0"}, []string{ts, "-c", "1"}
		pinned = "load generator on CPU 1, proxies and backends on CPU 0"
	}
	var gen generator = goLoad{}
	if p, err := exec.LookPath("wrk"); err == nil {
		gen = wrk{p}
	}

	want := map[string]bool{}
	for _, n := range strings.Split(o.only, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var ps []*participant
	defer func() {
		for _, p := range ps {
			p.stop()
		}
	}()
	for _, name := range []string{"blue", "green"} {
		cmd, addr, err := startBackend(e, name)
		if err != nil {
			return err
		}
		ps = append(ps, &participant{name: "backend " + name, procs: []*exec.Cmd{cmd}})
		if name == "blue" {
			e.blue = addr
		} else {
			e.green = addr
		}
	}
	var measured []*participant
	add := func(p *participant, err error) error {
		if err != nil {
			return err
		}
		ps = append(ps, p)
		measured = append(measured, p)
		return nil
	}
	if want["direct"] {
		measured = append(measured, &participant{name: "direct", url: "http://" + e.blue + "/"})
	}
	if want["teal"] {
		profile := o.profile
		if profile != "" {
			if profile, err = filepath.Abs(profile); err != nil {
				return err
			}
		}
		if err := add(startTeal(e, o.services, profile)); err != nil {
			return err
		}
	}
	for _, tool := range []struct {
		name  string
		start func(env, string) (*participant, error)
	}{{"HAProxy", startHAProxy}, {"nginx", startNginx}} {
		if !want[tool.name] {
			continue
		}
		path, err := lookTool(strings.ToLower(tool.name))
		if err != nil {
			fmt.Fprintf(out, "%s left out: %v (bench/run installs it)\n", tool.name, err)
			continue
		}
		if err := add(tool.start(e, path)); err != nil {
			return err
		}
	}
	if want["eventloop"] && runtime.GOOS == "linux" {
		if err := add(startEventLoop(e)); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "%d rounds of %s per participant and mode, %d connections, %d worker(s) each, %s; load by %s\n",
		o.rounds, o.duration, o.connections, o.workers, pinned, gen.name())
	for _, p := range measured { // warm up pools and caches
		if _, err := gen.run(ctx, loadSpec{URL: p.url, Connections: o.connections, Duration: time.Second, Pin: genPin}); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	var names []string
	for _, p := range measured {
		names = append(names, p.name)
	}
	type mode struct {
		title string
		close bool
		pause time.Duration
	}
	modes := []mode{{"keep-alive clients", false, 0}, {"a new connection per request", true, 0}}
	if o.pause > 0 {
		lo, hi := pauseRange(o.pause)
		modes = append(modes, mode{fmt.Sprintf("a new connection per request, each connection pausing %v–%v between requests (below saturation)", lo, hi), true, o.pause})
	}
	for _, mode := range modes {
		var rounds []round
		for i := range o.rounds {
			r := round{}
			for j := range measured {
				p := measured[(i+j)%len(measured)] // a different order each round
				cpu0 := cpuTime(p.pids())
				l, err := gen.run(ctx, loadSpec{URL: p.url, Connections: o.connections, Duration: o.duration, Close: mode.close, Pause: mode.pause, Pin: genPin})
				if err != nil {
					return fmt.Errorf("%s: %w", p.name, err)
				}
				if pids := p.pids(); pids != nil && l.Requests > 0 {
					l.CPU = (cpuTime(pids) - cpu0) / time.Duration(l.Requests)
				}
				r[p.name] = l
			}
			rounds = append(rounds, r)
		}
		fmt.Fprintf(out, "\n%s\n%s", mode.title, table(names, rounds))
		for i, r := range rounds {
			if l, ok := r["teal"]; ok && (l.Requests == 0 || l.Non2xx > 0 || l.SocketErrors > 0) {
				problems = append(problems, fmt.Sprintf("%s, round %d: teal answered %d requests, %d not 2xx, %d socket errors",
					mode.title, i+1, l.Requests, l.Non2xx, l.SocketErrors))
			}
		}
	}
	failed := func() error {
		printMemory(out, measured, o.services)
		if *check && len(problems) > 0 {
			return fmt.Errorf("check failed:\n  %s", strings.Join(problems, "\n  "))
		}
		return nil
	}

	if o.switches == 0 {
		return failed()
	}
	var results []switchResult
	for _, p := range measured {
		if p.switchTo != nil {
			results = append(results, switchTest(ctx, p, gen, loadSpec{URL: p.url, Connections: o.connections, Duration: o.switchFor, Pin: genPin}, o.switches))
		}
	}
	fmt.Fprintf(out, "\nswitch test: keep-alive load for %s while the upstream is switched blue ⇄ green %d times\n%s",
		o.switchFor, o.switches, switchTable(results))
	for _, r := range results {
		if r.name == "teal" && (r.err != nil || r.load.Non2xx > 0 || r.load.SocketErrors > 0 || r.stale > 0 || r.switches < o.switches) {
			problems = append(problems, fmt.Sprintf("switch test: teal: %d switches, %d not 2xx, %d socket errors, %d stale probes, %v",
				r.switches, r.load.Non2xx, r.load.SocketErrors, r.stale, r.err))
		}
	}
	return failed()
}

// switchTest loads p while switching its upstream back and forth; after
// each switch one probe, on a connection of its own, says whether the new
// backend answers.
func switchTest(ctx context.Context, p *participant, gen generator, s loadSpec, switches int) switchResult {
	res := switchResult{name: p.name}
	if _, err := p.switchTo(ctx, "blue"); err != nil {
		res.err = err
		return res
	}
	time.Sleep(200 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res.load, res.err = gen.run(ctx, s)
	}()
	probe := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	gap := (s.Duration - time.Second) / time.Duration(switches)
	time.Sleep(500 * time.Millisecond)
	to := "blue"
	for range switches {
		if to == "blue" {
			to = "green"
		} else {
			to = "blue"
		}
		t0 := time.Now()
		pub, err := p.switchTo(ctx, to)
		if err != nil {
			res.err = err
			break
		}
		res.publish = max(res.publish, pub)
		res.switches++
		for first := true; ; first = false {
			got, err := probeBackend(probe, p.url)
			if err == nil && got == to {
				break
			}
			if first {
				res.stale++
			}
			if time.Since(t0) > 5*time.Second {
				res.err = fmt.Errorf("switch to %s not seen after 5s (last %q, %v)", to, got, err)
				break
			}
			time.Sleep(time.Millisecond)
		}
		res.visible = max(res.visible, time.Since(t0))
		time.Sleep(gap - time.Since(t0))
	}
	<-done
	p.switchTo(ctx, "blue")
	return res
}

// probeBackend asks which backend answers.
func probeBackend(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	name, _, _ := strings.Cut(string(b), "\n")
	return name, err
}

// printMemory prints the most memory each proxy held during the run.
func printMemory(out io.Writer, ps []*participant, services int) {
	fmt.Fprintln(out)
	for _, p := range ps {
		if pids := p.pids(); pids != nil {
			fmt.Fprintf(out, "%s: peak memory (VmHWM) %.1f MiB", p.name, float64(peakRSS(pids))/(1<<20))
			if p.name == "teal" {
				fmt.Fprintf(out, " with %d service(s) of two instances, %d route(s)", services, 1+10*(services-1))
			}
			fmt.Fprintln(out)
		}
	}
}
