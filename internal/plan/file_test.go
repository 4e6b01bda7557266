package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

func TestFileRoundTrip(t *testing.T) {
	d := spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}}
	d.Services[0].Process.Dir = "/srv"
	f := File{Teal: "teal test", Created: time.Now().Round(0).UTC(), Desired: d, Plan: Diff(d, Current{Serial: 3, Lineage: "abc"})}
	path := filepath.Join(t.TempDir(), "x.plan")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Plan.Serial != 3 || back.Plan.Lineage != "abc" || len(back.Desired.Services) != 1 || back.Format != FileFormat {
		t.Errorf("read back %+v", back)
	}
	for _, bad := range []string{`{}`, `not json`, `{"format_version": 1, "plan": {}}`, `{"format_version": 99}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) succeeded", bad)
		}
	}
	if _, err := Decode([]byte(`[]`)); !errors.Is(err, ErrNotPlanFile) {
		t.Errorf("Decode([]) = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files after an atomic write", len(entries))
	}
}

// Whatever the bytes, reading a plan file does not panic; what it accepts
// is a valid desired state with a lineage, and it round-trips: written
// again and read back, it is the same plan, with the same desired state.
// The seed corpus in testdata/fuzz/FuzzDecodeFile holds plan files as
// teal plan -out writes them (create, new version, destroy, drift,
// containers, sensitive values, targets) and broken ones. Run it for
// longer with
//
//	go test -run '^$' -fuzz FuzzDecodeFile -fuzztime 5m ./internal/plan
func FuzzDecodeFile(f *testing.F) {
	d := spec.Desired{LoadBalancers: []spec.LoadBalancer{public}, Services: []spec.Service{web("1.0")}}
	d.Services[0].Process.Dir = "/srv"
	good, _ := os.ReadFile(writeTemp(f, File{Desired: d, Plan: Diff(d, Current{Lineage: "l"})}))
	f.Add(good)
	f.Add([]byte(`{"format_version": 1}`))
	f.Add([]byte(`{"format_version": 1, "plan": {"lineage": "x"}, "desired": {"services": [{"name": "web"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Decode(b)
		if err != nil {
			if got.Plan.Lineage != "" || len(got.Desired.Services) > 0 {
				t.Fatalf("a refused plan file came back with content: %+v", got)
			}
			return
		}
		if got.Plan.Lineage == "" || len(got.Desired.Validate()) > 0 {
			t.Fatalf("accepted a plan without a lineage or with an invalid desired state: %+v", got)
		}
		path := filepath.Join(t.TempDir(), "again.plan")
		if err := WriteFile(path, got); err != nil {
			t.Fatalf("an accepted plan cannot be written again: %v", err)
		}
		back, err := ReadFile(path)
		if err != nil {
			t.Fatalf("an accepted plan, written again, is refused: %v", err)
		}
		want, _ := json.Marshal(got)
		again, _ := json.Marshal(back)
		if !bytes.Equal(want, again) {
			t.Fatalf("a plan changes when written and read again:\nread    %s\nwritten %s", want, again)
		}
	})
}

func writeTemp(f *testing.F, file File) string {
	path := filepath.Join(f.TempDir(), "seed.plan")
	if err := WriteFile(path, file); err != nil {
		f.Fatal(err)
	}
	return path
}
