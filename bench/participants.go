package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// participant is one thing the load generator is pointed at: a direct
// connection to the blue backend, or a proxy in front of both.
type participant struct {
	name string
	url  string
	// switchTo moves all traffic to the named backend ("blue" or
	// "green"); it returns when the proxy has been told, with how long the
	// proxy itself says publishing took (0 when it says nothing). nil for
	// the direct connection.
	switchTo func(ctx context.Context, to string) (time.Duration, error)
	procs    []*exec.Cmd
}

// pids are the participant's processes (nil for the direct connection).
func (p *participant) pids() []int {
	var out []int
	for _, c := range p.procs {
		if c.Process != nil {
			out = append(out, c.Process.Pid)
		}
	}
	return out
}

func (p *participant) stop() {
	for _, c := range p.procs {
		if c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, c := range p.procs {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
}

// env is what every participant is started with.
type env struct {
	dir     string   // configs, sockets and logs
	bin     string   // where the harness built its Go programs
	pin     []string // command prefix pinning a process to the proxies' CPU, or nil
	workers int      // worker processes or threads of every proxy
	blue    string   // backends, host:port
	green   string
}

// start runs a command in the background, returning it and the first line
// it prints (Go programs here print their addresses). Its other output
// goes to a log file in the work directory.
func start(e env, name string, environ []string, args ...string) (*exec.Cmd, string, error) {
	args = append(slices.Clone(e.pin), args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), environ...)
	logf, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(out)
		line, _ := br.ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(logf, br)
	}()
	select {
	case line := <-lines:
		return cmd, line, nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("%s printed nothing in 10s", name)
	}
}

// freePort returns a loopback address nothing listens on now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening waits until addr accepts connections.
func waitListening(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

func goEnv(workers int) []string {
	return []string{"GOMAXPROCS=" + strconv.Itoa(workers)}
}

func startBackend(e env, name string) (*exec.Cmd, string, error) {
	// Backends get two threads' worth of Go runtime but share the
	// proxies' CPU when pinned, so they are the same for everyone.
	return start(e, "backend-"+name, goEnv(e.workers), filepath.Join(e.bin, "backend"), "-name", name)
}

func startTeal(e env, services int, profile string) (*participant, error) {
	args := []string{filepath.Join(e.bin, "tealproxy"), "-blue", e.blue, "-green", e.green, "-services", strconv.Itoa(services)}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd, line, err := start(e, "teal", goEnv(e.workers), args...)
	if err != nil {
		return nil, err
	}
	lb, control, ok := strings.Cut(line, " ")
	if !ok {
		cmd.Process.Kill()
		return nil, fmt.Errorf("teal printed %q, want two addresses", line)
	}
	return &participant{
		name: "teal", url: "http://" + lb + "/", procs: []*exec.Cmd{cmd},
		switchTo: func(ctx context.Context, to string) (time.Duration, error) {
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+control+"/switch?to="+to, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				return 0, fmt.Errorf("teal switch: %s: %s", resp.Status, b)
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return time.Duration(ns), err
		},
	}, nil
}

// startEventLoop starts bench/eventloop, the reference event loop, in
// front of the blue backend.
func startEventLoop(e env) (*participant, error) {
	cmd, addr, err := start(e, "eventloop", goEnv(e.workers), filepath.Join(e.bin, "eventloop"), "-backend", e.blue)
	if err != nil {
		return nil, err
	}
	return &participant{name: "eventloop", url: "http://" + addr + "/", procs: []*exec.Cmd{cmd}}, nil
}

// haproxyConfig is HAProxy set up as teal is: HTTP mode, keep-alive to
// clients and (shared, "always") to the backends, X-Forwarded-For, no log.
// green starts in maintenance; the runtime API switches.
func haproxyConfig(e env, listen string) string {
	return fmt.Sprintf(`global
    nbthread %d
    maxconn 4096
    stats socket %s mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    option http-keep-alive
    option forwardfor
    http-reuse always
frontend fe
    bind %s
    default_backend be
backend be
    server blue %s
    server green %s disabled
`, e.workers, filepath.Join(e.dir, "haproxy.sock"), listen, e.blue, e.green)
}

func startHAProxy(e env, path string) (*participant, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(e, listen)), 0o644); err != nil {
		return nil, err
	}
	cmd, err := startQuiet(e, "haproxy", path, "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	if err := waitListening(listen); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("haproxy: %w (see %s)", err, filepath.Join(e.dir, "haproxy.log"))
	}
	sock := filepath.Join(e.dir, "haproxy.sock")
	return &participant{
		name: "HAProxy", url: "http://" + listen + "/", procs: []*exec.Cmd{cmd},
		switchTo: func(ctx context.Context, to string) (time.Duration, error) {
			from := "blue"
			if to == "blue" {
				from = "green"
			}
			// The new server is ready before the old one leaves, so there
			// is never a moment with none.
			return 0, haproxyCommand(sock, "set server be/"+to+" state ready; set server be/"+from+" state maint")
		},
	}, nil
}

