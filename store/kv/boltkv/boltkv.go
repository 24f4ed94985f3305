// Package boltkv is the embedded implementation of kv.Store: all keyed state
// lives in one bbolt file in the data directory, for a single portalo
// process with nothing else installed. It owns that file (locked while open),
// its three buckets (values, counters, sets) and the janitor goroutine that
// removes expired entries.
package boltkv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"portalo/store/kv"
)

const (
	// lockTimeout is how long Open waits for the file lock held by another
	// process before giving up.
	lockTimeout = time.Second
	// janitorInterval is how often expired values and counters are removed.
	janitorInterval = time.Minute
	// headerLen is the length of the expiry header in front of every stored
	// value and counter: Unix nanoseconds, big endian, 0 = never expires.
	headerLen = 8
)

var (
	bucketValues   = []byte("values")
	bucketCounters = []byte("counters")
	// bucketSets holds one entry per member; its key is setPrefix(key)
	// followed by the member, its value is empty.
	bucketSets = []byte("sets")
)

// Store is a kv.Store backed by a bbolt file. It is safe for concurrent use.
type Store struct {
	db        *bolt.DB
	stop      chan struct{} // closed by Close to stop the janitor
	done      chan struct{} // closed by the janitor when it has returned
	closeOnce sync.Once
	closeErr  error
}

var _ kv.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path. If another
// process holds the file, Open fails after about a second with an error
// saying the data directory is in use.
func Open(path string) (*Store, error) {
	return open(path, janitorInterval)
}

func open(path string, sweepEvery time.Duration) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("boltkv: open %s: the data directory is in use by another running portalo (file still locked after %s): %w", path, lockTimeout, err)
		}
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketValues, bucketCounters, bucketSets} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go s.janitor(sweepEvery)
	return s, nil
}

// Close stops the janitor, waits for it and closes the file. Calling Close
// more than once is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltkv: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Store) janitor(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// An error here (disk full, ...) is retried on the next tick;
			// expired entries are invisible to readers in the meantime.
			_ = s.sweep(time.Now())
		}
	}
}

// sweep deletes the expired values and counters.
func (s *Store) sweep(now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketValues, bucketCounters} {
			b := tx.Bucket(name)
			var expired [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if isExpired(v, now) {
					expired = append(expired, bytes.Clone(k))
				}
			}
			for _, k := range expired {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// encode returns the stored form of data: the expiry header then data.
func encode(data []byte, ttl time.Duration, now time.Time) []byte {
	buf := make([]byte, headerLen+len(data))
	var exp int64
	if ttl > 0 {
		exp = now.Add(ttl).UnixNano()
	}
	binary.BigEndian.PutUint64(buf, uint64(exp))
	copy(buf[headerLen:], data)
	return buf
}

func expiry(stored []byte) int64 {
	if len(stored) < headerLen {
		return 0
	}
	return int64(binary.BigEndian.Uint64(stored))
}

func isExpired(stored []byte, now time.Time) bool {
	exp := expiry(stored)
	return exp != 0 && now.UnixNano() >= exp
}

// live returns the data of a stored entry that exists and has not expired.
// The slice points into the transaction's memory.
func live(b *bolt.Bucket, key string, now time.Time) ([]byte, bool) {
	v := b.Get([]byte(key))
	if v == nil || len(v) < headerLen || isExpired(v, now) {
		return nil, false
	}
	return v[headerLen:], true
}

// setPrefix is the prefix of all member entries of the set at key: the
// key's length as a uvarint, then the key, so no set's prefix is a prefix
// of another's.
func setPrefix(key string) []byte {
	p := binary.AppendUvarint(nil, uint64(len(key)))
	return append(p, key...)
}

func checkKey(key string) error {
	if key == "" {
		return errors.New("boltkv: empty key")
	}
	return nil
}

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v, ok := live(tx.Bucket(bucketValues), key, time.Now())
		if !ok {
			return kv.ErrNotFound
		}
		out = bytes.Clone(v)
		if out == nil {
			out = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Set implements kv.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	stored := encode(value, ttl, time.Now())
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketValues).Put([]byte(key), stored)
	})
	if err != nil {
		return fmt.Errorf("boltkv: set %q: %w", key, err)
	}
	return nil
}

