package container

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/moby/moby/api/pkg/authconfig"
)

func writeConfig(t *testing.T, dir, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Credentials are found as the docker CLI keeps them: inline, per
// registry through a helper, and through the default store.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	bin := t.TempDir()
	// A credential helper, by its protocol: the registry on stdin.
	helper := "#!/bin/sh\nread host\nif [ \"$host\" = ghcr.io ]; then echo '{\"ServerURL\":\"ghcr.io\",\"Username\":\"<token>\",\"Secret\":\"tok\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n"
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-fake"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	auth := base64.StdEncoding.EncodeToString([]byte("ann:secret"))
	writeConfig(t, dir, `{
  "auths": {
    "https://index.docker.io/v1/": {"auth": "`+auth+`"},
    "https://registry.example/v2/": {"username": "bob", "password": "pw"}
  },
  "credHelpers": {"ghcr.io": "fake"},
  "credsStore": "fake"
}`)
	c := &credentials{dir: dir}
	tests := []struct {
		image, user, pass, token string
	}{
		{"nginx:1.27", "ann", "secret", ""},
		{"registry.example/team/api:2", "bob", "pw", ""},
		{"ghcr.io/team/api:2", "", "", "tok"},
		{"quay.io/team/api:2", "", "", ""}, // the store has nothing for it
	}
	for _, tt := range tests {
		enc, err := c.encoded(context.Background(), tt.image)
		if err != nil {
			t.Fatalf("%s: %v", tt.image, err)
		}
		if tt.user == "" && tt.token == "" {
			if enc != "" {
				t.Errorf("%s: credentials %q, want none", tt.image, enc)
			}
			continue
		}
		ac, err := authconfig.Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		if ac.Username != tt.user || ac.Password != tt.pass || ac.IdentityToken != tt.token {
			t.Errorf("%s: %+v", tt.image, ac)
		}
	}
	all, err := c.all(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "ghcr.io https://index.docker.io/v1/ https://registry.example/v2/" {
		t.Errorf("all credentials: %v", keys)
	}
}

func TestCredentialsErrors(t *testing.T) {
	dir := t.TempDir()
	c := &credentials{dir: dir}
	if enc, err := c.encoded(context.Background(), "nginx:1"); err != nil || enc != "" {
		t.Errorf("no config file: %q %v, want none and no error", enc, err)
	}
	writeConfig(t, dir, `{"auths": {"registry.example": {"auth": "not base64!"}}}`)
	if _, err := c.encoded(context.Background(), "registry.example/a:1"); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("bad auth entry: %v", err)
	}
	writeConfig(t, dir, `{"credHelpers": {"registry.example": "teal-no-such-helper"}}`)
	if _, err := c.encoded(context.Background(), "registry.example/a:1"); err == nil || !strings.Contains(err.Error(), "docker-credential-teal-no-such-helper") {
		t.Errorf("missing helper: %v", err)
	}
}

// The build context leaves out what .dockerignore names, but never the
// Dockerfile.
func TestTarContext(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		".dockerignore":     "*.log\nsecrets/\ndeploy/Dockerfile\n",
		"deploy/Dockerfile": "FROM scratch\n",
		"main.go":           "package main\n",
		"debug.log":         "x",
		"secrets/key":       "x",
		"web/static/a.css":  "x",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	var buf bytes.Buffer
	if err := tarContext(&buf, dir, "deploy/Dockerfile"); err != nil {
		t.Fatal(err)
	}
	var files []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			files = append(files, h.Name)
		}
	}
	sort.Strings(files)
	if got := strings.Join(files, " "); got != ".dockerignore deploy/Dockerfile main.go web/static/a.css" {
		t.Errorf("context holds %s", got)
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 2}
	tl.write("Step 1/3\nStep 2/3\n")
	tl.write("Step 3/")
	tl.write("3\n\nSuccess")
	if got := tl.String(); got != "Step 3/3\nSuccess" {
		t.Errorf("tail = %q", got)
	}
}
