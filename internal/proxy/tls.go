package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// certReloadEvery is how often certificate files are looked at for
// changes. Polling the files (rather than inotify) also notices a renewal
// that replaces a symlink, as Kubernetes secrets and certbot do.
const certReloadEvery = 2 * time.Second

// certStore holds a listener's certificates and picks one by SNI. It
// reloads files that change; a handshake in progress or a connection
// already open keeps the certificate it got.
type certStore struct {
	files []spec.TLSCertificate
	log   *slog.Logger

	certs   atomic.Pointer[certSet]
	mu      sync.Mutex
	stamps  []string // what the files looked like when last loaded
	stop    chan struct{}
	stopped sync.Once
}

// certSet is one loaded generation of certificates.
type certSet struct {
	all    []*tls.Certificate
	byName map[string]*tls.Certificate // exact DNS names and "*.example.com" wildcards
}

func newCertStore(files []spec.TLSCertificate, log *slog.Logger) (*certStore, error) {
	cs := &certStore{files: files, log: log, stop: make(chan struct{})}
	if err := cs.load(); err != nil {
		return nil, err
	}
	go cs.watch()
	return cs, nil
}

// load reads every certificate; on any error nothing changes.
func (cs *certStore) load() error {
	set := &certSet{byName: map[string]*tls.Certificate{}}
	var stamps []string
	for _, f := range cs.files {
		c, err := tls.LoadX509KeyPair(f.Certificate, f.Key)
		if err != nil {
			return fmt.Errorf("certificate %s with key %s: %w", f.Certificate, f.Key, err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return fmt.Errorf("certificate %s: %w", f.Certificate, err)
		}
		c.Leaf = leaf
		set.all = append(set.all, &c)
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		for _, n := range names {
			n = strings.ToLower(n)
			if _, taken := set.byName[n]; !taken { // the first file that names a host serves it
				set.byName[n] = &c
			}
		}
		stamps = append(stamps, stamp(f.Certificate), stamp(f.Key))
	}
	cs.certs.Store(set)
	cs.mu.Lock()
	cs.stamps = stamps
	cs.mu.Unlock()
	return nil
}

// stamp summarises a file so that a change shows: size, time, and its
// bytes (certificates are small), which a same-second rewrite also changes.
func stamp(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "missing"
	}
	st, _ := os.Stat(path)
	return fmt.Sprintf("%d/%d/%x", st.Size(), st.ModTime().UnixNano(), bytes.TrimSpace(b[:min(len(b), 4096)]))
}

func (cs *certStore) changed() bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	i := 0
	for _, f := range cs.files {
		if stamp(f.Certificate) != cs.stamps[i] || stamp(f.Key) != cs.stamps[i+1] {
			return true
		}
		i += 2
	}
	return false
}

func (cs *certStore) watch() {
	tick := time.NewTicker(certReloadEvery)
	defer tick.Stop()
	for {
		select {
		case <-cs.stop:
			return
		case <-tick.C:
			if !cs.changed() {
				continue
			}
			if err := cs.load(); err != nil {
				// A half-written renewal: keep serving the old ones and
				// try again at the next tick.
				cs.log.Warn("certificate reload failed; the previous certificates stay", "err", err)
				continue
			}
			cs.log.Info("certificates reloaded", "files", len(cs.files))
		}
	}
}

func (cs *certStore) close() { cs.stopped.Do(func() { close(cs.stop) }) }

// get picks the certificate for a handshake: the one naming the SNI host
// exactly, then one with a wildcard for it, then the first.
func (cs *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	set := cs.certs.Load()
	if set == nil || len(set.all) == 0 {
		return nil, errors.New("no certificate")
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if c, ok := set.byName[name]; ok {
		return c, nil
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c, ok := set.byName["*"+name[i:]]; ok {
			return c, nil
		}
	}
	return set.all[0], nil
}

// tlsConfig returns the listener's TLS settings: TLS 1.2 at least, Go's
// default (modern, forward-secret) cipher suites, and ALPN for HTTP/2.
func (cs *certStore) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cs.get,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
