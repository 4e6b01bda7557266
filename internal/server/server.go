// Package server wires teal together: the state store, the process and
// container drivers, the load balancer and the engine, behind an HTTP API
// on a unix socket (or TCP with a token). It is the one place where the
// parts meet.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/teal-deploy/teal/internal/dashboard"
	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/notify"
	"github.com/teal-deploy/teal/internal/proxy"
)

// Files in the data directory.
const (
	StateFile  = "state.db"
	SocketFile = "teal.sock"
	TokenFile  = "token"
	LogDir     = "logs"
)

// Config is what a server is started with.
type Config struct {
	// DataDir holds the state, the instances' logs, and the API socket.
	DataDir string
	// API is where the API listens: "unix:///path/teal.sock" (the default,
	// in DataDir) or "tcp://127.0.0.1:7171", which needs the token in
	// DataDir/token. The token file is made in every case: the dashboard's
	// actions need it too.
	API string
	// DockerHost is the container engine's address, for services that run
	// as containers: "unix:///run/podman/podman.sock". Empty means
	// $DOCKER_HOST, else unix:///var/run/docker.sock. An engine that does
	// not answer fails the deployments of container services only.
	DockerHost string
	// Admin, when set, is where the dashboard (at /) and /metrics
	// (Prometheus) are served, like "127.0.0.1:7070". Both can be read by
	// anyone who reaches the address; the dashboard's actions need the
	// token.
	Admin string
	// AdminHosts are names, besides addresses and localhost, that requests
	// to the admin listener may be addressed to (their Host header).
	AdminHosts []string
	// AccessLog receives the JSON access log of load balancers that ask
	// for one; nil discards it.
	AccessLog io.Writer
	// Webhooks are told of every deployment as it starts, switches,
	// succeeds, fails and is rolled back.
	Webhooks []string
	// EventsKept is how many events each environment keeps (0: the
	// default, 50,000).
	EventsKept int
	// Logs bounds the instances' logs: rotation size, copies kept, and how
	// long the logs of stopped instances stay. Zero values mean the
	// process driver's defaults.
	Logs LogLimits
	// ConnLimits bound what clients of the API and of the admin listener
	// can hold: header and idle timeouts, header size, connections at
	// once. Zero values mean the defaults (10s, 2m, 64KiB, 512).
	ConnLimits ConnLimits
	// ShutdownTimeout bounds how long a shutdown waits for requests in
	// flight on the load balancers.
	ShutdownTimeout time.Duration
	Log             *slog.Logger
}

// LogLimits bounds the logs of instances.
type LogLimits struct {
	MaxSize   int64 // bytes; a log is rotated past it
	Files     int   // rotated copies kept
	Retention time.Duration
}

// Server is a running teal server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	proxy   *proxy.Proxy
	notify  *notify.Notifier
	envMu   sync.Mutex
	envs    map[string]*environment // by name; "" is the default
	api     *http.Server
	apiLn   net.Listener
	admin   *http.Server
	adminLn net.Listener
	dash    *dashboard.Dashboard
	metrics *prometheus.Registry
	tokenMu sync.Mutex             // serialises rotations
	token   atomic.Pointer[string] // from DataDir/token: for the dashboard's actions, and for the API on TCP
	tcp     bool                   // the API listens on TCP, so it needs the token; the socket's mode guards it otherwise
	socket  string                 // path to remove on shutdown
	bg      context.Context        // the server's own work: rotating logs
	stopBg  context.CancelFunc

	shutdownOnce sync.Once
}

// New opens the state in cfg.DataDir and builds the server; Start runs it.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.API == "" {
		cfg.API = "unix://" + filepath.Join(dir, SocketFile)
	}
	s := &Server{cfg: cfg, log: cfg.Log, envs: map[string]*environment{}, notify: notify.New(cfg.Webhooks, cfg.Log)}
	token, err := s.loadToken()
	if err != nil {
		return nil, err
	}
	s.token.Store(&token)
	s.bg, s.stopBg = context.WithCancel(context.Background())
	s.proxy = proxy.New(proxy.Options{Log: cfg.Log, AccessLog: cfg.AccessLog, OnPassive: s.passive})
	for _, name := range s.existingEnvs() {
		e, err := s.openEnv(name)
		if err != nil {
			for _, o := range s.envs {
				o.store.Close()
			}
			s.stopBg()
			return nil, err
		}
		s.envs[name] = e
	}
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(s.proxy.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s, nil
}

// Engine returns the default environment's engine, for `teal up`, which
// applies in the same process.
func (s *Server) Engine() *engine.Engine {
	s.envMu.Lock()
	defer s.envMu.Unlock()
	return s.envs[""].engine
}

// Proxy returns the server's load balancer.
func (s *Server) Proxy() *proxy.Proxy { return s.proxy }

// APIAddr returns where the API listens, as a client addresses it.
func (s *Server) APIAddr() string {
	if s.socket != "" {
		return "unix://" + s.socket
	}
	return "http://" + s.apiLn.Addr().String()
}

// AdminAddr returns where the dashboard and /metrics are served, or "".
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// TokenFile returns the path of the file that holds the token.
func (s *Server) TokenFile() string { return filepath.Join(s.cfg.DataDir, TokenFile) }

