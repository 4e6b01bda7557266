package state_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/teal-deploy/teal/internal/state"
	"github.com/teal-deploy/teal/internal/state/statetest"
)

func TestBoltConformance(t *testing.T) {
	statetest.Run(t, statetest.Harness{
		Fresh: func(t *testing.T) func() (state.Backend, error) {
			path := filepath.Join(t.TempDir(), fmt.Sprintf("state-%s.db", filepath.Base(t.Name())))
			return func() (state.Backend, error) { return state.OpenBolt(path) }
		},
	})
}

// One server per state file: a second open waits a second, then fails.
func TestBoltFileIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := state.Open(path); !errors.Is(err, state.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
}
