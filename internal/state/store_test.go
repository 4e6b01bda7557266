package state

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func web(version string) spec.Service {
	s := spec.NewService("web")
	s.Version = version
	s.Process = &spec.Process{Command: []string{"/bin/web"}, Dir: "/srv"}
	return s
}

// Everything recorded survives closing and opening the store again, as it
// must survive a restart of the server.
func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	var d Deployment
	err := s.Update(func(tx *Tx) error {
		if err := tx.SetLoadBalancers([]spec.LoadBalancer{spec.NewLoadBalancer("public")}); err != nil {
			return err
		}
		if err := tx.PutService(Service{Name: "web", Spec: web("1"), Live: &Placement{Revision: 1, Slot: spec.Blue}}); err != nil {
			return err
		}
		if _, err := tx.CreateRevision(web("1")); err != nil {
			return err
		}
		var err error
		d, err = tx.CreateDeployment(Deployment{Service: "web", Kind: KindDeploy, ToRevision: 1, Status: Running})
		if err != nil {
			return err
		}
		d.Steps = append(d.Steps, Step{Name: "start", Status: Running})
		if err := tx.PutDeployment(d); err != nil {
			return err
		}
		if err := tx.PutInstance(Instance{ID: "web-r1-blue-1", Service: "web", Revision: 1, Slot: spec.Blue, Handle: `{"pid":1}`}); err != nil {
			return err
		}
		_, err = tx.AppendEvent(Event{Service: "web", Type: "test", Message: "hello"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, path)
	defer s.Close()
	err = s.View(func(tx *Tx) error {
		if tx.Serial() != 2 {
			t.Errorf("serial = %d, want 2 (load balancers, then the service)", tx.Serial())
		}
		lbs, _ := tx.LoadBalancers()
		svc, err := tx.Service("web")
		if err != nil || len(lbs) != 1 || svc.Live == nil || svc.Live.Revision != 1 || svc.Spec.Version != "1" {
			t.Errorf("after reopen: lbs %v, service %+v, %v", lbs, svc, err)
		}
		rev, err := tx.Revision("web", 1)
		if err != nil || rev.Hash != web("1").Template().Hash() {
			t.Errorf("revision 1: %+v, %v", rev, err)
		}
		running, _ := tx.RunningDeployments()
		if len(running) != 1 || running[0].ID != d.ID || len(running[0].Steps) != 1 {
			t.Errorf("running deployments = %+v", running)
		}
		ins, _ := tx.Instances()
		if len(ins) != 1 || ins[0].Handle != `{"pid":1}` {
			t.Errorf("instances = %+v", ins)
		}
		evs, _ := tx.Events(0, 10)
		if len(evs) != 1 || evs[0].Seq != 1 || evs[0].Message != "hello" || evs[0].Time.IsZero() {
			t.Errorf("events = %+v", evs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Revision numbers grow by one and are never reused, even after the
// service is destroyed and declared again.
func TestRevisionNumbers(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	var got []int
	for _, v := range []string{"1", "2", "3"} {
		err := s.Update(func(tx *Tx) error {
			if v == "3" {
				if err := tx.DeleteService("web"); err != nil {
					return err
				}
			}
			r, err := tx.CreateRevision(web(v))
			got = append(got, r.Number)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("revision numbers %v, want 1 2 3", got)
	}
	s.View(func(tx *Tx) error {
		if n := tx.NextRevision("web"); n != 4 {
			t.Errorf("NextRevision = %d, want 4", n)
		}
		if n := tx.NextRevision("other"); n != 1 {
			t.Errorf("NextRevision of a new service = %d, want 1", n)
		}
		revs, _ := tx.Revisions("web")
		if len(revs) != 3 || revs[2].Version != "3" {
			t.Errorf("Revisions = %+v", revs)
		}
		return nil
	})
}

// A transaction that fails stores nothing of what it wrote.
func TestUpdateIsAtomic(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if err := tx.PutService(Service{Name: "web", Spec: web("1")}); err != nil {
			return err
		}
		if _, err := tx.CreateRevision(web("1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	s.View(func(tx *Tx) error {
		if _, err := tx.Service("web"); !errors.Is(err, ErrNotFound) {
			t.Errorf("service stored by a failed transaction: %v", err)
		}
		if tx.Serial() != 0 || tx.NextRevision("web") != 1 {
			t.Errorf("serial %d, next revision %d after a failed transaction", tx.Serial(), tx.NextRevision("web"))
		}
		return nil
	})
}

func TestNotFoundAndLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := open(t, path)
	defer s.Close()
	s.View(func(tx *Tx) error {
		if _, err := tx.Revision("web", 1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Revision of nothing: %v", err)
		}
		return nil
	})
	if err := s.Update(func(tx *Tx) error { return tx.PutDeployment(Deployment{Service: "web", ID: 9}) }); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutDeployment of an unknown deployment: %v", err)
	}
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
}

func TestEventsPage(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "state.db"))
	defer s.Close()
	for i := range 25 {
		s.Update(func(tx *Tx) error {
			_, err := tx.AppendEvent(Event{Type: "test", Message: string(rune('a' + i))})
			return err
		})
	}
	s.View(func(tx *Tx) error {
		page, _ := tx.Events(10, 5)
		if len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
			t.Errorf("Events(10, 5) = seqs %v", page)
		}
		return nil
	})
}
