package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/teal-deploy/teal/internal/spec"
)

// BackupSuffix names the backup beside a state file: state.db.backup.
const BackupSuffix = ".backup"

// CorruptError is a state file that cannot be read: cut short, or with
// bytes that are not what teal wrote. Nothing is written to it.
type CorruptError struct {
	Path   string
	Err    error
	Backup string    // the backup beside it, if there is one
	Taken  time.Time // when the backup was written
}

func (e *CorruptError) Error() string {
	msg := fmt.Sprintf("state file %s is damaged (%v); teal will not start on it", e.Path, e.Err)
	if e.Backup == "" {
		return msg + fmt.Sprintf("; there is no backup: move it aside (mv %s %s.damaged) to start with an empty state, then `teal import` what still runs", e.Path, e.Path)
	}
	return msg + fmt.Sprintf("; to go back to the backup written %s, run `mv %s %s.damaged && cp %s %s` and start again: what was recorded after it is lost, and instances started since are not known to teal",
		e.Taken.Local().Format("2006-01-02 15:04:05"), e.Path, e.Path, e.Backup, e.Path)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// corrupt describes damage to path, naming its backup if there is one.
func corrupt(path string, err error) *CorruptError {
	e := &CorruptError{Path: path, Err: err}
	if st, serr := os.Stat(path + BackupSuffix); serr == nil && st.Size() > 0 {
		e.Backup, e.Taken = path+BackupSuffix, st.ModTime()
	}
	return e
}

// sink keeps the compiler from dropping the reads that verify makes.
var sink byte

// openVerified opens the bbolt file at path and reads every key and value
// in it. bbolt maps the file in memory and trusts what it finds: damaged
// pages make it read out of bounds, which is a fault, not an error. The
// reading runs on a goroutine that turns faults into panics (see
// runtime/debug.SetPanicOnFault), and a panic into a *CorruptError.
// (bbolt's own Tx.Check reads on a goroutine of its own, where a fault
// would kill the server, so it is not used.)
func openVerified(path string) (*bolt.DB, error) {
	type result struct {
		db  *bolt.DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		debug.SetPanicOnFault(true)
		var db *bolt.DB
		defer func() {
			if r := recover(); r != nil {
				if db != nil {
					db.Close()
				}
				done <- result{err: corrupt(path, fmt.Errorf("%v", r))}
			}
		}()
		var err error
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			done <- result{err: err}
			return
		}
		if err := verify(db, path); err != nil {
			db.Close()
			done <- result{err: corrupt(path, err)}
			return
		}
		done <- result{db: db}
	}()
	r := <-done
	return r.db, r.err
}

// verify reads every key and value of db, checking that the file holds
// every page the database uses and that keys are in order.
func verify(db *bolt.DB, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		if tx.Size() > st.Size() {
			return fmt.Errorf("it is %d bytes long but its pages reach byte %d: it was cut short", st.Size(), tx.Size())
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			var prev []byte
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if prev != nil && bytes.Compare(k, prev) <= 0 {
					return fmt.Errorf("bucket %q: key %q after %q: keys out of order", name, k, prev)
				}
				for _, x := range k {
					sink ^= x
				}
				for _, x := range v {
					sink ^= x
				}
				prev = k
			}
			return nil
		})
	})
}

// checkRecords reads every record of a store as the type teal wrote:
// damage bbolt cannot see (a changed byte in a value) must stop a server
// at its start, not at some later read. A changed byte inside a text
// (an event's message) cannot be told from what was written.
func checkRecords(kv KV) error {
	types := map[string]func() any{
		bucketServices:    func() any { return new(Service) },
		bucketRevisions:   func() any { return new(Revision) },
		bucketDeployments: func() any { return new(Deployment) },
		bucketInstances:   func() any { return new(Instance) },
		bucketEvents:      func() any { return new(Event) },
		bucketVersions:    func() any { return new(storedVersion) },
		bucketSnapshots:   func() any { return new(Service) },
		bucketLocks:       func() any { return new(Lock) },
	}
	for _, bucket := range Buckets {
		var bad error
		err := kv.Scan(bucket, nil, false, func(k, v []byte) bool {
			var into any
			switch {
			case bucket == bucketMeta && bytes.Equal(k, keyLoadBalancers):
				into = new([]spec.LoadBalancer)
			case bucket == bucketMeta:
				return true // numbers and names, not JSON
			default:
				into = types[bucket]()
			}
			if err := json.Unmarshal(v, into); err != nil {
				bad = fmt.Errorf("bucket %q: record %q: %v", bucket, k, err)
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if bad != nil {
			return bad
		}
	}
	return nil
}
