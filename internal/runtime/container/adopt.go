package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime"
)

// Adopt takes over a container an earlier server started, found by the
// container ID in its handle. A container that has exited meanwhile is
// removed, and Adopt fails with runtime.ErrGone, saying how it ended.
//
// With no handle (a server killed while it started the instance, before it
// recorded the handle), the container is found by its labels: this
// server's, and this instance's.
func (d *Driver) Adopt(ctx context.Context, s runtime.InstanceSpec, h string) (runtime.Instance, error) {
	var hd handle
	if h == "" {
		id, err := d.find(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		hd.Container = id
	} else if err := json.Unmarshal([]byte(h), &hd); err != nil || hd.Container == "" {
		return nil, fmt.Errorf("instance %s: unreadable handle %q", s.ID, h)
	}
	res, err := d.api.ContainerInspect(ctx, hd.Container, client.ContainerInspectOptions{})
	if notFound(err) {
		return nil, fmt.Errorf("instance %s (container %s): %w", s.ID, short(hd.Container), runtime.ErrGone)
	}
	if err != nil {
		return nil, fmt.Errorf("instance %s: inspect container %s: %w", s.ID, short(hd.Container), d.unreachable(err))
	}
	ct := res.Container
	if ct.Config == nil || ct.Config.Labels[LabelInstance] != s.ID || ct.Config.Labels[LabelOwner] != d.owner {
		return nil, fmt.Errorf("instance %s: container %s is not this instance of this server's: %w", s.ID, short(hd.Container), runtime.ErrGone)
	}
	if ct.State == nil || !ct.State.Running {
		why := "it is not running"
		if ct.State != nil {
			why = exitStatus(ct.State, false, memoryOf(ct)).String()
		}
		d.remove(ct.ID)
		return nil, fmt.Errorf("instance %s (container %s) %s: %w", s.ID, short(ct.ID), why, runtime.ErrGone)
	}
	in, err := d.inspectRunning(ctx, s.ID, ct.ID)
	if err != nil {
		return nil, err
	}
	go in.watch()
	return in, nil
}

// find returns the ID of the container of instance id, by its labels.
func (d *Driver) find(ctx context.Context, id string) (string, error) {
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelOwner+"="+d.owner).Add("label", LabelInstance+"="+id),
	})
	if err != nil {
		return "", fmt.Errorf("instance %s: list containers: %w", id, d.unreachable(err))
	}
	for _, c := range list.Items {
		if c.Labels[LabelOwner] == d.owner && c.Labels[LabelInstance] == id {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("instance %s: no container has its labels: %w", id, runtime.ErrGone)
}

// sweepGrace is how long a swept container has to stop before it is
// killed: it belongs to nothing and takes no traffic.
const sweepGrace = 5 * time.Second

// Sweep stops and removes every container of this server's that keep
// does not claim, running or not: those a server started and died before
// it recorded, and those that exited while no server watched them. An
// engine that does not answer has nothing to sweep now (a server that
// runs only processes has none); the next start sweeps it.
func (d *Driver) Sweep(ctx context.Context, keep func(id string) bool) ([]string, error) {
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelOwner+"="+d.owner),
	})
	if client.IsErrConnectionFailed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", d.unreachable(err))
	}
	var (
		mu    sync.Mutex
		swept []string
		errs  []error
		wg    sync.WaitGroup
	)
	for _, c := range list.Items {
		id := c.Labels[LabelInstance]
		if c.Labels[LabelOwner] != d.owner || keep(id) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := int(sweepGrace.Seconds())
			_, err := d.api.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &timeout})
			if err == nil || notFound(err) || cerrdefs.IsNotModified(err) {
				_, err = d.api.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !notFound(err) {
				errs = append(errs, fmt.Errorf("remove container %s of instance %s: %w", short(c.ID), id, err))
				return
			}
			swept = append(swept, id)
		}()
	}
	wg.Wait()
	return swept, errors.Join(errs...)
}

func memoryOf(ct container.InspectResponse) int64 {
	if ct.HostConfig == nil {
		return 0
	}
	return ct.HostConfig.Memory
}