// Create implements kv.Store.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(key); err != nil {
		return false, err
	}
	created := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketValues)
		now := time.Now()
		if _, ok := live(b, key, now); ok {
			return nil
		}
		created = true
		return b.Put([]byte(key), encode(value, ttl, now))
	})
	if err != nil {
		return false, fmt.Errorf("boltkv: create %q: %w", key, err)
	}
	return created, nil
}

// Update implements kv.Store. fn runs inside one read-write transaction,
// so it runs exactly once and the update is atomic.
func (s *Store) Update(ctx context.Context, key string, fn kv.UpdateFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	var fnErr error
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketValues)
		now := time.Now()
		v, found := live(b, key, now)
		var cur []byte
		if found {
			// fn must not see memory that is only valid inside the tx.
			cur = append([]byte{}, v...)
		}
		next, ttl, err := fn(cur, found)
		if err != nil {
			fnErr = err
			return err
		}
		if next == nil {
			return b.Delete([]byte(key))
		}
		return b.Put([]byte(key), encode(next, ttl, now))
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("boltkv: update %q: %w", key, err)
	}
	return nil
}

// Delete implements kv.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		values, counters, sets := tx.Bucket(bucketValues), tx.Bucket(bucketCounters), tx.Bucket(bucketSets)
		for _, key := range keys {
			if key == "" {
				continue
			}
			if err := values.Delete([]byte(key)); err != nil {
				return err
			}
			if err := counters.Delete([]byte(key)); err != nil {
				return err
			}
			if err := deleteSet(sets, key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltkv: delete: %w", err)
	}
	return nil
}

func deleteSet(sets *bolt.Bucket, key string) error {
	prefix := setPrefix(key)
	var members [][]byte
	c := sets.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		members = append(members, bytes.Clone(k))
	}
	for _, k := range members {
		if err := sets.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Touch implements kv.Store. It applies to values only.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketValues)
		now := time.Now()
		v, ok := live(b, key, now)
		if !ok {
			return kv.ErrNotFound
		}
		return b.Put([]byte(key), encode(v, ttl, now))
	})
	if errors.Is(err, kv.ErrNotFound) {
		return kv.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("boltkv: touch %q: %w", key, err)
	}
	return nil
}

// Incr implements kv.Store. A counter is stored as the expiry header and
// the count (8 bytes, big endian); the expiry is fixed when it starts.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		now := time.Now()
		stored := b.Get([]byte(key))
		var buf []byte
		if v, ok := live(b, key, now); ok && len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v)) + 1
			buf = bytes.Clone(stored)
		} else {
			n = 1
			buf = encode(make([]byte, 8), ttl, now)
		}
		binary.BigEndian.PutUint64(buf[headerLen:], uint64(n))
		return b.Put([]byte(key), buf)
	})
	if err != nil {
		return 0, fmt.Errorf("boltkv: incr %q: %w", key, err)
	}
	return n, nil
}

// AddMember implements kv.Store.
func (s *Store) AddMember(ctx context.Context, key, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSets).Put(append(setPrefix(key), member...), []byte{})
	})
	if err != nil {
		return fmt.Errorf("boltkv: add member to %q: %w", key, err)
	}
	return nil
}

// RemoveMember implements kv.Store. A set is nothing but its member
// entries, so removing the last member removes the set.
func (s *Store) RemoveMember(ctx context.Context, key, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSets).Delete(append(setPrefix(key), member...))
	})
	if err != nil {
		return fmt.Errorf("boltkv: remove member from %q: %w", key, err)
	}
	return nil
}

// Members implements kv.Store.
func (s *Store) Members(ctx context.Context, key string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var members []string
	err := s.db.View(func(tx *bolt.Tx) error {
		prefix := setPrefix(key)
		c := tx.Bucket(bucketSets).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			members = append(members, string(k[len(prefix):]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: members of %q: %w", key, err)
	}
	return members, nil // bbolt keeps keys sorted bytewise, as strings sort
}

// Keys implements kv.Store.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []string
	err := s.db.View(func(tx *bolt.Tx) error {
		now := time.Now()
		p := []byte(prefix)
		c := tx.Bucket(bucketValues).Cursor()
		k, v := c.First()
		if len(p) > 0 {
			k, v = c.Seek(p)
		}
		for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if !isExpired(v, now) {
				keys = append(keys, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltkv: keys %q: %w", prefix, err)
	}
	return keys, nil
}

// Ping implements kv.Store: it reports whether the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("boltkv: ping: %w", err)
	}
	return nil
}
