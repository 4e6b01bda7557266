// Package container is teal's container driver: each instance is a
// container started through the Docker Engine API, so it runs on Docker
// and on Podman's compatible API alike. The container's port is published
// on 127.0.0.1 only, so the load balancer is the only way in. Containers
// carry labels that name the server, service, revision, slot and instance,
// so that a server that restarts adopts what still runs and removes what
// belongs to nothing.
package container

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
)

// The labels on every container teal starts.
const (
	LabelOwner    = "teal.owner" // the server's data directory: whose container it is
	LabelService  = "teal.service"
	LabelRevision = "teal.revision"
	LabelSlot     = "teal.slot"
	LabelInstance = "teal.instance"
	LabelAddr     = "teal.addr" // with network "host": where it serves
)

// Config is what a Driver is made from.
type Config struct {
	// Host is the engine's address: "unix:///run/podman/podman.sock",
	// "tcp://127.0.0.1:2375". Empty means $DOCKER_HOST, else the default
	// socket, unix:///var/run/docker.sock.
	Host string
	// Owner names the server the containers belong to; it is kept in a
	// label, and a sweep removes only the containers of its own owner, so
	// two servers can share an engine. The server uses its data directory.
	Owner string
	// DockerConfig is the directory of the Docker config file that holds
	// registry credentials (config.json). Empty means $DOCKER_CONFIG, else
	// ~/.docker.
	DockerConfig string
}

// Driver starts instances as containers.
type Driver struct {
	api    *client.Client
	host   string
	owner  string
	tag    string // short hash of owner, in container names
	auth   *credentials
	images *imageLocks
	kept   *keptLogs // the last lines of containers that were removed
}

var (
	_ runtime.Driver    = (*Driver)(nil)
	_ runtime.Sweeper   = (*Driver)(nil)
	_ runtime.LogReader = (*Driver)(nil)
)

// New returns a driver for the engine at cfg.Host. It does not connect:
// an engine that cannot be reached fails each Start with an error that
// says so, and process services go on working.
func New(cfg Config) (*Driver, error) {
	if cfg.Owner == "" {
		return nil, errors.New("container driver: an owner is required")
	}
	opts := []client.Opt{client.FromEnv}
	if cfg.Host != "" {
		opts = append(opts, client.WithHost(cfg.Host))
	}
	api, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("container engine %s: %w", cfg.Host, err)
	}
	sum := sha256.Sum256([]byte(cfg.Owner))
	return &Driver{
		api:    api,
		host:   api.DaemonHost(),
		owner:  cfg.Owner,
		tag:    hex.EncodeToString(sum[:3]),
		auth:   &credentials{dir: dockerConfigDir(cfg.DockerConfig)},
		images: newImageLocks(),
		kept:   &keptLogs{},
	}, nil
}

// Host returns the address of the engine the driver talks to.
func (d *Driver) Host() string { return d.host }

// Close releases the driver's connections to the engine.
func (d *Driver) Close() error { return d.api.Close() }

// Ping checks that the engine answers, and agrees on an API version.
func (d *Driver) Ping(ctx context.Context) error {
	if _, err := d.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return d.unreachable(err)
	}
	return nil
}

// unreachable explains an error from the engine, naming where teal looked
// for it when it did not answer.
func (d *Driver) unreachable(err error) error {
	if client.IsErrConnectionFailed(err) {
		return fmt.Errorf("no container engine answers at %s (set teal server --docker-host or DOCKER_HOST): %w", d.host, err)
	}
	return err
}

// Start pulls the image as the pull policy says, creates the container
// with its limits, labels and port binding, and starts it.
func (d *Driver) Start(ctx context.Context, s runtime.InstanceSpec) (runtime.Instance, error) {
	c := s.Container
	if c == nil {
		return nil, fmt.Errorf("instance %s: no container spec", s.ID)
	}
	if err := d.ensureImage(ctx, c.Image, c.Pull); err != nil {
		return nil, fmt.Errorf("instance %s: %w", s.ID, err)
	}
	cfg, host, err := d.create(s)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", s.ID, err)
	}
	created, err := d.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: d.name(s.ID), Config: cfg, HostConfig: host,
	})
	if err != nil {
		return nil, fmt.Errorf("instance %s: create container from %s: %w", s.ID, c.Image, d.unreachable(err))
	}
	if _, err := d.api.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		d.remove(created.ID)
		return nil, fmt.Errorf("instance %s: start container from %s: %w", s.ID, c.Image, d.unreachable(err))
	}
	in, err := d.inspectRunning(ctx, s.ID, created.ID)
	if err != nil {
		var ok bool
		if in, ok = d.endedAtOnce(ctx, s.ID, created.ID); !ok {
			d.remove(created.ID)
			return nil, err
		}
	}
	go in.watch()
	return in, nil
}

