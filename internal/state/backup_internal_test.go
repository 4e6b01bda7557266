package state

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

type countingBackup struct{ n int }

func (c *countingBackup) Backup(string) error { c.n++; return nil }

// A backup is made at once when what is applied changed and the last is
// 5s old, else once a minute; never for every write.
func TestBackupPolicy(t *testing.T) {
	c := &countingBackup{}
	bk := &backups{b: c}
	t0 := time.Unix(1_800_000_000, 0)
	bk.applied.Store(true)
	steps := []struct {
		at      time.Duration
		applied bool // a write changed what is applied just before
		want    int  // backups made so far
	}{
		{0, false, 1},                  // the first
		{time.Second, true, 1},         // applied changed, but the copy is 1s old
		{2 * time.Second, false, 1},    // still
		{6 * time.Second, false, 2},    // 5s: the change is copied
		{10 * time.Second, false, 2},   // nothing changed
		{30 * time.Second, true, 3},    // a change, and the copy is old enough
		{50 * time.Second, false, 3},   // nothing changed, less than a minute
		{91 * time.Second, false, 4},   // a minute
		{91*time.Second + 1, true, 4},  // a change right after a copy waits
		{96*time.Second + 1, false, 5}, // and is copied 5s later
	}
	for _, s := range steps {
		if s.applied {
			bk.applied.Store(true)
		}
		bk.before(t0.Add(s.at))
		if c.n != s.want {
			t.Fatalf("at %s: %d backups, want %d", s.at, c.n, s.want)
		}
	}
}

// Versions refer to snapshots of services, one per distinct service: a
// thousand versions of a store where one service of two changes keep one
// snapshot of the other, and the snapshots no kept version needs go.
func TestVersionsShareSnapshots(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(name, version string) {
		sp := spec.NewService(name)
		sp.Version = version
		if err := s.Update(func(tx *Tx) error { return tx.PutService(Service{Name: name, Spec: sp}) }); err != nil {
			t.Fatal(err)
		}
	}
	put("steady", "1")
	for i := range 300 {
		put("busy", strconv.Itoa(i))
	}
	var snapshots int
	var oldest Version
	err = s.View(func(tx *Tx) error {
		tx.kv.Scan(bucketSnapshots, nil, false, func(_, _ []byte) bool { snapshots++; return true })
		vs, err := tx.Versions()
		if err != nil {
			return err
		}
		if len(vs) != versionsKept {
			t.Errorf("%d versions kept, want %d", len(vs), versionsKept)
		}
		oldest, err = tx.Version(vs[len(vs)-1].Serial)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if snapshots > versionsKept+snapshotSweepEvery+1 {
		t.Errorf("%d snapshots for %d versions of two services", snapshots, versionsKept)
	}
	if len(oldest.Services) != 2 || oldest.Services[0].Name != "busy" || oldest.Services[1].Spec.Version != "1" {
		t.Errorf("the oldest version kept: %+v", oldest.Services)
	}
}
