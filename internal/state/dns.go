package state

import (
	"encoding/json"
	"fmt"

	"github.com/teal-deploy/teal/internal/spec"
)

var keyDNSZones = []byte("dns_zones")

// DNSZones returns the DNS zones as last applied. Their TSIG secrets are
// kept here, in the state file the server alone reads (mode 0600 in a
// 0700 directory), so that a restarted server can publish records again.
func (t *Tx) DNSZones() ([]spec.DNSZone, error) {
	var zones []spec.DNSZone
	v, err := t.kv.Get(bucketMeta, keyDNSZones)
	if err != nil || v == nil {
		return nil, err
	}
	if err := json.Unmarshal(v, &zones); err != nil {
		return nil, fmt.Errorf("decode dns zones: %w", err)
	}
	return zones, nil
}

// SetDNSZones records the DNS zones as applied.
func (t *Tx) SetDNSZones(zones []spec.DNSZone) error {
	if err := t.putJSON(bucketMeta, keyDNSZones, zones); err != nil {
		return err
	}
	return t.bumpSerial()
}
