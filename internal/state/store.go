package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/teal-deploy/teal/internal/spec"
)

// ErrNotFound is returned for a service, revision or deployment that is not
// recorded.
var ErrNotFound = errors.New("not found")

// ErrLocked is returned by Open when another server holds the state file.
var ErrLocked = errors.New("state file is in use by another teal server")

var (
	bucketMeta        = []byte("meta")
	bucketServices    = []byte("services")
	bucketRevisions   = []byte("revisions")   // one nested bucket per service
	bucketDeployments = []byte("deployments") // one nested bucket per service
	bucketInstances   = []byte("instances")
	bucketEvents      = []byte("events")

	keySerial        = []byte("serial")
	keyLoadBalancers = []byte("load_balancers")
)

// Store is the state kept in one bbolt file.
type Store struct {
	db  *bolt.DB
	now func() time.Time
}

// Open opens or creates the state file at path. It fails with ErrLocked
// when another process has it open.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketServices, bucketRevisions, bucketDeployments, bucketInstances, bucketEvents} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialise state %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Update runs f in one read-write transaction: everything f writes is
// stored, durably, or nothing is.
func (s *Store) Update(f func(*Tx) error) error {
	return s.db.Update(func(btx *bolt.Tx) error { return f(&Tx{tx: btx, now: s.now}) })
}

// View runs f in a read-only transaction that sees one consistent state.
func (s *Store) View(f func(*Tx) error) error {
	return s.db.View(func(btx *bolt.Tx) error { return f(&Tx{tx: btx, now: s.now}) })
}

// Tx is one transaction on the store.
type Tx struct {
	tx  *bolt.Tx
	now func() time.Time
}

