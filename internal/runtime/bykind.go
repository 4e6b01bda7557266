package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// ByKind is a Driver that runs each instance on the driver its spec
// names: a Process on Process, a Container on Container. It is how one
// server runs process services and container services side by side.
type ByKind struct {
	Process   Driver
	Container Driver // nil when the server has no container engine
}

var (
	_ Driver    = (*ByKind)(nil)
	_ Sweeper   = (*ByKind)(nil)
	_ Importer  = (*ByKind)(nil)
	_ LogReader = (*ByKind)(nil)
)

func (d *ByKind) pick(s InstanceSpec) (Driver, error) {
	switch {
	case s.Process != nil && d.Process != nil:
		return d.Process, nil
	case s.Container != nil && d.Container != nil:
		return d.Container, nil
	case s.Container != nil:
		return nil, fmt.Errorf("instance %s runs as a container, but this server has no container engine", s.ID)
	case s.Process != nil:
		return nil, fmt.Errorf("instance %s runs as a process, but this server has no process driver", s.ID)
	default:
		return nil, fmt.Errorf("instance %s: its spec names neither a process nor a container", s.ID)
	}
}

// Start starts s on the driver its spec names.
func (d *ByKind) Start(ctx context.Context, s InstanceSpec) (Instance, error) {
	drv, err := d.pick(s)
	if err != nil {
		return nil, err
	}
	return drv.Start(ctx, s)
}

// Adopt adopts s on the driver its spec names.
func (d *ByKind) Adopt(ctx context.Context, s InstanceSpec, handle string) (Instance, error) {
	drv, err := d.pick(s)
	if err != nil {
		return nil, err
	}
	return drv.Adopt(ctx, s, handle)
}

// Import takes over an instance on the driver its spec names; a spec that
// names none is a process's, which is what `teal import` brings.
func (d *ByKind) Import(ctx context.Context, s InstanceSpec, addr string, pid int) (Instance, error) {
	drv := d.Process
	if s.Container != nil {
		drv = d.Container
	}
	imp, ok := drv.(Importer)
	if !ok {
		return nil, fmt.Errorf("instance %s: the driver cannot take over instances it did not start", s.ID)
	}
	return imp.Import(ctx, s, addr, pid)
}

// Sweep sweeps on every driver that can.
func (d *ByKind) Sweep(ctx context.Context, keep func(id string) bool) ([]string, error) {
	var swept []string
	var errs []error
	for _, drv := range []Driver{d.Process, d.Container} {
		if sw, ok := drv.(Sweeper); ok {
			ids, err := sw.Sweep(ctx, keep)
			swept = append(swept, ids...)
			errs = append(errs, err)
		}
	}
	return swept, errors.Join(errs...)
}

// Logs reads the output of instance id of service from the driver that
// keeps it: the process driver when it knows the instance, else the
// container driver (so that process services' logs do not wait on a
// container engine that may not answer).
func (d *ByKind) Logs(ctx context.Context, service, id string, opts LogOptions) (io.ReadCloser, error) {
	var errs []error
	for _, drv := range []Driver{d.Process, d.Container} {
		lr, ok := drv.(LogReader)
		if !ok {
			continue
		}
		rc, err := lr.Logs(ctx, service, id, opts)
		if err == nil {
			return rc, nil
		}
		if !errors.Is(err, ErrNoLogs) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return nil, fmt.Errorf("instance %s: %w", id, ErrNoLogs)
}

// Logged lists the instances of service whose output either driver keeps.
func (d *ByKind) Logged(service string) []string {
	var ids []string
	for _, drv := range []Driver{d.Process, d.Container} {
		if lr, ok := drv.(LogReader); ok {
			ids = append(ids, lr.Logged(service)...)
		}
	}
	return ids
}
