package state

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

var keyDNSZones = []byte("dns_zones")

// DNSZones returns the DNS zones as last applied. Their TSIG secrets are
// kept in the state so that a restarted server can publish records
// again, sealed with the state's key as every sensitive value is.
func (t *Tx) DNSZones() ([]spec.DNSZone, error) {
	var zones []spec.DNSZone
	v, err := t.kv.Get(bucketMeta, keyDNSZones)
	if err != nil || v == nil {
		return nil, err
	}
	if err := json.Unmarshal(v, &zones); err != nil {
		return nil, fmt.Errorf("decode dns zones: %w", err)
	}
	for i, z := range zones {
		if z.Update == nil {
			continue
		}
		u := *z.Update
		if u.KeySecret, err = t.sealer.openString(secretAD(z), u.KeySecret); err != nil {
			return nil, fmt.Errorf("dns_zone %s: update.key_secret: %w", z.Name, err)
		}
		zones[i].Update = &u
	}
	return zones, nil
}

// SetDNSZones records the DNS zones as applied.
func (t *Tx) SetDNSZones(zones []spec.DNSZone) error {
	sealed := make([]spec.DNSZone, len(zones))
	for i, z := range zones {
		if z.Update != nil {
			u := *z.Update
			var err error
			if u.KeySecret, err = t.sealer.sealString(secretAD(z), u.KeySecret); err != nil {
				return err
			}
			z.Update = &u
		}
		sealed[i] = z
	}
	if err := t.putJSON(bucketMeta, keyDNSZones, sealed); err != nil {
		return err
	}
	return t.bumpSerial()
}

// secretAD binds a sealed TSIG secret to its zone, so that it cannot be
// moved to another.
func secretAD(z spec.DNSZone) []byte { return []byte("dns_zone/" + z.Name + "/update.key_secret") }

// sealString encrypts v, bound to ad; without a sealer v is kept as it is.
func (sl *sealer) sealString(ad []byte, v string) (string, error) {
	if sl == nil || strings.HasPrefix(v, sealedPrefix) {
		return v, nil
	}
	nonce := make([]byte, sl.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(sl.aead.Seal(nonce, nonce, []byte(v), ad)), nil
}

// openString decrypts what sealString made.
func (sl *sealer) openString(ad []byte, v string) (string, error) {
	enc, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return v, nil
	}
	if sl == nil {
		return "", fmt.Errorf("it is sealed, and this store has no key")
	}
	ct, err := base64.RawStdEncoding.DecodeString(enc)
	n := sl.aead.NonceSize()
	if err != nil || len(ct) < n {
		return "", fmt.Errorf("the sealed value is damaged")
	}
	pt, err := sl.aead.Open(nil, ct[:n], ct[n:], ad)
	if err != nil {
		return "", fmt.Errorf("it cannot be unsealed with the state's key (%s): was the key replaced?", KeySuffix)
	}
	return string(pt), nil
}
