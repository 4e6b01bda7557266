package state

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/teal-deploy/teal/internal/spec"
)

// KeySuffix names the key beside a state file that seals its sensitive
// values: state.db.key.
const KeySuffix = ".key"

// sealedPrefix starts a sealed value in the state.
const sealedPrefix = "teal:sealed:v1:"

// sealer encrypts the sensitive values of services (those that came from
// sensitive variables) as they are written to the state, and decrypts
// them as they are read, with AES-256-GCM. The key is a file of its own
// beside the state: a copy of the state (its backup, a file attached to a
// bug report) shows no secret, though someone who can read the whole data
// directory can read both.
type sealer struct{ aead cipher.AEAD }

// loadSealer reads the key at path, making one (mode 0600) on first use.
func loadSealer(path string) (*sealer, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("state key %s: %w", path, err)
		}
		_, err = f.Write(key)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("state key %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("state key %s: %w", path, err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("state key %s: %d bytes, want 32: it is not the key teal made", path, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns s with its sensitive values encrypted. Without a sealer
// (a store on another backend) s is kept as it is.
func (sl *sealer) seal(s spec.Service) (spec.Service, error) {
	if sl == nil {
		return s, nil
	}
	return s.MapSensitive(func(path, v string) (string, error) {
		if strings.HasPrefix(v, sealedPrefix) {
			return v, nil
		}
		nonce := make([]byte, sl.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return "", err
		}
		ct := sl.aead.Seal(nonce, nonce, []byte(v), []byte(s.Name+"/"+path))
		return sealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
	})
}

// open returns s with its sealed values decrypted.
func (sl *sealer) open(s spec.Service) (spec.Service, error) {
	return s.MapSensitive(func(path, v string) (string, error) {
		enc, ok := strings.CutPrefix(v, sealedPrefix)
		if !ok {
			return v, nil // written before values were sealed
		}
		if sl == nil {
			return "", fmt.Errorf("service %s: %s is sealed, and this store has no key", s.Name, path)
		}
		ct, err := base64.RawStdEncoding.DecodeString(enc)
		if err != nil || len(ct) < sl.aead.NonceSize() {
			return "", fmt.Errorf("service %s: %s: the sealed value is damaged", s.Name, path)
		}
		n := sl.aead.NonceSize()
		pt, err := sl.aead.Open(nil, ct[:n], ct[n:], []byte(s.Name+"/"+path))
		if err != nil {
			return "", fmt.Errorf("service %s: %s: cannot be unsealed with the state's key (%s): was the key replaced?", s.Name, path, KeySuffix)
		}
		return string(pt), nil
	})
}
