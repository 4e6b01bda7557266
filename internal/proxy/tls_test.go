package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// writeCert writes a self-signed certificate for names, with serial, and
// its key, as PEM files in dir.
func writeCert(t *testing.T, dir, base string, serial int64, names ...string) spec.TLSCertificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	c := spec.TLSCertificate{Certificate: filepath.Join(dir, base+".pem"), Key: filepath.Join(dir, base+"-key.pem")}
	// Write the key first and the certificate last, as a renewal would.
	if err := os.WriteFile(c.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.Certificate, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

// peerSerial handshakes with addr for serverName and returns the serial of
// the certificate it got.
func peerSerial(t *testing.T, addr, serverName string) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %s: %v", serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func tlsLB(t *testing.T, certs ...spec.TLSCertificate) (*Proxy, spec.LoadBalancer) {
	t.Helper()
	p := New(Options{Log: discard()})
	lb := testLB("secure")
	lb.TLS = certs
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown(context.Background()) })
	p.SetService(service("web", spec.Route{LoadBalancer: "secure", Path: "/*"}))
	p.SetPool("web", spec.Blue, []*Target{healthyTarget(t, p, "b", backendServer(t, "blue"))})
	p.SetWeights("web", Weights{spec.Blue: 100})
	return p, lb
}

func TestTLSBySNIAndReload(t *testing.T) {
	dir := t.TempDir()
	a := writeCert(t, dir, "a", 1, "a.test")
	b := writeCert(t, dir, "b", 2, "*.b.test", "b.test")
	p, _ := tlsLB(t, a, b)
	addr := p.Addr("secure")

	for name, want := range map[string]int64{"a.test": 1, "x.b.test": 2, "b.test": 2, "unknown.test": 1} {
		if got := peerSerial(t, addr, name); got != want {
			t.Errorf("SNI %s got certificate %d, want %d", name, got, want)
		}
	}

	// HTTP/2 by ALPN, on a connection that stays open across the reload.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: "a.test", InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
	}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("got %s over TLS %x, want HTTP/2.0 over TLS 1.2 or later", resp.Proto, resp.TLS.Version)
	}

	writeCert(t, dir, "a", 3, "a.test") // renewed in place
	deadline := time.Now().Add(10 * time.Second)
	for peerSerial(t, addr, "a.test") != 3 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err = client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("the connection opened before the reload: %v", err)
	}
	resp.Body.Close()
	if s := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); s != 1 {
		t.Errorf("the open connection was re-handshaken (certificate %d): it should have been left alone", s)
	}

	// A broken renewal (half written) keeps the last good certificate.
	os.WriteFile(a.Certificate, []byte("-----BEGIN CERTIFICATE-----\ngarbage"), 0o644)
	time.Sleep(certReloadEvery + 500*time.Millisecond)
	if got := peerSerial(t, addr, "a.test"); got != 3 {
		t.Errorf("after a broken renewal: certificate %d, want 3 still", got)
	}

	old := &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 client was accepted")
	}
}

func TestRedirectHTTP(t *testing.T) {
	dir := t.TempDir()
	p := New(Options{Log: discard()})
	lb := testLB("secure")
	lb.Listen = "127.0.0.1:" + freePort(t)
	lb.TLS = []spec.TLSCertificate{writeCert(t, dir, "a", 1, "a.test")}
	lb.RedirectHTTP = "127.0.0.1:" + freePort(t)
	if err := p.SetLoadBalancers(context.Background(), []spec.LoadBalancer{lb}); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", "http://"+lb.RedirectHTTP+"/a/b?c=d", nil)
	req.Host = "shop.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := strings.Cut(lb.Listen, ":")
	if want := "https://shop.test:" + port + "/a/b?c=d"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}
