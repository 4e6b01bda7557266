package state

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

// A zone's TSIG secret is sealed in the state file, and read back whole.
func TestDNSZonesSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := "c2VjcmV0LW9mLXRoZS16b25lLWtleQ=="
	zones := []spec.DNSZone{
		{Name: "example.test", Listen: "127.0.0.1:5353"},
		{Name: "corp.test", Update: &spec.DNSUpdate{Server: "127.0.0.1:53", KeyName: "teal-key", KeySecret: secret, Algorithm: "hmac-sha256"}},
	}
	if err := s.Update(func(tx *Tx) error { return tx.SetDNSZones(zones) }); err != nil {
		t.Fatal(err)
	}
	if zones[1].Update.KeySecret != secret {
		t.Error("SetDNSZones changed the zones it was given")
	}
	var got []spec.DNSZone
	if err := s.View(func(tx *Tx) error { got, err = tx.DNSZones(); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != zones[0] || *got[1].Update != *zones[1].Update {
		t.Errorf("read back %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) {
		t.Error("the state file holds the TSIG secret in the clear")
	}
}
