package state

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teal-deploy/teal/internal/spec"
)

// ErrNotFound is returned for a service, revision or deployment that is not
// recorded.
var ErrNotFound = errors.New("not found")

var (
	keyFormat        = []byte("format")
	keySerial        = []byte("serial")
	keyLineage       = []byte("lineage")
	keyLoadBalancers = []byte("load_balancers")
)

// versionsKept is how many earlier versions of what was applied are kept.
const versionsKept = 100

// DefaultEventsKept is how many events a store keeps unless told
// otherwise: the oldest go, so that the log cannot fill the disk.
const DefaultEventsKept = 50000

// Store is teal's state, kept in a Backend.
type Store struct {
	b          Backend
	now        func() time.Time
	eventsKept int
	backups    *backups // nil for a backend that keeps none
	sealer     *sealer  // nil: sensitive values are kept as they are
}

// backups keeps a copy of a state file beside it, written before a write
// when what is applied has changed since the last copy and that copy is
// older than backupSoon, or when the last copy is older than backupEvery:
// a copy of the whole file on every write would cost more than the
// writes, and a thousand deployments switching at once would each copy.
type backups struct {
	mu      sync.Mutex
	b       interface{ Backup(dst string) error }
	path    string
	last    time.Time
	applied atomic.Bool // what is applied changed since the last copy
	err     error
}

const (
	backupSoon  = 5 * time.Second
	backupEvery = time.Minute
)

// before writes a backup if one is due and no other write is making one;
// a failure (a full disk) is kept for Store.BackupError and does not stop
// the write, which fails on its own if it must.
func (bk *backups) before(now time.Time) {
	if !bk.mu.TryLock() {
		return // another write is making the copy
	}
	defer bk.mu.Unlock()
	age := now.Sub(bk.last)
	if !(bk.applied.Load() && age >= backupSoon) && age < backupEvery {
		return
	}
	bk.applied.Store(false) // a change from here on is after this copy
	bk.err = bk.b.Backup(bk.path)
	if bk.err == nil {
		bk.last = now
	} else {
		bk.applied.Store(true)
	}
}

// KeepEvents sets how many events the store keeps; older ones are
// forgotten as new ones come.
func (s *Store) KeepEvents(n int) { s.eventsKept = max(n, 1) }

// Open opens or creates the state file at path, in bbolt. It fails with
// ErrLocked when another process has it open.
// Every record is read and checked first: a damaged file fails with a
// *CorruptError that says how to go back to the backup, which is written
// beside it (path + BackupSuffix) when it opens and before writes.
func Open(path string) (*Store, error) {
	b, err := OpenBolt(path)
	if err != nil {
		return nil, err
	}
	if err := b.View(checkRecords); err != nil {
		b.Close()
		return nil, corrupt(path, err)
	}
	s, err := New(b)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("state %s: %w; move the file aside to start with an empty state", path, err)
	}
	if s.sealer, err = loadSealer(path + KeySuffix); err != nil {
		b.Close()
		return nil, err
	}
	bk := &backups{b: b.(*boltBackend), path: path + BackupSuffix}
	bk.applied.Store(true)
	bk.before(time.Now())
	s.backups = bk
	return s, nil
}

// BackupError returns why the last backup could not be written, or nil.
func (s *Store) BackupError() error {
	if s.backups == nil {
		return nil
	}
	s.backups.mu.Lock()
	defer s.backups.mu.Unlock()
	return s.backups.err
}

// Format is the version of the layout a Store writes in its backend.
const Format = 2

// ErrFormat is returned for a state written in a layout this teal does
// not read.
var ErrFormat = errors.New("the state is in a format this teal does not read")