// endedAtOnce returns the instance of a container that ended as soon as
// it started (killed for memory, say), whose port the engine no longer
// reports, or whose inspection failed while it died: it is returned, not
// an error, so that its exit says what happened, as for a process that
// exits at once. It serves nowhere.
func (d *Driver) endedAtOnce(ctx context.Context, id, containerID string) (*instance, bool) {
	for range 10 {
		res, err := d.api.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
		if err == nil && res.Container.State != nil && !res.Container.State.Running {
			in := &instance{d: d, id: id, containerID: containerID, addr: "127.0.0.1:0",
				memoryLimit: memoryOf(res.Container), started: time.Now(), done: make(chan struct{})}
			if res.Container.Config != nil {
				in.service = res.Container.Config.Labels[LabelService]
			}
			return in, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, false
}

// name names a container after its instance and, in short, its owner, so
// that two servers on one engine never pick the same name.
func (d *Driver) name(id string) string { return "teal-" + id + "-" + d.tag }

// create makes the container's configuration: what runs, its labels and
// environment, its limits, and where its port is published.
func (d *Driver) create(s runtime.InstanceSpec) (*container.Config, *container.HostConfig, error) {
	c := s.Container
	labels := map[string]string{
		LabelOwner:    d.owner,
		LabelService:  s.Service,
		LabelRevision: strconv.Itoa(s.Revision),
		LabelSlot:     string(s.Slot),
		LabelInstance: s.ID,
	}
	port := c.Port
	host := &container.HostConfig{
		Binds:       c.Volumes,
		NetworkMode: container.NetworkMode(c.Network),
		Resources: container.Resources{
			Memory:   int64(c.Memory),
			NanoCPUs: int64(c.CPUs * 1e9),
		},
	}
	if c.Memory != 0 {
		host.Resources.MemorySwap = int64(c.Memory) // the limit is the limit: no swap on top
	}
	cfg := &container.Config{Image: c.Image, Cmd: c.Command, Entrypoint: c.Entrypoint, Labels: labels}
	if c.Network == spec.HostNetwork {
		// No publishing in the host's network: the container listens on a
		// free loopback port of the host's, as a process does.
		free, err := freePort()
		if err != nil {
			return nil, nil, fmt.Errorf("find a free port: %w", err)
		}
		port = free
		labels[LabelAddr] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	} else {
		p, ok := network.PortFrom(uint16(port), network.TCP)
		if !ok {
			return nil, nil, fmt.Errorf("port %d", port)
		}
		cfg.ExposedPorts = network.PortSet{p: {}}
		// On loopback only, on a port the engine picks, so that no other
		// process can take it between a choice and the start.
		host.PortBindings = network.PortMap{p: {{HostIP: netip.MustParseAddr("127.0.0.1")}}}
	}
	cfg.Env = environ(s, port)
	return cfg, host, nil
}

// environ is the container's environment: the service's, then what teal
// sets, which nothing may override.
func environ(s runtime.InstanceSpec, port int) []string {
	env := make([]string, 0, len(s.Container.Env)+5)
	for k, v := range s.Container.Env {
		env = append(env, k+"="+v)
	}
	return append(env, runtime.Env(s, port)...)
}

// inspectRunning reads what the engine says of a container teal just
// started or adopts: where it serves and since when.
func (d *Driver) inspectRunning(ctx context.Context, id, containerID string) (*instance, error) {
	res, err := d.api.ContainerInspect(ctx, containerID, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("instance %s: inspect container %s: %w", id, short(containerID), d.unreachable(err))
	}
	ct := res.Container
	in := &instance{d: d, id: id, containerID: ct.ID, memoryLimit: memoryOf(ct), done: make(chan struct{})}
	if ct.Config != nil {
		in.service = ct.Config.Labels[LabelService]
	}
	if ct.State != nil {
		in.started, _ = time.Parse(time.RFC3339Nano, ct.State.StartedAt)
	}
	if in.started.IsZero() {
		in.started = time.Now()
	}
	if ct.Config != nil && ct.Config.Labels[LabelAddr] != "" {
		in.addr = ct.Config.Labels[LabelAddr]
		return in, nil
	}
	if ct.NetworkSettings != nil {
		for _, bs := range ct.NetworkSettings.Ports {
			for _, b := range bs {
				if b.HostPort != "" {
					in.addr = net.JoinHostPort("127.0.0.1", b.HostPort)
					return in, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("instance %s: container %s has no published port", id, short(containerID))
}

// remove removes a container, whatever its state; one that is already
// gone is what was wanted.
func (d *Driver) remove(containerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// An error leaves a container that belongs to nothing; the next
	// sweep removes it.
	_, _ = d.api.ContainerRemove(ctx, containerID, client.ContainerRemoveOptions{Force: true})
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// short shortens a container ID as docker ps shows it.
func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// notFound reports whether err says the container or image does not
// exist. Podman answers 500 "no such container" instead of 404 for a
// container it is removing.
func notFound(err error) bool {
	return err != nil && (cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "no such container"))
}
