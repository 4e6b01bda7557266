package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// LogLine is one line an instance wrote.
type LogLine struct {
	Instance string `json:"instance"`
	Line     string `json:"line"`
}

// LogRequest chooses whose output Logs returns: one instance, live or
// long stopped, or the instances of one slot, or (by default) those that
// serve and those a deployment is starting.
type LogRequest struct {
	Instance string
	Slot     spec.Slot
	runtime.LogOptions
}

// maxLogLine bounds one line; the rest of a longer one is cut.
const maxLogLine = 64 << 10

// Logs calls emit with each line of the output req chooses, in order for
// each instance; the output of several instances is read one after the
// other, or side by side when following. It returns when all is read, or
// when ctx is done while following.
func (e *Engine) Logs(ctx context.Context, service string, req LogRequest, emit func(LogLine) error) error {
	lr, ok := e.driver.(runtime.LogReader)
	if !ok {
		return fmt.Errorf("the %T driver keeps no output", e.driver)
	}
	ids, err := e.logSources(lr, service, req)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	read := func(ctx context.Context, id string, opts runtime.LogOptions) error {
		r, err := lr.Logs(ctx, service, id, opts)
		if err != nil {
			return err
		}
		defer r.Close()
		return eachLine(r, func(line string) error {
			mu.Lock()
			defer mu.Unlock()
			return emit(LogLine{Instance: id, Line: line})
		})
	}
	if !req.Follow {
		for _, id := range ids {
			if err := read(ctx, id, req.LogOptions); err != nil {
				return err
			}
		}
		return nil
	}
	return e.followLogs(ctx, lr, service, req, ids, read)
}

// followLogs reads the instances side by side until ctx is done. Unless
// one instance was asked for, instances that start meanwhile (a
// deployment's) are followed from their first line, as they appear.
func (e *Engine) followLogs(ctx context.Context, lr runtime.LogReader, service string, req LogRequest, ids []string, read func(context.Context, string, runtime.LogOptions) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	following := map[string]bool{}
	follow := func(id string, opts runtime.LogOptions) {
		following[id] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(ctx, id, opts); err != nil {
				once.Do(func() { first = err })
				cancel() // a failed emit (the client left) ends them all
			}
		}()
	}
	for _, id := range ids {
		follow(id, req.LogOptions)
	}
	fromStart := runtime.LogOptions{Follow: true}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for req.Instance == "" {
		select {
		case <-ctx.Done():
		case <-tick.C:
			now, _ := e.logSources(lr, service, req)
			for _, id := range now {
				if !following[id] {
					follow(id, fromStart) // it is new
				}
			}
			continue
		}
		break
	}
	<-ctx.Done()
	wg.Wait()
	if errors.Is(first, io.ErrClosedPipe) || errors.Is(first, context.Canceled) {
		return nil
	}
	return first
}

// logSources returns the instances whose output a request chooses.
func (e *Engine) logSources(lr runtime.LogReader, service string, req LogRequest) ([]string, error) {
	logged := lr.Logged(service)
	if req.Instance != "" {
		for _, id := range logged {
			if id == req.Instance {
				return []string{id}, nil
			}
		}
		return nil, fmt.Errorf("instance %q of %s: %w; %s", req.Instance, service, state.ErrNotFound, knownLogs(logged))
	}
	e.mu.Lock()
	s := e.services[service]
	e.mu.Unlock()
	var ids []string
	if s != nil {
		s.mu.Lock()
		for _, g := range []*group{s.live, s.candidate, s.previous} {
			if g == nil || (req.Slot == "" && g == s.previous) || (req.Slot != "" && g.slot != req.Slot) {
				continue
			}
			for _, m := range g.members {
				ids = append(ids, m.inst.ID())
			}
		}
		s.mu.Unlock()
	}
	if len(ids) > 0 {
		return ids, nil
	}
	switch {
	case s == nil && len(logged) == 0:
		return nil, fmt.Errorf("service %q: %w", service, state.ErrNotFound)
	case req.Slot != "":
		return nil, fmt.Errorf("service %s runs nothing in %s: %w; %s", service, req.Slot, state.ErrNotFound, knownLogs(logged))
	default:
		return nil, fmt.Errorf("service %s runs no instances: %w; %s", service, state.ErrNotFound, knownLogs(logged))
	}
}

// knownLogs says which instances' output can be asked for by name.
func knownLogs(logged []string) string {
	if len(logged) == 0 {
		return "no instance's output is kept"
	}
	if len(logged) > 10 {
		logged = logged[len(logged)-10:]
	}
	return "the output of these is kept, the latest last: " + strings.Join(logged, ", ")
}

// eachLine calls fn with each line of r, without its newline; lines longer
// than maxLogLine are cut.
func eachLine(r io.Reader, fn func(string) error) error {
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			if err := fn(string(line)); err != nil {
				return err
			}
		}
		for isPrefix && err == nil { // skip the rest of a long line
			_, isPrefix, err = br.ReadLine()
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
