// Package bindtest starts a real BIND 9 (Debian's bind9 package) for a
// test: on a free loopback port, primary for one zone that takes RFC 2136
// updates signed with a TSIG key made for the test. A test that needs it
// is skipped, with a message that says how to get it, where named is not
// installed; CI installs it.
package bindtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/teal-deploy/teal/internal/tcptest"
)

// KeyName is the name of the TSIG key BIND accepts updates signed with.
const KeyName = "teal-key"

// BIND is a running named.
type BIND struct {
	Addr      string // host:port, UDP and TCP
	Zone      string // the zone it is primary for, without the final dot
	KeyName   string
	KeySecret string // base64
	Algorithm string

	cmd    *exec.Cmd
	exited chan struct{} // closed when named has exited
	conf   func() string // named.conf for the current key
	file   string        // where named.conf is
	mu     sync.Mutex
	output bytes.Buffer
}

// Require is the environment variable that makes a test that needs BIND
// or dig fail, rather than skip, when it is missing: CI sets it.
const Require = "TEAL_TEST_BIND"

// Missing skips the test, or fails it when Require is set, because what
// says is not installed.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(Require) != "" {
		t.Fatalf("%s is not installed, and %s says this test must run (apt-get install bind9 bind9-dnsutils)", what, Require)
	}
	t.Skipf("%s is not installed (apt-get install bind9 bind9-dnsutils); CI installs it, so this test runs there", what)
}

// Named returns the path of named, or skips the test when it is not
// installed (fails it, with TEAL_TEST_BIND set).
func Named(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/named", "/usr/local/sbin/named"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("named"); err == nil {
		return p
	}
	Missing(t, "BIND's named")
	return ""
}

// Start runs named for zone, primary, allowing updates of any name in the
// zone signed with a fresh hmac-sha256 key, and waits until it answers.
// It is stopped when the test ends.
func Start(t testing.TB, zone string) *BIND {
	t.Helper()
	named := Named(t)
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	b := &BIND{Zone: zone, KeyName: KeyName, KeySecret: base64.StdEncoding.EncodeToString(raw), Algorithm: "hmac-sha256"}
	var lastErr error
	for range 3 { // a free port may be taken between choosing it and named binding it
		dir := t.TempDir()
		b.Addr = tcptest.FreeAddr(t)
		if lastErr = b.start(named, dir); lastErr == nil {
			t.Cleanup(b.stop)
			return b
		}
	}
	t.Fatalf("bind: %v", lastErr)
	return nil
}

func (b *BIND) start(named, dir string) error {
	host, port, _ := net.SplitHostPort(b.Addr)
	zoneFile := filepath.Join(dir, b.Zone+".zone")
	soa := fmt.Sprintf(`$TTL 60
@   IN SOA ns.%[1]s. hostmaster.%[1]s. 1 3600 600 86400 10
@   IN NS  ns.%[1]s.
ns  IN A   %[2]s
`, b.Zone, host)
	b.conf = func() string {
		return fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	session-keyfile "%[1]s/session.key";
	managed-keys-directory "%[1]s";
	listen-on port %[2]s { %[3]s; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	notify no;
	allow-query { any; };
};
controls { };
key "%[4]s" {
	algorithm %[5]s;
	secret "%[6]s";
};
zone "%[7]s" {
	type primary;
	file "%[8]s";
	update-policy { grant %[4]s zonesub ANY; };
};
`, dir, port, host, b.KeyName, b.Algorithm, b.KeySecret, b.Zone, zoneFile)
	}
	if err := os.WriteFile(zoneFile, []byte(soa), 0o644); err != nil {
		return err
	}
	confFile := filepath.Join(dir, "named.conf")
	b.file = confFile
	if err := os.WriteFile(confFile, []byte(b.conf()), 0o600); err != nil {
		return err
	}
	// -g: foreground, log to stderr; -n 1: one worker, on a small machine.
	b.output.Reset()
	b.cmd = exec.Command(named, "-g", "-n", "1", "-c", confFile)
	b.cmd.Stdout, b.cmd.Stderr = b.writer(), b.writer()
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	b.exited = exited
	go func() { _ = b.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("named exited at start:\n%s", b.Output())
		default:
		}
		if b.answers() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.stop()
	return fmt.Errorf("named did not answer on %s within 20s:\n%s", b.Addr, b.Output())
}

// answers reports whether named answers for the zone's SOA.
func (b *BIND) answers() bool {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(b.Zone), mdns.TypeSOA)
	c := &mdns.Client{Timeout: 300 * time.Millisecond}
	r, _, err := c.Exchange(m, b.Addr)
	return err == nil && r.Rcode == mdns.RcodeSuccess && len(r.Answer) > 0
}

func (b *BIND) stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.exited
	}
}

// RotateKey gives the TSIG key a new secret, as an operator rotating it
// would: named.conf is rewritten and named reloads it (SIGHUP). It returns
// once an update signed with the new secret is accepted; updates signed
// with the old one are refused from then on.
func (b *BIND) RotateKey(t testing.TB) {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	b.KeySecret = base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(b.file, []byte(b.conf()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b.probe() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("named did not take the new key within 20s: %v\n%s", b.probe(), b.Output())
}

// probe sends an update signed with the current key: a TXT record that
// nothing else uses.
func (b *BIND) probe() error {
	zone := mdns.Fqdn(b.Zone)
	m := new(mdns.Msg)
	m.SetUpdate(zone)
	txt := &mdns.TXT{Hdr: mdns.RR_Header{Name: "bindtest-probe." + zone, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 1}, Txt: []string{"probe"}}
	m.Insert([]mdns.RR{txt})
	key := mdns.Fqdn(b.KeyName)
	m.SetTsig(key, mdns.Fqdn(b.Algorithm), 300, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", Timeout: time.Second, TsigSecret: map[string]string{key: b.KeySecret}}
	r, _, err := c.Exchange(m, b.Addr)
	if err != nil {
		return err
	}
	if r.Rcode != mdns.RcodeSuccess {
		return fmt.Errorf("probe update: %s", mdns.RcodeToString[r.Rcode])
	}
	return nil
}

// Output returns what named printed, for a failing test's message.
func (b *BIND) Output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.output.String()
}

type lockedWriter struct{ b *BIND }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.output.Write(p)
}

func (b *BIND) writer() lockedWriter { return lockedWriter{b} }

// Lookup asks named for name's records of type qtype and returns the
// answer.
func (b *BIND) Lookup(t testing.TB, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(strings.ToLower(name)), qtype)
	c := &mdns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, b.Addr)
	if err != nil {
		t.Fatalf("query %s at BIND: %v\n%s", name, err, b.Output())
	}
	return r
}
