package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// FileFormat is the version of the saved-plan format this teal writes and
// reads.
const FileFormat = 1

// File is a saved plan: what `teal plan -out FILE` writes and
// `teal apply FILE` carries out exactly. It holds the desired state, so
// it holds the values of sensitive variables too: it is written with mode
// 0600, and should be kept like a secret.
type File struct {
	Format  int          `json:"format_version"`
	Teal    string       `json:"teal_version"`
	Created time.Time    `json:"created"`
	Env     string       `json:"environment,omitempty"`
	Desired spec.Desired `json:"desired"`
	Plan    Plan         `json:"plan"`
}

// WriteFile saves f at path, atomically: a crash leaves the old file or
// the new one.
func WriteFile(path string, f File) error {
	f.Format = FileFormat
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadFile reads a saved plan and checks that it is whole and that this
// teal can carry it out.
func ReadFile(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	f, err := Decode(b)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// ErrNotPlanFile is returned for a file that is not a saved teal plan.
var ErrNotPlanFile = errors.New("not a teal plan file (make one with teal plan -out FILE)")

// Decode reads a saved plan from its bytes.
func Decode(b []byte) (File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("%w: %v", ErrNotPlanFile, err)
	}
	switch {
	case f.Format == 0:
		return File{}, ErrNotPlanFile
	case f.Format != FileFormat:
		return File{}, fmt.Errorf("plan file format %d; this teal reads format %d", f.Format, FileFormat)
	case f.Plan.Lineage == "":
		return File{}, fmt.Errorf("%w: it names no state lineage", ErrNotPlanFile)
	}
	if ps := f.Desired.Validate(); len(ps) > 0 {
		return File{}, fmt.Errorf("the plan's desired state is not valid: %v", ps[0])
	}
	return f, nil
}
