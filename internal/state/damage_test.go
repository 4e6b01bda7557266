package state_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// fill writes a state of a few services and n events to path.
func fill(t *testing.T, path string, n int) {
	t.Helper()
	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 5 {
		if err := s.Update(func(tx *state.Tx) error {
			return tx.PutService(state.Service{Name: fmt.Sprint("web", i), Spec: spec.NewService(fmt.Sprint("web", i))})
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if err := s.Update(func(tx *state.Tx) error {
			_, err := tx.AppendEvent(state.Event{Service: "web0", Type: "test", Message: fmt.Sprintf("event %d %s", i, strings.Repeat("x", 100))})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads everything a server reads as it starts.
func readAll(s *state.Store) error {
	return s.View(func(tx *state.Tx) error {
		svcs, err := tx.Services()
		if err != nil {
			return err
		}
		for _, svc := range svcs {
			if _, err := tx.Deployments(svc.Name); err != nil {
				return err
			}
		}
		_, err = tx.Events(0, 100000)
		return err
	})
}

// A damaged state file is refused with a message that names it and says
// how to go back to its backup; damage never crashes the server, and a
// file that opens can be read whole.
func TestDamagedFileIsRefused(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.db")
	fill(t, orig, 2000)
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	backup, err := os.ReadFile(orig + state.BackupSuffix)
	if err != nil {
		t.Fatalf("no backup beside the state: %v", err)
	}
	try := func(name string, damaged []byte) error {
		path := filepath.Join(dir, name+".db")
		os.WriteFile(path, damaged, 0o600)
		os.WriteFile(path+state.BackupSuffix, backup, 0o600)
		s, err := state.Open(path)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := readAll(s); err != nil {
			t.Errorf("%s: opened, then failed to read: %v", name, err)
		}
		return nil
	}
	// The end of the file may be room bbolt made and has not used yet:
	// cutting it is no damage.
	if err := try("cutroom", data[:len(data)-4096]); err != nil {
		var ce *state.CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("last page cut: %v", err)
		}
	}
	for _, size := range []int{0, 100, 4096, 8192, 16384, len(data) / 2} {
		err := try(fmt.Sprint("cut", size), data[:size])
		var ce *state.CorruptError
		if !errors.As(err, &ce) {
			t.Errorf("cut to %d bytes: %v, want a CorruptError", size, err)
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("cut%d.db", size))
		for _, want := range []string{"state file " + path + " is damaged", "mv " + path + " " + path + ".damaged && cp " + path + state.BackupSuffix + " " + path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("cut to %d bytes: %q lacks %q", size, err, want)
			}
		}
	}
	refused := 0
	const seeds = 150
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 1))
		d := append([]byte(nil), data...)
		for range 1 + r.IntN(10) {
			d[r.IntN(len(d))] ^= byte(1 + r.IntN(255))
		}
		err := try(fmt.Sprint("flip", seed), d)
		var ce *state.CorruptError
		switch {
		case errors.As(err, &ce):
			refused++
		case err != nil:
			t.Errorf("seed %d: %v, want a CorruptError or a good open", seed, err)
		}
	}
	t.Logf("bytes flipped at random: %d of %d files refused, the rest opened and read whole", refused, seeds)
	if refused == 0 {
		t.Error("no file with flipped bytes was refused")
	}

	// Going back to the backup, as the message says, works.
	path := filepath.Join(dir, "cut100.db")
	os.Rename(path, path+".damaged")
	os.WriteFile(path, backup, 0o600)
	s, err := state.Open(path)
	if err != nil {
		t.Fatalf("the backup: %v", err)
	}
	defer s.Close()
	if err := readAll(s); err != nil {
		t.Error(err)
	}
}

// The backup is written when the state opens, after its check: it holds
// what was applied when the server started. (When it is written later is
// TestBackupPolicy's.)
func TestBackupAtStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name string) {
		if err := s.Update(func(tx *state.Tx) error { return tx.PutService(state.Service{Name: name, Spec: spec.NewService(name)}) }); err != nil {
			t.Fatal(err)
		}
	}
	put("web")
	s.Close()
	if s, err = state.Open(path); err != nil {
		t.Fatal(err)
	}
	put("api") // the backup, written as it opened, holds web
	s.Close()
	b, err := state.Open(path + state.BackupSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var names []string
	b.View(func(tx *state.Tx) error {
		svcs, _ := tx.Services()
		for _, svc := range svcs {
			names = append(names, svc.Name)
		}
		return nil
	})
	if strings.Join(names, ",") != "web" {
		t.Errorf("the backup holds %v, want web (as it was when the state opened)", names)
	}
}

// A full disk: writes fail with the system's word for it, and what was
// stored before is all there once there is room again.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("needs a small tmpfs (mount, as root): %v %s", err, out)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "state.db")
	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	var werr error
	for i := range 100000 {
		werr = s.Update(func(tx *state.Tx) error {
			_, err := tx.AppendEvent(state.Event{Service: "web", Type: "test", Message: fmt.Sprintf("event %d %s", i, strings.Repeat("x", 200))})
			return err
		})
		if werr != nil {
			break
		}
		stored++
	}
	if werr == nil || !strings.Contains(werr.Error(), "no space left on device") {
		t.Fatalf("after %d events: %v, want no space left on device", stored, werr)
	}
	t.Logf("the disk filled after %d events: %v", stored, werr)
	s.Close()
	os.Remove(path + state.BackupSuffix) // room again

	s, err = state.Open(path)
	if err != nil {
		t.Fatalf("reopen after the disk filled: %v", err)
	}
	defer s.Close()
	var n int
	s.View(func(tx *state.Tx) error {
		evs, err := tx.Events(0, 1000000)
		n = len(evs)
		return err
	})
	if n != stored {
		t.Errorf("%d events read back, %d were stored", n, stored)
	}
}
