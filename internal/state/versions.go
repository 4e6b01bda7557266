package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// Version is what was applied at one serial: every load balancer and
// service as recorded then. Earlier versions are kept, the last 100, as
// Terraform keeps backups of its state.
type Version struct {
	Serial        uint64              `json:"serial"`
	Lineage       string              `json:"lineage"`
	Time          time.Time           `json:"time"`
	LoadBalancers []spec.LoadBalancer `json:"load_balancers"`
	Services      []Service           `json:"services"`
	// DNSZones are the zones as applied; only the current state shows
	// them, since versions are kept without them.
	DNSZones []spec.DNSZone `json:"dns_zones,omitempty"`
}

// storedVersion is a Version as kept: the services by reference to their
// snapshots, so that a change of one service of a thousand costs a
// reference for each, not a copy of each. (A state written before
// snapshots holds Services in full; both are read.)
type storedVersion struct {
	Version
	Refs map[string]string `json:"refs,omitempty"` // service name → snapshot key
}

// snapshotSweepEvery is how many serials pass between two sweeps of the
// snapshots no kept version refers to.
const snapshotSweepEvery = 20

func (t *Tx) keepVersion() error {
	lbs, err := t.LoadBalancers()
	if err != nil {
		return err
	}
	v := storedVersion{Version: Version{Serial: t.Serial(), Lineage: t.Lineage(), Time: t.now(), LoadBalancers: lbs}, Refs: map[string]string{}}
	// Each service as recorded (sealed), by the hash of its bytes.
	var raws [][2][]byte
	err = t.kv.Scan(bucketServices, nil, false, func(k, raw []byte) bool {
		sum := sha256.Sum256(raw)
		key := hex.EncodeToString(sum[:16])
		v.Refs[string(k)] = key
		raws = append(raws, [2][]byte{[]byte(key), append([]byte(nil), raw...)})
		return true
	})
	if err != nil {
		return err
	}
	for _, r := range raws {
		if have, err := t.kv.Get(bucketSnapshots, r[0]); err != nil {
			return err
		} else if have == nil {
			if err := t.kv.Put(bucketSnapshots, r[0], r[1]); err != nil {
				return err
			}
		}
	}
	if err := t.putJSON(bucketVersions, itob(v.Serial), v); err != nil {
		return err
	}
	if v.Serial <= versionsKept {
		return nil
	}
	var old [][]byte
	_ = t.kv.Scan(bucketVersions, nil, false, func(k, _ []byte) bool {
		if len(k) == 8 && binary.BigEndian.Uint64(k) <= v.Serial-versionsKept {
			old = append(old, append([]byte(nil), k...))
			return true
		}
		return false
	})
	for _, k := range old {
		if err := t.kv.Delete(bucketVersions, k); err != nil {
			return err
		}
	}
	if v.Serial%snapshotSweepEvery == 0 {
		return t.sweepSnapshots()
	}
	return nil
}

// sweepSnapshots removes the snapshots no kept version refers to.
func (t *Tx) sweepSnapshots() error {
	used := map[string]bool{}
	var err error
	scanErr := t.kv.Scan(bucketVersions, nil, false, func(_, raw []byte) bool {
		var sv storedVersion
		if err = json.Unmarshal(raw, &sv); err != nil {
			return false
		}
		for _, key := range sv.Refs {
			used[key] = true
		}
		return true
	})
	if err := errors.Join(scanErr, err); err != nil {
		return err
	}
	var unused [][]byte
	_ = t.kv.Scan(bucketSnapshots, nil, false, func(k, _ []byte) bool {
		if !used[string(k)] {
			unused = append(unused, append([]byte(nil), k...))
		}
		return true
	})
	for _, k := range unused {
		if err := t.kv.Delete(bucketSnapshots, k); err != nil {
			return err
		}
	}
	return nil
}

// Versions returns the serials and times of the versions kept, newest
// first.
func (t *Tx) Versions() ([]Version, error) {
	var out []Version
	var err error
	scanErr := t.kv.Scan(bucketVersions, nil, true, func(_, raw []byte) bool {
		var v Version
		if err = json.Unmarshal(raw, &v); err != nil {
			return false
		}
		out = append(out, Version{Serial: v.Serial, Lineage: v.Lineage, Time: v.Time})
		return true
	})
	return out, errors.Join(scanErr, err)
}

// Version returns what was applied at serial, or ErrNotFound when that
// version is no longer kept.
func (t *Tx) Version(serial uint64) (Version, error) {
	var v Version
	raw, err := t.kv.Get(bucketVersions, itob(serial))
	if err != nil {
		return v, err
	}
	if raw == nil {
		return v, fmt.Errorf("version %d: %w (the last %d are kept)", serial, ErrNotFound, versionsKept)
	}
	var sv storedVersion
	if err := json.Unmarshal(raw, &sv); err != nil {
		return v, err
	}
	v = sv.Version
	names := slices.Sorted(maps.Keys(sv.Refs))
	for _, name := range names {
		snap, err := t.kv.Get(bucketSnapshots, []byte(sv.Refs[name]))
		if err != nil {
			return v, err
		}
		if snap == nil {
			return v, fmt.Errorf("version %d: the snapshot of service %q is missing", serial, name)
		}
		var svc Service
		if err := json.Unmarshal(snap, &svc); err != nil {
			return v, fmt.Errorf("version %d: service %q: %w", serial, name, err)
		}
		v.Services = append(v.Services, svc)
	}
	for i := range v.Services {
		if v.Services[i].Spec, err = t.sealer.open(v.Services[i].Spec); err != nil {
			return v, err
		}
	}
	return v, nil
}
