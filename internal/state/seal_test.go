package state_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Sensitive values are sealed in the file, its backup and its versions,
// and read back as they were; without the key they cannot be read.
func TestSensitiveValuesAreSealed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	const secret = "hunter2-do-not-show"
	web := spec.NewService("web")
	web.Process = &spec.Process{Command: []string{"/bin/web"}, Env: map[string]string{"DB_PASSWORD": secret, "MODE": "qa"}}
	web.Sensitive = []string{"process.env.DB_PASSWORD"}

	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *state.Tx) error {
		r, err := tx.CreateRevision(web)
		if err != nil {
			return err
		}
		if r.Spec.Process.Env["DB_PASSWORD"] != secret {
			t.Errorf("CreateRevision returned %q", r.Spec.Process.Env["DB_PASSWORD"])
		}
		return tx.PutService(state.Service{Name: "web", Spec: web})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *state.Tx) error {
		svc, err := tx.Service("web")
		if err != nil {
			return err
		}
		r, err := tx.Revision("web", 1)
		if err != nil {
			return err
		}
		v, err := tx.Version(tx.Serial())
		if err != nil {
			return err
		}
		for what, got := range map[string]string{"service": svc.Spec.Process.Env["DB_PASSWORD"], "revision": r.Spec.Process.Env["DB_PASSWORD"], "version": v.Services[0].Spec.Process.Env["DB_PASSWORD"]} {
			if got != secret {
				t.Errorf("the %s reads back %q", what, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = state.Open(path); err != nil { // which writes the backup
		t.Fatal(err)
	}
	s.Close()
	for _, f := range []string{path, path + state.BackupSuffix} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret in clear", filepath.Base(f))
		}
		if !bytes.Contains(b, []byte("qa")) {
			t.Errorf("%s lacks what is not secret", filepath.Base(f))
		}
	}
	if st, err := os.Stat(path + state.KeySuffix); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key: %v %v", st, err)
	}

	// Another key cannot open them, and says so.
	os.WriteFile(path+state.KeySuffix, bytes.Repeat([]byte{7}, 32), 0o600)
	s, err = state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(func(tx *state.Tx) error { _, err := tx.Service("web"); return err })
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("cannot be unsealed with the state's key")) {
		t.Errorf("with another key: %v", err)
	}
}