// New returns a store kept in b: a new one gets the current format and a
// lineage; an old one must be in the current format.
func New(b Backend) (*Store, error) {
	s := &Store{b: b, now: time.Now, eventsKept: DefaultEventsKept}
	err := b.Update(func(kv KV) error {
		f, err := kv.Get(bucketMeta, keyFormat)
		if err != nil {
			return err
		}
		lineage, err := kv.Get(bucketMeta, keyLineage)
		if err != nil {
			return err
		}
		switch {
		case f == nil && lineage != nil:
			return fmt.Errorf("%w: it was written by an earlier teal (format 1), and this one reads format %d", ErrFormat, Format)
		case f != nil && string(f) != strconv.Itoa(Format):
			return fmt.Errorf("%w: format %s, and this one reads format %d", ErrFormat, f, Format)
		case f != nil:
			return nil
		}
		raw := make([]byte, 16)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		if err := kv.Put(bucketMeta, keyFormat, []byte(strconv.Itoa(Format))); err != nil {
			return err
		}
		return kv.Put(bucketMeta, keyLineage, []byte(hex.EncodeToString(raw)))
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.b.Close() }

// Update runs f in one read-write transaction: everything f writes is
// stored, durably, or nothing is. When f changed what is applied, a copy
// of it is kept as a version under the new serial.
func (s *Store) Update(f func(*Tx) error) error {
	if s.backups != nil {
		s.backups.before(s.now())
	}
	bumped := false
	err := s.b.Update(func(kv KV) error {
		tx := &Tx{kv: kv, now: s.now, eventsKept: s.eventsKept, sealer: s.sealer}
		if err := f(tx); err != nil {
			return err
		}
		if tx.bumped {
			bumped = true
			return tx.keepVersion()
		}
		return nil
	})
	if err == nil && bumped && s.backups != nil {
		s.backups.applied.Store(true)
	}
	return err
}

// View runs f in a read-only transaction that sees one consistent state.
func (s *Store) View(f func(*Tx) error) error {
	return s.b.View(func(kv KV) error { return f(&Tx{kv: kv, now: s.now, eventsKept: s.eventsKept, sealer: s.sealer}) })
}

// Tx is one transaction on the store.
type Tx struct {
	kv         KV
	now        func() time.Time
	bumped     bool
	eventsKept int
	sealer     *sealer
}

// Serial returns a number that grows with every change to what has been
// applied (services and load balancers). A plan records it, and an apply
// of that plan refuses to run when it has moved.
func (t *Tx) Serial() uint64 {
	v, _ := t.kv.Get(bucketMeta, keySerial)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Lineage returns the store's identity, made when it was created: a saved
// plan applies only to the state it was made from.
func (t *Tx) Lineage() string {
	v, _ := t.kv.Get(bucketMeta, keyLineage)
	return string(v)
}

func (t *Tx) bumpSerial() error {
	t.bumped = true
	return t.kv.Put(bucketMeta, keySerial, itob(t.Serial()+1))
}

// LoadBalancers returns the load balancers as last applied.
func (t *Tx) LoadBalancers() ([]spec.LoadBalancer, error) {
	var lbs []spec.LoadBalancer
	v, err := t.kv.Get(bucketMeta, keyLoadBalancers)
	if err != nil || v == nil {
		return nil, err
	}
	if err := json.Unmarshal(v, &lbs); err != nil {
		return nil, fmt.Errorf("decode load balancers: %w", err)
	}
	return lbs, nil
}

// SetLoadBalancers records the load balancers as applied.
func (t *Tx) SetLoadBalancers(lbs []spec.LoadBalancer) error {
	if err := t.putJSON(bucketMeta, keyLoadBalancers, lbs); err != nil {
		return err
	}
	return t.bumpSerial()
}

// Services returns every recorded service, sorted by name.
func (t *Tx) Services() ([]Service, error) {
	var out []Service
	err := t.scanJSON(bucketServices, nil, func(v []byte) error {
		var s Service
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode service: %w", err)
		}
		var err error
		if s.Spec, err = t.sealer.open(s.Spec); err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Service returns the service named name, or ErrNotFound.
func (t *Tx) Service(name string) (Service, error) {
	var s Service
	v, err := t.kv.Get(bucketServices, []byte(name))
	if err != nil {
		return s, err
	}
	if v == nil {
		return s, fmt.Errorf("service %q: %w", name, ErrNotFound)
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("decode service %q: %w", name, err)
	}
	s.Spec, err = t.sealer.open(s.Spec)
	return s, err
}

// PutService records s, stamping when it was created and changed.
func (t *Tx) PutService(s Service) error {
	now := t.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.UpdatedAt = now
	var err error
	if s.Spec, err = t.sealer.seal(s.Spec); err != nil {
		return err
	}
	if err := t.putJSON(bucketServices, []byte(s.Name), s); err != nil {
		return err
	}
	return t.bumpSerial()
}

// DeleteService forgets a service. Its revisions and deployments stay, as
// history, and its revision numbers are not reused.
func (t *Tx) DeleteService(name string) error {
	if err := t.kv.Delete(bucketServices, []byte(name)); err != nil {
		return err
	}
	return t.bumpSerial()
}

// CreateRevision records a new revision of a service from sp and returns
// it with its number.
func (t *Tx) CreateRevision(sp spec.Service) (Revision, error) {
	n, err := t.kv.Next(bucketRevisions + "/" + sp.Name)
	if err != nil {
		return Revision{}, err
	}
	r := Revision{Service: sp.Name, Number: int(n), Version: sp.Version, Hash: sp.Template().Hash(), Spec: sp, CreatedAt: t.now()}
	return r, t.PutRevision(r)
}

// PutRevision records r again: only to mark what CreateRevision made.
func (t *Tx) PutRevision(r Revision) error {
	var err error
	if r.Spec, err = t.sealer.seal(r.Spec); err != nil {
		return err
	}
	return t.putJSON(bucketRevisions, childKey(r.Service, uint64(r.Number)), r)
}

// Revision returns revision n of a service, or ErrNotFound.
func (t *Tx) Revision(service string, n int) (Revision, error) {
	var r Revision
	if n <= 0 {
		return r, fmt.Errorf("service %q: revision %d: %w", service, n, ErrNotFound)
	}
	v, err := t.kv.Get(bucketRevisions, childKey(service, uint64(n)))
	if err != nil {
		return r, err
	}
	if v == nil {
		return r, fmt.Errorf("service %q: revision %d: %w", service, n, ErrNotFound)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, err
	}
	r.Spec, err = t.sealer.open(r.Spec)
	return r, err
}

// DeleteRevision forgets a revision, beyond the history limit. Its
// number is not reused.
func (t *Tx) DeleteRevision(service string, n int) error {
	return t.kv.Delete(bucketRevisions, childKey(service, uint64(n)))
}

// Revisions returns every revision of a service, oldest first.
func (t *Tx) Revisions(service string) ([]Revision, error) {
	var out []Revision
	err := t.scanJSON(bucketRevisions, childPrefix(service), func(v []byte) error {
		var r Revision
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		var err error
		if r.Spec, err = t.sealer.open(r.Spec); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// NextRevision returns the number the next revision of a service will get.
func (t *Tx) NextRevision(service string) int {
	n, _ := t.kv.Current(bucketRevisions + "/" + service)
	return int(n) + 1
}

// CreateDeployment records a new deployment and returns it with its ID.
func (t *Tx) CreateDeployment(d Deployment) (Deployment, error) {
	n, err := t.kv.Next(bucketDeployments + "/" + d.Service)
	if err != nil {
		return d, err
	}
	d.ID = int(n)
	if d.StartedAt.IsZero() {
		d.StartedAt = t.now()
	}
	return d, t.putJSON(bucketDeployments, childKey(d.Service, n), d)
}

// PutDeployment records the current state of a deployment made by
// CreateDeployment.
func (t *Tx) PutDeployment(d Deployment) error {
	key := childKey(d.Service, uint64(d.ID))
	if v, err := t.kv.Get(bucketDeployments, key); err != nil || v == nil || d.ID <= 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("service %q: deployment %d: %w", d.Service, d.ID, ErrNotFound)
	}
	return t.putJSON(bucketDeployments, key, d)
}

// Deployments returns every deployment of a service, oldest first.
func (t *Tx) Deployments(service string) ([]Deployment, error) {
	var out []Deployment
	err := t.scanJSON(bucketDeployments, childPrefix(service), func(v []byte) error {
		var d Deployment
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// RunningDeployments returns the deployments of every service that have
// not finished: after a crash, the ones to settle.
func (t *Tx) RunningDeployments() ([]Deployment, error) {
	var out []Deployment
	err := t.scanJSON(bucketDeployments, nil, func(v []byte) error {
		var d Deployment
		if err := json.Unmarshal(v, &d); err != nil {
			return err
		}
		if d.Status == Running {
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// PutInstance records a running instance.
func (t *Tx) PutInstance(in Instance) error {
	return t.putJSON(bucketInstances, []byte(in.ID), in)
}

// DeleteInstance forgets an instance that has stopped.
func (t *Tx) DeleteInstance(id string) error {
	return t.kv.Delete(bucketInstances, []byte(id))
}

// Instances returns every recorded instance, sorted by ID.
func (t *Tx) Instances() ([]Instance, error) {
	var out []Instance
	err := t.scanJSON(bucketInstances, nil, func(v []byte) error {
		var in Instance
		if err := json.Unmarshal(v, &in); err != nil {
			return err
		}
		out = append(out, in)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// AppendEvent records e at the end of the event log and returns it with
// its sequence number and time.
func (t *Tx) AppendEvent(e Event) (Event, error) {
	n, err := t.kv.Next(bucketEvents)
	if err != nil {
		return e, err
	}
	e.Seq = n
	if e.Time.IsZero() {
		e.Time = t.now()
	}
	if err := t.putJSON(bucketEvents, itob(n), e); err != nil {
		return e, err
	}
	if keep := uint64(t.eventsKept); keep > 0 && n > keep && n%64 == 0 {
		if err := t.forgetEvents(n - keep); err != nil {
			return e, err
		}
	}
	return e, nil
}

// forgetEvents deletes the events up to sequence number upTo.
func (t *Tx) forgetEvents(upTo uint64) error {
	var old [][]byte
	err := t.kv.Scan(bucketEvents, nil, false, func(k, _ []byte) bool {
		if binary.BigEndian.Uint64(k) > upTo {
			return false
		}
		old = append(old, append([]byte(nil), k...))
		return true
	})
	for _, k := range old {
		if err == nil {
			err = t.kv.Delete(bucketEvents, k)
		}
	}
	return err
}

// Events returns up to limit events after sequence number after, oldest
// first.
func (t *Tx) Events(after uint64, limit int) ([]Event, error) {
	var out []Event
	var err error
	scanErr := t.kv.Scan(bucketEvents, itob(after+1), false, func(_, v []byte) bool {
		if len(out) >= limit {
			return false
		}
		var e Event
		if err = json.Unmarshal(v, &e); err != nil {
			return false
		}
		out = append(out, e)
		return true
	})
	return out, errors.Join(scanErr, err)
}

// LastEvents returns the last n events of one service (all when service
// is ""), oldest first.
func (t *Tx) LastEvents(n int, service string) ([]Event, error) {
	var out []Event
	var err error
	scanErr := t.kv.Scan(bucketEvents, nil, true, func(_, v []byte) bool {
		if len(out) >= n {
			return false
		}
		var e Event
		if err = json.Unmarshal(v, &e); err != nil {
			return false
		}
		if service == "" || e.Service == service {
			out = append(out, e)
		}
		return true
	})
	slices.Reverse(out)
	return out, errors.Join(scanErr, err)
}

// scanJSON calls f with each value of bucket whose key starts with prefix.
func (t *Tx) scanJSON(bucket string, prefix []byte, f func(v []byte) error) error {
	var err error
	scanErr := t.kv.Scan(bucket, prefix, false, func(k, v []byte) bool {
		if !bytes.HasPrefix(k, prefix) {
			return false
		}
		err = f(v)
		return err == nil
	})
	return errors.Join(scanErr, err)
}

func (t *Tx) putJSON(bucket string, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.kv.Put(bucket, key, data)
}

// childKey is the key of record n of a service: the service's name, a NUL
// (which no name holds), and n big-endian, so that a service's records
// sort together and in order.
func childKey(service string, n uint64) []byte {
	return append(childPrefix(service), itob(n)...)
}

func childPrefix(service string) []byte { return append([]byte(service), 0) }

// itob encodes n big-endian, so that keys sort in numeric order.
func itob(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}
