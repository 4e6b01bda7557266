package state

// Backend is where a Store keeps its data: ordered keys in named buckets,
// and named sequences, read and written in transactions. It is all a new
// store (PostgreSQL, say) has to provide; the meaning of the records is
// the Store's. Every backend passes the suite in statetest.
type Backend interface {
	// Update runs f in one read-write transaction: all of its writes are
	// kept, durably, or none is.
	Update(f func(KV) error) error
	// View runs f in a read-only transaction that sees one state.
	View(f func(KV) error) error
	Close() error
}

// KV is one transaction's view of a Backend.
type KV interface {
	// Get returns the value of key in bucket, or nil.
	Get(bucket string, key []byte) ([]byte, error)
	Put(bucket string, key, value []byte) error
	Delete(bucket string, key []byte) error
	// Scan calls f with each key and value of bucket in key order,
	// starting at the first key not before from (nil: the first key), or,
	// with reverse, in descending order starting at the last key not
	// after from (nil: the last key); it stops when f returns false.
	Scan(bucket string, from []byte, reverse bool, f func(k, v []byte) bool) error
	// Next returns the next value of a named sequence, starting at 1.
	Next(sequence string) (uint64, error)
	// Current returns the last value Next returned for a sequence, or 0.
	Current(sequence string) (uint64, error)
}

// The buckets a Store uses; a backend creates them as it needs.
const (
	bucketMeta        = "meta"
	bucketServices    = "services"
	bucketRevisions   = "revisions"   // key: service NUL number
	bucketDeployments = "deployments" // key: service NUL id
	bucketInstances   = "instances"
	bucketEvents      = "events"   // key: sequence number
	bucketVersions    = "versions" // key: serial; earlier versions of what was applied
	bucketLocks       = "locks"
	bucketSnapshots   = "snapshots" // key: hash of a service as recorded; what versions refer to
)

// Buckets lists every bucket a Store uses.
var Buckets = []string{bucketMeta, bucketServices, bucketRevisions, bucketDeployments, bucketInstances, bucketEvents, bucketVersions, bucketLocks, bucketSnapshots}
