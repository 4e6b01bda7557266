package container

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// dockerHubKey is the key Docker's config file keeps Docker Hub's
// credentials under.
const dockerHubKey = "https://index.docker.io/v1/"

// credentials reads registry credentials the way the docker CLI keeps
// them, in DIR/config.json: inline in "auths", or through a credential
// helper program named by "credHelpers" (per registry) or "credsStore".
// The file is read at each pull, so a `docker login` takes effect
// without a restart.
type credentials struct {
	dir string
}

// dockerConfigFile is the part of config.json that holds credentials.
type dockerConfigFile struct {
	Auths       map[string]dockerAuth `json:"auths"`
	CredsStore  string                `json:"credsStore"`
	CredHelpers map[string]string     `json:"credHelpers"`
}

type dockerAuth struct {
	Auth          string `json:"auth"` // base64 of "user:password"
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
}

func dockerConfigDir(dir string) string {
	if dir != "" {
		return dir
	}
	if env := os.Getenv("DOCKER_CONFIG"); env != "" {
		return env
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

func (c *credentials) load() (dockerConfigFile, error) {
	var f dockerConfigFile
	b, err := os.ReadFile(filepath.Join(c.dir, "config.json"))
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", filepath.Join(c.dir, "config.json"), err)
	}
	return f, nil
}

// registryOf returns the registry an image is pulled from, as the config
// file names it.
func registryOf(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", err
	}
	host := reference.Domain(named)
	if host == "docker.io" {
		return dockerHubKey, nil
	}
	return host, nil
}

// encoded returns the credentials for image's registry in the form the
// engine API takes them, or "" when there are none.
func (c *credentials) encoded(ctx context.Context, image string) (string, error) {
	host, err := registryOf(image)
	if err != nil {
		return "", err
	}
	f, err := c.load()
	if err != nil {
		return "", fmt.Errorf("registry credentials: %w", err)
	}
	ac, found, err := f.lookup(ctx, host)
	if err != nil || !found {
		return "", err
	}
	return authconfig.Encode(ac)
}

// all returns every credential the file holds, for a build whose base
// images may come from any of them.
func (c *credentials) all(ctx context.Context) (map[string]registry.AuthConfig, error) {
	f, err := c.load()
	if err != nil {
		return nil, fmt.Errorf("registry credentials: %w", err)
	}
	out := map[string]registry.AuthConfig{}
	hosts := map[string]bool{}
	for k := range f.Auths {
		hosts[k] = true
	}
	for k := range f.CredHelpers {
		hosts[k] = true
	}
	for h := range hosts {
		ac, found, err := f.lookup(ctx, h)
		if err != nil {
			return nil, err
		}
		if found {
			out[h] = ac
		}
	}
	return out, nil
}

// lookup finds the credentials for host: a per-registry helper first,
// then the inline entry, then the default store, as the docker CLI does.
func (f dockerConfigFile) lookup(ctx context.Context, host string) (registry.AuthConfig, bool, error) {
	if helper := f.CredHelpers[host]; helper != "" {
		return fromHelper(ctx, helper, host)
	}
	for key, a := range f.Auths {
		if normalizeRegistry(key) != normalizeRegistry(host) {
			continue
		}
		ac := registry.AuthConfig{ServerAddress: host, Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return ac, false, fmt.Errorf("registry credentials for %s: the auth entry is not base64: %w", host, err)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return ac, false, fmt.Errorf("registry credentials for %s: the auth entry is not user:password", host)
			}
			ac.Username, ac.Password = user, pass
		}
		return ac, true, nil
	}
	if f.CredsStore != "" {
		return fromHelper(ctx, f.CredsStore, host)
	}
	return registry.AuthConfig{}, false, nil
}

// normalizeRegistry reduces "https://registry.example/v1/" to
// "registry.example", as keys in the config file are written both ways.
func normalizeRegistry(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	if s == "index.docker.io" || s == "registry-1.docker.io" {
		s = "docker.io"
	}
	return s
}

// fromHelper asks the credential helper program docker-credential-NAME,
// by its protocol: the server on stdin, a JSON answer on stdout.
func fromHelper(ctx context.Context, name, host string) (registry.AuthConfig, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-credential-"+name, "get")
	cmd.Stdin = strings.NewReader(host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(out) + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return registry.AuthConfig{}, false, nil
		}
		return registry.AuthConfig{}, false, fmt.Errorf("registry credentials for %s from docker-credential-%s: %v: %s", host, name, err, msg)
	}
	var ans struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(out, &ans); err != nil {
		return registry.AuthConfig{}, false, fmt.Errorf("registry credentials for %s from docker-credential-%s: %w", host, name, err)
	}
	ac := registry.AuthConfig{ServerAddress: host, Username: ans.Username, Password: ans.Secret}
	if ans.Username == "<token>" { // the helpers' way of saying it is an identity token
		ac.Username, ac.Password, ac.IdentityToken = "", "", ans.Secret
	}
	return ac, true, nil
}
