package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Lock is held by an operation that writes state, so that another finds
// out who is in its way.
type Lock struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`      // what is locked: "apply"
	Operation string    `json:"operation"` // what holds it
	Who       string    `json:"who"`
	Created   time.Time `json:"created"`
}

// LockError is returned to an operation that wants a lock another holds.
type LockError struct{ Held Lock }

func (e *LockError) Error() string {
	return fmt.Sprintf("the state is locked by %s (%s, since %s, lock ID %s); it is released when that ends, or by `teal force-unlock %s`",
		e.Held.Operation, e.Held.Who, e.Held.Created.Format(time.DateTime), e.Held.ID, e.Held.ID)
}

// Lock takes the lock name for an operation, or fails with a *LockError
// naming who holds it.
func (t *Tx) Lock(name, operation, who string) (Lock, error) {
	raw, err := t.kv.Get(bucketLocks, []byte(name))
	if err != nil {
		return Lock{}, err
	}
	if raw != nil {
		var held Lock
		if err := json.Unmarshal(raw, &held); err != nil {
			return Lock{}, err
		}
		return Lock{}, &LockError{Held: held}
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return Lock{}, err
	}
	l := Lock{ID: hex.EncodeToString(id), Name: name, Operation: operation, Who: who, Created: t.now()}
	return l, t.putJSON(bucketLocks, []byte(name), l)
}

// Unlock releases a lock, if l still holds it.
func (t *Tx) Unlock(l Lock) error {
	raw, err := t.kv.Get(bucketLocks, []byte(l.Name))
	if err != nil || raw == nil {
		return err
	}
	var held Lock
	if err := json.Unmarshal(raw, &held); err != nil {
		return err
	}
	if held.ID != l.ID {
		return nil // force-unlocked, and maybe taken by another since
	}
	return t.kv.Delete(bucketLocks, []byte(l.Name))
}

// Locks returns every lock held.
func (t *Tx) Locks() ([]Lock, error) {
	var out []Lock
	err := t.scanJSON(bucketLocks, nil, func(v []byte) error {
		var l Lock
		if err := json.Unmarshal(v, &l); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// ErrNoLock is returned by ForceUnlock for an ID no lock has.
var ErrNoLock = errors.New("no lock has that ID")

// ForceUnlock removes the lock with the given ID, whoever holds it, as
// terraform force-unlock does: for a lock whose operation will not
// release it.
func (t *Tx) ForceUnlock(id string) (Lock, error) {
	locks, err := t.Locks()
	if err != nil {
		return Lock{}, err
	}
	for _, l := range locks {
		if l.ID == id {
			return l, t.kv.Delete(bucketLocks, []byte(l.Name))
		}
	}
	return Lock{}, fmt.Errorf("lock %s: %w", id, ErrNoLock)
}
