package containertest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvRegistry names the environment variable with the address (like
// 127.0.0.1:5099) where a test may serve a registry that the engine pulls
// from over plain HTTP: Docker does so for any 127.0.0.0/8 address,
// Podman for those its registries.conf marks insecure, as .ci/run does.
const EnvRegistry = "TEAL_TEST_REGISTRY"

// Registry serves, at the address EnvRegistry names, a registry that
// holds one image, repository:tag, of the instance program, and answers
// only requests with user and password (HTTP basic auth), as a private
// registry does. It speaks the registry protocol's pull side, which is
// all an engine uses to pull; it returns the image's reference.
func Registry(t testing.TB, repository, tag, user, password string) string {
	t.Helper()
	addr := os.Getenv(EnvRegistry)
	if addr == "" {
		t.Skipf("no registry address: set %s=127.0.0.1:PORT to a port the engine pulls from over plain HTTP (.ci/run sets it)", EnvRegistry)
	}
	bin, err := appBinary()
	if err != nil {
		t.Fatal(err)
	}
	blobs, manifest, err := imageOf(bin)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	manifestDigest := digest(manifest)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="teal-test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		path := r.URL.Path
		switch {
		case path == "/v2/" || path == "/v2":
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		case path == "/v2/"+repository+"/manifests/"+tag || path == "/v2/"+repository+"/manifests/"+manifestDigest:
			w.Header().Set("Content-Type", mediaManifest)
			w.Header().Set("Docker-Content-Digest", manifestDigest)
			serve(w, r, manifest)
		case strings.HasPrefix(path, "/v2/"+repository+"/blobs/"):
			b, ok := blobs[strings.TrimPrefix(path, "/v2/"+repository+"/blobs/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Docker-Content-Digest", digest(b))
			w.Header().Set("Content-Type", "application/octet-stream")
			serve(w, r, b)
		default:
			http.Error(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}`, http.StatusNotFound)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addr + "/" + repository + ":" + tag
}

func serve(w http.ResponseWriter, r *http.Request, b []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

const (
	mediaManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaConfig   = "application/vnd.docker.container.image.v1+json"
	mediaLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// imageOf makes an image of one layer holding bin as /app, its
// entrypoint: the blobs by digest, and the manifest.
func imageOf(bin []byte) (map[string][]byte, []byte, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return nil, nil, err
	}
	tw.Write(bin)
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	var layer bytes.Buffer
	zw := gzip.NewWriter(&layer)
	zw.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/app"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{digest(raw.Bytes())}},
	})
	if err != nil {
		return nil, nil, err
	}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Size      int    `json:"size"`
		Digest    string `json:"digest"`
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        descriptor{mediaConfig, len(config), digest(config)},
		"layers":        []descriptor{{mediaLayer, layer.Len(), digest(layer.Bytes())}},
	})
	if err != nil {
		return nil, nil, err
	}
	return map[string][]byte{digest(config): config, digest(layer.Bytes()): layer.Bytes()}, manifest, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
