// Package statetest is the conformance suite every state backend must
// pass: bbolt now, a shared database later. It checks the store's
// promises through the Store, and the ordering and atomicity the Store
// relies on through the Backend itself.
package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// Harness makes backends for the suite.
type Harness struct {
	// Fresh makes a new, empty backend and returns a function that opens
	// it; it is called again after the last one opened was closed, to
	// show what survives a restart.
	Fresh func(t *testing.T) (open func() (state.Backend, error))
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("SurvivesReopen", func(t *testing.T) { testSurvivesReopen(t, h) })
	t.Run("RevisionNumbersAreNeverReused", func(t *testing.T) { testRevisionNumbers(t, h) })
	t.Run("UpdateIsAtomic", func(t *testing.T) { testAtomic(t, h) })
	t.Run("Events", func(t *testing.T) { testEvents(t, h) })
	t.Run("EventRetention", func(t *testing.T) { testEventRetention(t, h) })
	t.Run("LineageAndVersions", func(t *testing.T) { testVersions(t, h) })
	t.Run("Locks", func(t *testing.T) { testLocks(t, h) })
	t.Run("ScanOrder", func(t *testing.T) { testScan(t, h) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h) })
}

func open(t *testing.T, o func() (state.Backend, error)) *state.Store {
	t.Helper()
	b, err := o()
	if err != nil {
		t.Fatal(err)
	}
	s, err := state.New(b)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Everything recorded survives closing and opening the store again, as it
// must survive a restart of the server.
func testSurvivesReopen(t *testing.T, h Harness) {
	o := h.Fresh(t)
	s := open(t, o)
	var d state.Deployment
	var lineage string
	must(t, s.Update(func(tx *state.Tx) error {
		lineage = tx.Lineage()
		if err := tx.SetLoadBalancers([]spec.LoadBalancer{spec.NewLoadBalancer("public")}); err != nil {
			return err
		}
		if err := tx.PutService(state.Service{Name: "web", Spec: web("1"), Live: &state.Placement{Revision: 1, Slot: spec.Blue}}); err != nil {
			return err
		}
		if _, err := tx.CreateRevision(web("1")); err != nil {
			return err
		}
		var err error
		if d, err = tx.CreateDeployment(state.Deployment{Service: "web", Kind: state.KindDeploy, ToRevision: 1, Status: state.Running}); err != nil {
			return err
		}
		d.Steps = append(d.Steps, state.Step{Name: "start", Status: state.Running})
		if err := tx.PutDeployment(d); err != nil {
			return err
		}
		if err := tx.PutInstance(state.Instance{ID: "web-r1-blue-1", Service: "web", Revision: 1, Slot: spec.Blue, Handle: `{"pid":1}`}); err != nil {
			return err
		}
		_, err = tx.AppendEvent(state.Event{Service: "web", Type: "test", Message: "hello"})
		return err
	}))
	must(t, s.Close())

	s = open(t, o)
	defer s.Close()
	must(t, s.View(func(tx *state.Tx) error {
		if tx.Serial() != 2 || tx.Lineage() != lineage || lineage == "" {
			t.Errorf("serial %d lineage %q, want 2 and %q (load balancers, then the service)", tx.Serial(), tx.Lineage(), lineage)
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
	}))
}

// Revision numbers grow by one and are never reused, even after the
// service is destroyed and declared again; another service counts apart.
func testRevisionNumbers(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	var got []int
	for _, v := range []string{"1", "2", "3"} {
		must(t, s.Update(func(tx *state.Tx) error {
			if v == "3" {
				if err := tx.DeleteService("web"); err != nil {
					return err
				}
			}
			r, err := tx.CreateRevision(web(v))
			got = append(got, r.Number)
			return err
		}))
	}
	must(t, s.Update(func(tx *state.Tx) error {
		other := web("x")
		other.Name = "webx" // shares a prefix with web
		r, err := tx.CreateRevision(other)
		if r.Number != 1 {
			t.Errorf("first revision of another service: %d", r.Number)
		}
		return err
	}))
	if got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("revision numbers %v, want 1 2 3", got)
	}
	s.View(func(tx *state.Tx) error {
		if n := tx.NextRevision("web"); n != 4 {
			t.Errorf("NextRevision = %d, want 4", n)
		}
		revs, _ := tx.Revisions("web")
		if len(revs) != 3 || revs[2].Version != "3" {
			t.Errorf("Revisions(web) = %+v", revs)
		}
		return nil
	})
	must(t, s.Update(func(tx *state.Tx) error { return tx.DeleteRevision("web", 1) }))
	s.View(func(tx *state.Tx) error {
		if revs, _ := tx.Revisions("web"); len(revs) != 2 || revs[0].Number != 2 {
			t.Errorf("after deleting revision 1: %+v", revs)
		}
		return nil
	})
}

// A transaction that fails stores nothing of what it wrote.
func testAtomic(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	boom := errors.New("boom")
	err := s.Update(func(tx *state.Tx) error {
		if err := tx.PutService(state.Service{Name: "web", Spec: web("1")}); err != nil {
			return err
		}
		if _, err := tx.CreateRevision(web("1")); err != nil {
			return err
		}
		if _, err := tx.AppendEvent(state.Event{Type: "x"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	s.View(func(tx *state.Tx) error {
		if _, err := tx.Service("web"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("service stored by a failed transaction: %v", err)
		}
		evs, _ := tx.Events(0, 10)
		if tx.Serial() != 0 || tx.NextRevision("web") != 1 || len(evs) != 0 {
			t.Errorf("serial %d, next revision %d, %d events after a failed transaction", tx.Serial(), tx.NextRevision("web"), len(evs))
		}
		return nil
	})
}

func testEvents(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	for i := range 25 {
		svc := "web"
		if i%2 == 1 {
			svc = "api"
		}
		must(t, s.Update(func(tx *state.Tx) error {
			_, err := tx.AppendEvent(state.Event{Service: svc, Type: "test", Message: fmt.Sprint(i)})
			return err
		}))
	}
	s.View(func(tx *state.Tx) error {
		page, _ := tx.Events(10, 5)
		if len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
			t.Errorf("Events(10, 5) = %v", page)
		}
		last, _ := tx.LastEvents(3, "")
		if len(last) != 3 || last[0].Seq != 23 || last[2].Seq != 25 {
			t.Errorf("LastEvents(3) = %v", last)
		}
		api, _ := tx.LastEvents(2, "api")
		if len(api) != 2 || api[0].Seq != 22 || api[1].Seq != 24 {
			t.Errorf("LastEvents(2, api) = %v", api)
		}
		return nil
	})
}

// Every change to what is applied keeps a version under its serial; the
// last 100 are kept.
func testVersions(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	other := open(t, h.Fresh(t))
	defer s.Close()
	defer other.Close()
	var l1, l2 string
	s.View(func(tx *state.Tx) error { l1 = tx.Lineage(); return nil })
	other.View(func(tx *state.Tx) error { l2 = tx.Lineage(); return nil })
	if l1 == "" || l1 == l2 {
		t.Errorf("lineages %q and %q: want two different ones", l1, l2)
	}
	for i := range 105 {
		must(t, s.Update(func(tx *state.Tx) error { return tx.PutService(state.Service{Name: "web", Spec: web(fmt.Sprint(i))}) }))
	}
	must(t, s.Update(func(tx *state.Tx) error {
		_, err := tx.AppendEvent(state.Event{Type: "not a change of what is applied"})
		return err
	}))
	s.View(func(tx *state.Tx) error {
		vs, _ := tx.Versions()
		if len(vs) != 100 || vs[0].Serial != 105 || vs[99].Serial != 6 {
			t.Errorf("%d versions kept, from %d to %d; want 100, 105 down to 6", len(vs), vs[0].Serial, vs[len(vs)-1].Serial)
		}
		v, err := tx.Version(50)
		if err != nil || len(v.Services) != 1 || v.Services[0].Spec.Version != "49" || v.Lineage != l1 {
			t.Errorf("version 50: %+v %v", v, err)
		}
		if _, err := tx.Version(3); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("a version no longer kept: %v", err)
		}
		return nil
	})
}

func testLocks(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	var l state.Lock
	must(t, s.Update(func(tx *state.Tx) error {
		var err error
		l, err = tx.Lock("apply", "apply", "alice")
		return err
	}))
	err := s.Update(func(tx *state.Tx) error {
		_, err := tx.Lock("apply", "apply", "bob")
		return err
	})
	var le *state.LockError
	if !errors.As(err, &le) || le.Held.Who != "alice" || le.Held.ID != l.ID {
		t.Fatalf("second lock: %v", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("teal force-unlock "+l.ID)) {
		t.Errorf("the lock error does not say how to release it: %v", err)
	}
	must(t, s.Update(func(tx *state.Tx) error {
		held, err := tx.ForceUnlock(l.ID)
		if held.Who != "alice" {
			t.Errorf("force-unlocked %+v", held)
		}
		return err
	}))
	var l2 state.Lock
	must(t, s.Update(func(tx *state.Tx) error {
		var err error
		l2, err = tx.Lock("apply", "apply", "bob")
		return err
	}))
	// alice's operation ends late: it must not release bob's lock.
	must(t, s.Update(func(tx *state.Tx) error { return tx.Unlock(l) }))
	s.View(func(tx *state.Tx) error {
		locks, _ := tx.Locks()
		if len(locks) != 1 || locks[0].ID != l2.ID {
			t.Errorf("locks = %+v, want bob's", locks)
		}
		return nil
	})
	if err := s.Update(func(tx *state.Tx) error { _, err := tx.ForceUnlock("nope"); return err }); !errors.Is(err, state.ErrNoLock) {
		t.Errorf("force-unlock of an unknown ID: %v", err)
	}
}

// The backend keeps keys in byte order both ways, from any key, and
// sequences apart.
func testScan(t *testing.T, h Harness) {
	b, err := h.Fresh(t)()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	must(t, b.Update(func(kv state.KV) error {
		for _, k := range []string{"b", "a", "d", "c\x00", "c"} {
			if err := kv.Put("events", []byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		if n, err := kv.Next("s1"); n != 1 || err != nil {
			t.Errorf("first Next = %d %v", n, err)
		}
		kv.Next("s1")
		if n, _ := kv.Current("s1"); n != 2 {
			t.Errorf("Current(s1) = %d", n)
		}
		if n, _ := kv.Current("s2"); n != 0 {
			t.Errorf("Current of an unused sequence = %d", n)
		}
		return nil
	}))
	scan := func(from string, reverse bool, limit int) string {
		var got []byte
		var f []byte
		if from != "" {
			f = []byte(from)
		}
		b.View(func(kv state.KV) error {
			return kv.Scan("events", f, reverse, func(k, _ []byte) bool {
				got = append(append(got, k...), '|')
				return len(got) < limit
			})
		})
		return string(got)
	}
	for _, tt := range []struct {
		from    string
		reverse bool
		limit   int
		want    string
	}{
		{"", false, 100, "a|b|c|c\x00|d|"},
		{"", true, 100, "d|c\x00|c|b|a|"},
		{"bb", false, 100, "c|c\x00|d|"},
		{"bb", true, 100, "b|a|"},
		{"c", true, 100, "c|b|a|"},
		{"z", true, 100, "d|c\x00|c|b|a|"},
		{"", false, 3, "a|b|"},
	} {
		if got := scan(tt.from, tt.reverse, tt.limit); got != tt.want {
			t.Errorf("Scan(from %q, reverse %v) = %q, want %q", tt.from, tt.reverse, got, tt.want)
		}
	}
	b.View(func(kv state.KV) error {
		if v, err := kv.Get("events", []byte("zz")); v != nil || err != nil {
			t.Errorf("Get of a missing key = %q %v", v, err)
		}
		return nil
	})
}

func testNotFound(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	s.View(func(tx *state.Tx) error {
		if _, err := tx.Revision("web", 1); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("Revision of nothing: %v", err)
		}
		if _, err := tx.Service("web"); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("Service of nothing: %v", err)
		}
		return nil
	})
	if err := s.Update(func(tx *state.Tx) error { return tx.PutDeployment(state.Deployment{Service: "web", ID: 9}) }); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("PutDeployment of an unknown deployment: %v", err)
	}
}

// Events beyond the retention go, oldest first, a few at a time.
func testEventRetention(t *testing.T, h Harness) {
	s := open(t, h.Fresh(t))
	defer s.Close()
	s.KeepEvents(100)
	for range 300 {
		must(t, s.Update(func(tx *state.Tx) error {
			_, err := tx.AppendEvent(state.Event{Type: "test"})
			return err
		}))
	}
	s.View(func(tx *state.Tx) error {
		all, _ := tx.Events(0, 1000)
		if len(all) < 100 || len(all) > 100+64 || all[len(all)-1].Seq != 300 {
			t.Errorf("%d events kept, the last %d; want about 100, up to 300", len(all), all[len(all)-1].Seq)
		}
		return nil
	})
}
