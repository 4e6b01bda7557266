package container

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/teal-deploy/teal/internal/spec"
)

// buildOutputLines bounds the build output Build returns.
const buildOutputLines = 40

// Build builds b through the engine's build API and tags the image as
// image. It sends the context directory as a tar stream, leaving out what
// its .dockerignore names, as `docker build` does. With pull = "always"
// the base images are pulled again (docker build --pull). It returns the
// last lines of the build's output, also when the build fails.
func (d *Driver) Build(ctx context.Context, b spec.Build, image string, pull spec.Pull) (string, error) {
	auths, err := d.auth.all(ctx)
	if err != nil {
		return "", err
	}
	args := map[string]*string{}
	for k, v := range b.Args {
		args[k] = &v
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(tarContext(pw, b.Context, b.Dockerfile)) }()
	defer pr.Close()
	res, err := d.api.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        []string{image},
		Dockerfile:  filepath.ToSlash(b.Dockerfile),
		BuildArgs:   args,
		PullParent:  pull == spec.PullAlways,
		Remove:      true,
		ForceRemove: true,
		AuthConfigs: auths,
		Labels:      map[string]string{LabelOwner: d.owner},
	})
	if err != nil {
		return "", fmt.Errorf("build %s from %s: %w", image, b.Context, d.unreachable(err))
	}
	defer res.Body.Close()
	out := &tail{max: buildOutputLines}
	dec := json.NewDecoder(res.Body)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return out.String(), fmt.Errorf("build %s: reading the engine's answer: %w", image, err)
		}
		if m.Error != nil {
			out.write(m.Error.Message)
			return out.String(), fmt.Errorf("build %s: %s", image, m.Error.Message)
		}
		out.write(m.Stream)
	}
	return out.String(), nil
}

// tarContext writes the build context dir to w as a tar stream.
func tarContext(w io.Writer, dir, dockerfile string) error {
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf(".dockerignore: %w", err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf(".dockerignore: %w", err)
	}
	keep := map[string]bool{filepath.Clean(dockerfile): true, ".dockerignore": true}
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		if !keep[rel] {
			if skip, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel)); err != nil {
				return err
			} else if skip && !pm.Exclusions() {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			} else if skip {
				return nil // a later "!pattern" may bring back something inside
			}
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("build context %s: %w", dir, err)
	}
	return tw.Close()
}

// tail keeps the last max lines written to it.
type tail struct {
	max     int
	lines   []string
	partial string
}

func (t *tail) write(s string) {
	s = t.partial + s
	parts := strings.Split(s, "\n")
	t.partial = parts[len(parts)-1]
	for _, l := range parts[:len(parts)-1] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		t.lines = append(t.lines, l)
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	}
}

func (t *tail) String() string {
	lines := t.lines
	if strings.TrimSpace(t.partial) != "" {
		lines = append(lines[:len(lines):len(lines)], t.partial)
	}
	return strings.Join(lines[max(0, len(lines)-t.max):], "\n")
}
