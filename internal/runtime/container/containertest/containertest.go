// Package containertest gives tests a real container engine and an image
// of the scriptable instance program (runtimetest's), built FROM scratch
// with a static Go binary, since no registry is reachable where teal's
// tests run.
package containertest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/runtime/container"
	"github.com/teal-deploy/teal/internal/spec"
)

// EnvHost names the environment variable that points the tests at an
// engine, like unix:///tmp/teal-podman/podman.sock; .ci/run sets it.
const EnvHost = "TEAL_TEST_DOCKER_HOST"

// Host returns the engine the tests may use, or skips t when there is none.
func Host(t testing.TB) string {
	t.Helper()
	host := os.Getenv(EnvHost)
	if host == "" {
		t.Skipf("no container engine: set %s=unix:///PATH/podman.sock to run this test against one (.ci/run starts `podman system service` and sets it)", EnvHost)
	}
	return host
}

// Driver returns a container driver on the test engine with an owner of
// its own, so that its sweeps touch nothing of other tests'. It sweeps
// what it started when the test ends.
func Driver(t testing.TB) *container.Driver {
	t.Helper()
	return DriverFor(t, Owner(t))
}

// DriverFor returns a container driver for owner, as a server restarted
// on the same data directory makes one.
func DriverFor(t testing.TB, owner string) *container.Driver {
	t.Helper()
	d, err := container.New(container.Config{Host: Host(t), Owner: owner, DockerConfig: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = d.Sweep(ctx, func(string) bool { return false })
		d.Close()
	})
	return d
}

// Owner returns an owner label unique to this test run.
func Owner(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "teal-test/" + t.Name() + "/" + hex.EncodeToString(b)
}

var image struct {
	once sync.Once
	ref  string
	err  error
}

// Image returns the reference of an image that runs the instance program
// as its entrypoint, building it once per test binary: a static binary
// (CGO_ENABLED=0) in an image FROM scratch, built through the engine's
// build API.
func Image(t testing.TB, d *container.Driver) string {
	t.Helper()
	image.once.Do(func() { image.ref, image.err = buildImage(d) })
	if image.err != nil {
		t.Fatalf("build the test image: %v", image.err)
	}
	return image.ref
}

var binary struct {
	once sync.Once
	data []byte
	err  error
}

// appBinary returns the instance program as a static Linux binary, built
// once per test binary.
func appBinary() ([]byte, error) {
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "teal-testapp-")
		if err != nil {
			binary.err = err
			return
		}
		defer os.RemoveAll(dir)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "app"),
			"github.com/teal-deploy/teal/internal/runtime/runtimetest/testapp")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build testapp: %v\n%s", err, out)
			return
		}
		binary.data, binary.err = os.ReadFile(filepath.Join(dir, "app"))
	})
	return binary.data, binary.err
}

func buildImage(d *container.Driver) (string, error) {
	bin, err := appBinary()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "teal-testapp-context-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "app"), bin, 0o755); err != nil {
		return "", err
	}
	dockerfile := "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bin)
	ref := "localhost/teal-testapp:" + hex.EncodeToString(sum[:6])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := d.Build(ctx, spec.Build{Context: dir, Dockerfile: "Dockerfile"}, ref, spec.PullMissing); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return ref, nil
}
