// Package kv defines portalo's keyed-state store: sessions, accounts, rate
// limit counters, queues and every other small piece of state that must
// survive a restart and, with several nodes, be shared between them.
//
// Two implementations satisfy Store: boltkv (an embedded file in the data
// directory) and rediskv (a Redis server). kvtest holds the contract test
// suite that both must pass.
package kv

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound is returned when a key does not exist or has expired.
	ErrNotFound = errors.New("kv: key not found")
	// ErrConflict is returned by Update when the key kept changing under it
	// and the update could not be applied after many attempts.
	ErrConflict = errors.New("kv: update conflict, too much contention")
)

// UpdateFunc receives the current value of a key (found is false when the
// key is absent) and returns the value to store. Returning a nil next value
// deletes the key. ttl > 0 sets the expiry of the stored value; ttl == 0
// stores it without expiry. A non-nil error aborts the update and is returned
// unchanged by Update. The function may run more than once; it must not have
// side effects outside its return values.
type UpdateFunc func(cur []byte, found bool) (next []byte, ttl time.Duration, err error)

// Store is a small key-value store with expiry, atomic read-modify-write,
// counters and string sets. Keys are arbitrary non-empty strings; by
// convention they are colon-separated ("account:ID"). A ttl of 0 means the
// value never expires. Implementations are safe for concurrent use, also
// from several processes sharing the same backend where the backend allows.
type Store interface {
	// Get returns the value at key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value at key, replacing any previous value and expiry.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Create stores value at key only if the key does not exist yet and
	// reports whether it did.
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Update atomically replaces the value at key with what fn returns.
	Update(ctx context.Context, key string, fn UpdateFunc) error
	// Delete removes the keys (values, counters or sets); absent keys are
	// not an error.
	Delete(ctx context.Context, keys ...string) error
	// Touch sets a new expiry on an existing key (sliding expiry), or
	// returns ErrNotFound.
	Touch(ctx context.Context, key string, ttl time.Duration) error
	// Incr adds one to the counter at key and returns the new count. A new
	// counter starts at 1 and expires after ttl; incrementing does not
	// extend the expiry (a fixed window, for rate limits).
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// AddMember adds member to the set at key.
	AddMember(ctx context.Context, key, member string) error
	// RemoveMember removes member from the set at key; removing the last
	// member removes the set.
	RemoveMember(ctx context.Context, key, member string) error
	// Members returns the members of the set at key, sorted; an absent set
	// is empty, not an error.
	Members(ctx context.Context, key string) ([]string, error)
	// Keys returns the keys of values (not counters or sets) that start
	// with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources and stops its goroutines.
	Close() error
}