// Start takes over what the state records (listeners, instances) and
// starts serving the API.
func (s *Server) Start(ctx context.Context) error {
	for _, name := range s.existingEnvs() {
		if err := s.envs[name].engine.Recover(ctx); err != nil {
			s.closeAll(ctx)
			return fmt.Errorf("environment %s: %w", orDefault(name), err)
		}
	}
	ln, err := s.listenAPI()
	if err != nil {
		s.closeAll(ctx)
		return err
	}
	s.apiLn = ln
	s.api = serveLimited(ln, s.routes(), s.cfg.ConnLimits, func(err error) { s.log.Error("API stopped", "err", err) })
	if s.cfg.Admin != "" {
		aln, err := net.Listen("tcp", s.cfg.Admin)
		if err != nil {
			s.Shutdown(ctx)
			return fmt.Errorf("admin listener: %w", err)
		}
		s.adminLn = aln
		s.dash = dashboard.New(dashboardBackend{s}, *s.token.Load(), s.log)
		s.admin = serveLimited(aln, s.adminRoutes(), s.cfg.ConnLimits, func(err error) { s.log.Error("admin listener stopped", "err", err) })
	}
	s.log.Info("teal server started", "data_dir", s.cfg.DataDir, "api", s.APIAddr(), "container_engine", s.envs[""].containers.Host())
	return nil
}

func (s *Server) listenAPI() (net.Listener, error) {
	switch {
	case strings.HasPrefix(s.cfg.API, "unix://"):
		path := strings.TrimPrefix(s.cfg.API, "unix://")
		// A socket left by a server that was killed: the state lock says
		// no server runs, so it is stale.
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("API socket %s: %w", path, err)
		}
		ln, err := listenUnix(path)
		if err != nil {
			return nil, fmt.Errorf("API socket %s: %w", path, err)
		}
		s.socket = path
		return ln, nil
	case strings.HasPrefix(s.cfg.API, "tcp://"):
		s.tcp = true
		ln, err := net.Listen("tcp", strings.TrimPrefix(s.cfg.API, "tcp://"))
		if err != nil {
			return nil, fmt.Errorf("API listener: %w", err)
		}
		return ln, nil
	default:
		return nil, fmt.Errorf("API address %q: expected unix:///path/teal.sock or tcp://host:port", s.cfg.API)
	}
}

// listenUnix listens on a Unix socket at path that only its owner can
// connect to from the moment it is there. Made at path and then given
// mode 0600, it would be open, until the chmod, to anyone the umask lets
// in; so it is made in a directory of its own (mode 0700), given its
// mode, and renamed into place. Shutdown removes it.
func listenUnix(path string) (net.Listener, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".teal-api-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	at := filepath.Join(tmp, "s")
	if len(at) >= len(syscall.RawSockaddrUnix{}.Path) {
		// Too long a name for a socket: there is no room for the
		// detour, so close the window another way.
		old := syscall.Umask(0o177)
		ln, err := net.Listen("unix", path)
		syscall.Umask(old)
		return ln, err
	}
	ln, err := net.Listen("unix", at)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // it is not at the name it was made at
	if err := os.Chmod(at, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.Rename(at, path); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// loadToken reads the API token, creating one (mode 0600) on first use.
// It is made whatever the API listens on, so that the dashboard's actions
// can be authorised by someone who can read the data directory.
func (s *Server) loadToken() (string, error) {
	path := s.TokenFile()
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("API token: %w", err)
	}
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("API token: %w", err)
	}
	return token, nil
}

// RotateToken makes a new token, writes it to the token file and makes it
// the one the API on TCP and the dashboard's actions need, at once: the
// old one no longer works.
func (s *Server) RotateToken() (string, error) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	token, err := newToken()
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(s.TokenFile(), []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("API token: %w", err)
	}
	s.token.Store(&token)
	if s.dash != nil {
		s.dash.SetToken(token)
	}
	s.log.Info("API token rotated", "file", s.TokenFile())
	return token, nil
}

func newToken() (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return hex.EncodeToString(raw), nil
}

// Shutdown stops the API, lets requests in flight on the load balancers
// finish, then drains and stops every instance, warm ones included. Later
// calls return when the first is done.
func (s *Server) Shutdown(ctx context.Context) {
	s.shutdownOnce.Do(func() { s.shutdown(ctx) })
}

func (s *Server) shutdown(ctx context.Context) {
	if s.api != nil {
		apiCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = s.api.Shutdown(apiCtx) // streams of applies in flight end with the engine below
		cancel()
	}
	if s.admin != nil {
		s.admin.Close()
		s.dash.Close()
	}
	s.closeAll(ctx)
}

func (s *Server) closeAll(ctx context.Context) {
	lbCtx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	s.proxy.Shutdown(lbCtx)
	cancel()
	s.shutdownEnvs(ctx)
	s.stopBg()
	nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	s.notify.Close(nctx) // what is queued goes out first, for a while
	cancel()
	if s.api != nil {
		s.api.Close()
	}
	if s.socket != "" {
		os.Remove(s.socket)
	}
	s.log.Info("teal server stopped")
}

// writeFileAtomic writes a file that is either whole or absent: to a
// temporary file, synced, then renamed over the target.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
