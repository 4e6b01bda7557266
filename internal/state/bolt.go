package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// ErrLocked is returned by Open when another server holds the state file.
var ErrLocked = errors.New("state file is in use by another teal server")

// boltBackend keeps the state in one bbolt file: transactions fsynced on
// commit, and a file lock that keeps two servers off one file.
type boltBackend struct{ db *bolt.DB }

var _ Backend = (*boltBackend)(nil)

const bucketSequences = "sequences"

// OpenBolt opens or creates the bbolt file at path. It fails with
// ErrLocked when another process has it open, and with a *CorruptError
// when the file is damaged.
func OpenBolt(path string) (Backend, error) {
	if st, err := os.Stat(path); err == nil && st.Size() == 0 {
		if _, err := os.Stat(path + BackupSuffix); err == nil {
			// A new file is never empty once opened: this one was emptied.
			return nil, corrupt(path, errors.New("it is empty"))
		}
	}
	db, err := openVerified(path)
	var damaged *CorruptError
	var perr *os.PathError
	switch {
	case errors.Is(err, bolt.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	case errors.As(err, &damaged):
		return nil, err
	case errors.As(err, &perr):
		return nil, fmt.Errorf("open state %s: %w", path, err)
	case err != nil:
		return nil, corrupt(path, err) // bbolt's own word: invalid database, checksum error …
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append(Buckets, bucketSequences) {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise state %s: %w", path, err)
	}
	return &boltBackend{db: db}, nil
}

// Backup writes a consistent copy of the database to dst, through a
// temporary file renamed into place, so that dst is always whole.
func (b *boltBackend) Backup(dst string) error {
	return b.db.View(func(tx *bolt.Tx) error {
		tmp := dst + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		_, err = tx.WriteTo(f)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
			return err
		}
		return os.Rename(tmp, dst)
	})
}

func (b *boltBackend) Update(f func(KV) error) error {
	return b.db.Update(func(tx *bolt.Tx) error { return f(boltKV{tx}) })
}

func (b *boltBackend) View(f func(KV) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return f(boltKV{tx}) })
}

func (b *boltBackend) Close() error { return b.db.Close() }

type boltKV struct{ tx *bolt.Tx }

func (kv boltKV) bucket(name string) (*bolt.Bucket, error) {
	b := kv.tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("no bucket %q", name)
	}
	return b, nil
}

func (kv boltKV) Get(bucket string, key []byte) ([]byte, error) {
	b, err := kv.bucket(bucket)
	if err != nil {
		return nil, err
	}
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	return append([]byte(nil), v...), nil // bbolt's memory is valid only in the transaction
}

func (kv boltKV) Put(bucket string, key, value []byte) error {
	b, err := kv.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

func (kv boltKV) Delete(bucket string, key []byte) error {
	b, err := kv.bucket(bucket)
	if err != nil {
		return err
	}
	return b.Delete(key)
}

func (kv boltKV) Scan(bucket string, from []byte, reverse bool, f func(k, v []byte) bool) error {
	b, err := kv.bucket(bucket)
	if err != nil {
		return err
	}
	c := b.Cursor()
	var k, v []byte
	switch {
	case !reverse && from == nil:
		k, v = c.First()
	case !reverse:
		k, v = c.Seek(from)
	case from == nil:
		k, v = c.Last()
	default:
		k, v = c.Seek(from)
		if k == nil {
			k, v = c.Last()
		} else if string(k) > string(from) {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = step(c, reverse) {
		if !f(k, v) {
			return nil
		}
	}
	return nil
}

func step(c *bolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

func (kv boltKV) Next(sequence string) (uint64, error) {
	b, err := kv.bucket(bucketSequences)
	if err != nil {
		return 0, err
	}
	n := uint64(0)
	if v := b.Get([]byte(sequence)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	return n, b.Put([]byte(sequence), itob(n))
}

func (kv boltKV) Current(sequence string) (uint64, error) {
	b, err := kv.bucket(bucketSequences)
	if err != nil {
		return 0, err
	}
	if v := b.Get([]byte(sequence)); len(v) == 8 {
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, nil
}