// haproxyCommand sends commands to HAProxy's runtime API.
func haproxyCommand(sock, cmd string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return err
	}
	out, _ := io.ReadAll(c)
	if s := strings.TrimSpace(string(out)); s != "" {
		return fmt.Errorf("haproxy: %s", s)
	}
	return nil
}

// nginxConfig is nginx set up as teal is: one worker per CPU asked for,
// keep-alive to the backends, X-Forwarded-For, no access log. The
// upstream lives in its own file, which a switch rewrites before a reload.
func nginxConfig(e env, listen string) string {
	d := e.dir
	return fmt.Sprintf(`worker_processes %d;
pid %s/nginx.pid;
error_log %s/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %s/nginx-body;
    proxy_temp_path %s/nginx-proxy;
    fastcgi_temp_path %s/nginx-fastcgi;
    uwsgi_temp_path %s/nginx-uwsgi;
    scgi_temp_path %s/nginx-scgi;
    keepalive_requests 1000000;
    include %s/nginx-upstream.conf;
    server {
        listen %s;
        location / {
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`, e.workers, d, d, d, d, d, d, d, d, listen)
}

func nginxUpstream(addr string) string {
	return "upstream be {\n    server " + addr + ";\n    keepalive 64;\n}\n"
}

func startNginx(e env, path string) (*participant, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, "nginx.conf")
	ups := filepath.Join(e.dir, "nginx-upstream.conf")
	if err := os.WriteFile(cfg, []byte(nginxConfig(e, listen)), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ups, []byte(nginxUpstream(e.blue)), 0o644); err != nil {
		return nil, err
	}
	cmd, err := startQuiet(e, "nginx", path, "-e", filepath.Join(e.dir, "nginx-error.log"), "-p", e.dir, "-c", cfg, "-g", "daemon off;")
	if err != nil {
		return nil, err
	}
	if err := waitListening(listen); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("nginx: %w (see %s)", err, filepath.Join(e.dir, "nginx-error.log"))
	}
	return &participant{
		name: "nginx", url: "http://" + listen + "/", procs: []*exec.Cmd{cmd},
		switchTo: func(ctx context.Context, to string) (time.Duration, error) {
			addr := e.blue
			if to == "green" {
				addr = e.green
			}
			if err := os.WriteFile(ups, []byte(nginxUpstream(addr)), 0o644); err != nil {
				return 0, err
			}
			return 0, cmd.Process.Signal(syscall.SIGHUP) // reload: new workers, old ones finish
		},
	}, nil
}

// startQuiet runs a server that prints nothing useful, logging its output.
func startQuiet(e env, name string, args ...string) (*exec.Cmd, error) {
	args = append(slices.Clone(e.pin), args...)
	cmd := exec.Command(args[0], args[1:]...)
	logf, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cmd, nil
}

// lookTool finds a program on PATH or in the sbin directories, where
// Debian puts nginx and haproxy.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New(name + " not found")
}
