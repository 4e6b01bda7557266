package container

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/teal-deploy/teal/internal/runtime"
)

// Logs returns what instance id of service wrote, through the engine's
// log API while its container exists: stdout and stderr together, since
// opts.Since, the last opts.Tail lines, and with opts.Follow until the
// container exits or ctx is done. A container that exited was removed,
// and only its last lines are kept (in this server's memory, since the
// engine has forgotten them); Since does not apply to them.
func (d *Driver) Logs(ctx context.Context, service, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	containerID, err := d.find(ctx, id)
	if err != nil {
		if lines, ok := d.kept.get(service, id); ok {
			if opts.Tail > 0 && len(lines) > opts.Tail {
				lines = lines[len(lines)-opts.Tail:]
			}
			text := strings.Join(lines, "\n")
			if text != "" {
				text += "\n"
			}
			return io.NopCloser(strings.NewReader(text)), nil
		}
		return nil, fmt.Errorf("instance %s: %w", id, runtime.ErrNoLogs)
	}
	o := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow}
	if !opts.Since.IsZero() {
		o.Since = strconv.FormatInt(opts.Since.Unix(), 10)
	}
	if opts.Tail > 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	rc, err := d.api.ContainerLogs(ctx, containerID, o)
	if err != nil {
		return nil, fmt.Errorf("instance %s: logs of container %s: %w", id, short(containerID), d.unreachable(err))
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, rc)
		rc.Close()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// Logged lists the instances of service whose output can be read: those
// whose containers exist, and those whose last lines are kept, the most
// recently started or ended last.
func (d *Driver) Logged(service string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type entry struct {
		id string
		at time.Time
	}
	var entries []entry
	seen := map[string]bool{}
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", LabelOwner+"="+d.owner).Add("label", LabelService+"="+service),
	})
	if err == nil {
		for _, c := range list.Items {
			if id := c.Labels[LabelInstance]; id != "" && c.Labels[LabelService] == service {
				entries = append(entries, entry{id, time.Unix(c.Created, 0)})
				seen[id] = true
			}
		}
	}
	for id, at := range d.kept.of(service) {
		if !seen[id] {
			entries = append(entries, entry{id, at})
		}
	}
	sort.SliceStable(entries, func(a, b int) bool { return entries[a].at.Before(entries[b].at) })
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.id
	}
	return ids
}

// keptInstances bounds how many removed containers' last lines are kept.
const keptInstances = 100

// keptLogs holds the last lines of the containers that exited and were
// removed, so that teal logs can still show why a candidate failed.
type keptLogs struct {
	mu    sync.Mutex
	order []string // "service/id", oldest first
	byKey map[string]kept
}

type kept struct {
	lines []string
	at    time.Time
}

func (k *keptLogs) add(service, id string, lines []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.byKey == nil {
		k.byKey = map[string]kept{}
	}
	key := service + "/" + id
	if _, ok := k.byKey[key]; !ok {
		k.order = append(k.order, key)
	}
	k.byKey[key] = kept{lines: lines, at: time.Now()}
	for len(k.order) > keptInstances {
		delete(k.byKey, k.order[0])
		k.order = k.order[1:]
	}
}

func (k *keptLogs) get(service, id string) ([]string, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.byKey[service+"/"+id]
	return e.lines, ok
}

func (k *keptLogs) of(service string) map[string]time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]time.Time{}
	for key, e := range k.byKey {
		if s, id, _ := strings.Cut(key, "/"); s == service {
			out[id] = e.at
		}
	}
	return out
}
