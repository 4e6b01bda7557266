package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
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
}

func (t *Tx) keepVersion() error {
	lbs, err := t.LoadBalancers()
	if err != nil {
		return err
	}
	svcs, err := t.Services()
	if err != nil {
		return err
	}
	for i := range svcs {
		if svcs[i].Spec, err = t.sealer.seal(svcs[i].Spec); err != nil {
			return err
		}
	}
	v := Version{Serial: t.Serial(), Lineage: t.Lineage(), Time: t.now(), LoadBalancers: lbs, Services: svcs}
	if err := t.putJSON(bucketVersions, itob(v.Serial), v); err != nil {
		return err
	}
	if v.Serial > versionsKept {
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
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, err
	}
	for i := range v.Services {
		if v.Services[i].Spec, err = t.sealer.open(v.Services[i].Spec); err != nil {
			return v, err
		}
	}
	return v, nil
}