// Serial returns a number that grows with every change to what has been
// applied (services and load balancers). A plan records it, and an apply
// of that plan refuses to run when it has moved.
func (t *Tx) Serial() uint64 {
	v := t.tx.Bucket(bucketMeta).Get(keySerial)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (t *Tx) bumpSerial() error {
	return t.tx.Bucket(bucketMeta).Put(keySerial, itob(t.Serial()+1))
}

// LoadBalancers returns the load balancers as last applied.
func (t *Tx) LoadBalancers() ([]spec.LoadBalancer, error) {
	var lbs []spec.LoadBalancer
	v := t.tx.Bucket(bucketMeta).Get(keyLoadBalancers)
	if v == nil {
		return nil, nil
	}
	if err := json.Unmarshal(v, &lbs); err != nil {
		return nil, fmt.Errorf("decode load balancers: %w", err)
	}
	return lbs, nil
}

// SetLoadBalancers records the load balancers as applied.
func (t *Tx) SetLoadBalancers(lbs []spec.LoadBalancer) error {
	if err := putJSON(t.tx.Bucket(bucketMeta), keyLoadBalancers, lbs); err != nil {
		return err
	}
	return t.bumpSerial()
}

// Services returns every recorded service, sorted by name.
func (t *Tx) Services() ([]Service, error) {
	var out []Service
	err := t.tx.Bucket(bucketServices).ForEach(func(k, v []byte) error {
		var s Service
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode service %q: %w", k, err)
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// Service returns the service named name, or ErrNotFound.
func (t *Tx) Service(name string) (Service, error) {
	var s Service
	v := t.tx.Bucket(bucketServices).Get([]byte(name))
	if v == nil {
		return s, fmt.Errorf("service %q: %w", name, ErrNotFound)
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return s, fmt.Errorf("decode service %q: %w", name, err)
	}
	return s, nil
}

// PutService records s, stamping when it was created and changed.
func (t *Tx) PutService(s Service) error {
	now := t.now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.UpdatedAt = now
	if err := putJSON(t.tx.Bucket(bucketServices), []byte(s.Name), s); err != nil {
		return err
	}
	return t.bumpSerial()
}

// DeleteService forgets a service. Its revisions and deployments stay, as
// history, and its revision numbers are not reused.
func (t *Tx) DeleteService(name string) error {
	if err := t.tx.Bucket(bucketServices).Delete([]byte(name)); err != nil {
		return err
	}
	return t.bumpSerial()
}

// CreateRevision records a new revision of a service from sp and returns
// it with its number.
func (t *Tx) CreateRevision(sp spec.Service) (Revision, error) {
	b, err := t.tx.Bucket(bucketRevisions).CreateBucketIfNotExists([]byte(sp.Name))
	if err != nil {
		return Revision{}, err
	}
	n, err := b.NextSequence()
	if err != nil {
		return Revision{}, err
	}
	tmpl := sp.Template()
	r := Revision{Service: sp.Name, Number: int(n), Version: sp.Version, Hash: tmpl.Hash(), Spec: sp, CreatedAt: t.now()}
	return r, putJSON(b, itob(n), r)
}

// Revision returns revision n of a service, or ErrNotFound.
func (t *Tx) Revision(service string, n int) (Revision, error) {
	var r Revision
	b := t.tx.Bucket(bucketRevisions).Bucket([]byte(service))
	var v []byte
	if b != nil && n > 0 {
		v = b.Get(itob(uint64(n)))
	}
	if v == nil {
		return r, fmt.Errorf("service %q: revision %d: %w", service, n, ErrNotFound)
	}
	return r, json.Unmarshal(v, &r)
}

// DeleteRevision forgets a revision, beyond the history limit. Its
// number is not reused.
func (t *Tx) DeleteRevision(service string, n int) error {
	b := t.tx.Bucket(bucketRevisions).Bucket([]byte(service))
	if b == nil {
		return nil
	}
	return b.Delete(itob(uint64(n)))
}

// Revisions returns every revision of a service, oldest first.
func (t *Tx) Revisions(service string) ([]Revision, error) {
	var out []Revision
	err := forEachNested(t.tx.Bucket(bucketRevisions), service, func(v []byte) error {
		var r Revision
		if err := json.Unmarshal(v, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// NextRevision returns the number the next revision of a service will get.
func (t *Tx) NextRevision(service string) int {
	if b := t.tx.Bucket(bucketRevisions).Bucket([]byte(service)); b != nil {
		return int(b.Sequence()) + 1
	}
	return 1
}

// CreateDeployment records a new deployment and returns it with its ID.
func (t *Tx) CreateDeployment(d Deployment) (Deployment, error) {
	b, err := t.tx.Bucket(bucketDeployments).CreateBucketIfNotExists([]byte(d.Service))
	if err != nil {
		return d, err
	}
	n, err := b.NextSequence()
	if err != nil {
		return d, err
	}
	d.ID = int(n)
	if d.StartedAt.IsZero() {
		d.StartedAt = t.now()
	}
	return d, putJSON(b, itob(n), d)
}

// PutDeployment records the current state of a deployment made by
// CreateDeployment.
func (t *Tx) PutDeployment(d Deployment) error {
	b := t.tx.Bucket(bucketDeployments).Bucket([]byte(d.Service))
	if b == nil || d.ID == 0 || b.Get(itob(uint64(d.ID))) == nil {
		return fmt.Errorf("service %q: deployment %d: %w", d.Service, d.ID, ErrNotFound)
	}
	return putJSON(b, itob(uint64(d.ID)), d)
}

// Deployments returns every deployment of a service, oldest first.
func (t *Tx) Deployments(service string) ([]Deployment, error) {
	var out []Deployment
	err := forEachNested(t.tx.Bucket(bucketDeployments), service, func(v []byte) error {
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
// not finished: after a crash, the ones to resume or roll back.
func (t *Tx) RunningDeployments() ([]Deployment, error) {
	var out []Deployment
	err := t.tx.Bucket(bucketDeployments).ForEachBucket(func(k []byte) error {
		return forEachNested(t.tx.Bucket(bucketDeployments), string(k), func(v []byte) error {
			var d Deployment
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			if d.Status == Running {
				out = append(out, d)
			}
			return nil
		})
	})
	return out, err
}

// PutInstance records a running instance.
func (t *Tx) PutInstance(in Instance) error {
	return putJSON(t.tx.Bucket(bucketInstances), []byte(in.ID), in)
}

// DeleteInstance forgets an instance that has stopped.
func (t *Tx) DeleteInstance(id string) error {
	return t.tx.Bucket(bucketInstances).Delete([]byte(id))
}

// Instances returns every recorded instance, sorted by ID.
func (t *Tx) Instances() ([]Instance, error) {
	var out []Instance
	err := t.tx.Bucket(bucketInstances).ForEach(func(_, v []byte) error {
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
	b := t.tx.Bucket(bucketEvents)
	n, err := b.NextSequence()
	if err != nil {
		return e, err
	}
	e.Seq = n
	if e.Time.IsZero() {
		e.Time = t.now()
	}
	return e, putJSON(b, itob(n), e)
}

// Events returns up to limit events after sequence number after, oldest
// first.
func (t *Tx) Events(after uint64, limit int) ([]Event, error) {
	var out []Event
	c := t.tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Seek(itob(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// LastEvents returns the last n events of one service (all when service
// is ""), oldest first.
func (t *Tx) LastEvents(n int, service string) ([]Event, error) {
	var out []Event
	c := t.tx.Bucket(bucketEvents).Cursor()
	for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, err
		}
		if service == "" || e.Service == service {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out, nil
}

func forEachNested(parent *bolt.Bucket, name string, f func(v []byte) error) error {
	b := parent.Bucket([]byte(name))
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, v []byte) error { return f(v) })
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// itob encodes n big-endian, so that keys sort in numeric order.
func itob(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}
