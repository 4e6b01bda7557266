package container

import (
	"context"
	"fmt"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/spec"
)

// ensureImage makes sure the engine has image, pulling it as policy says:
// always, only when it is missing, or never.
func (d *Driver) ensureImage(ctx context.Context, image string, policy spec.Pull) error {
	if policy != spec.PullAlways {
		_, err := d.api.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect image %s: %w", image, d.unreachable(err))
		}
		if policy == spec.PullNever {
			return fmt.Errorf("image %s is not in the container engine, and pull = %q: build or pull it first", image, policy)
		}
	}
	return d.pull(ctx, image)
}

// pull pulls image with the registry's credentials. Instances of one
// revision start together: they share one pull rather than make one each.
func (d *Driver) pull(ctx context.Context, image string) error {
	asked := time.Now()
	l := d.images.get(image)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pulled.After(asked) {
		return nil // pulled by another start while this one waited
	}
	auth, err := d.auth.encoded(ctx, image)
	if err != nil {
		return fmt.Errorf("pull %s: %w", image, err)
	}
	resp, err := d.api.ImagePull(ctx, image, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pull %s: %w", image, d.unreachable(err))
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull %s: %w", image, err)
	}
	l.pulled = time.Now()
	return nil
}

// imageLocks serializes the pulls of each image.
type imageLocks struct {
	mu    sync.Mutex
	locks map[string]*imageLock
}

type imageLock struct {
	mu     sync.Mutex
	pulled time.Time // guarded by mu
}

func newImageLocks() *imageLocks { return &imageLocks{locks: map[string]*imageLock{}} }

func (ls *imageLocks) get(image string) *imageLock {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := ls.locks[image]
	if l == nil {
		l = &imageLock{}
		ls.locks[image] = l
	}
	return l
}
