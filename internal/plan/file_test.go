package plan

import (
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

// Whatever the bytes, reading a plan file does not panic, and what it
// accepts is a valid desired state with a lineage.
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
			return
		}
		if got.Plan.Lineage == "" || len(got.Desired.Validate()) > 0 {
			t.Fatalf("accepted a plan without a lineage or with an invalid desired state: %+v", got)
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
