// Package rediskv is the Redis implementation of kv.Store, for state shared
// by several portalo nodes. It owns every Redis key under its prefix, in
// three key-spaces: prefix+"v:"+key for values, prefix+"c:"+key for counters
// and prefix+"s:"+key for sets.
package rediskv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"portalo/store/kv"
)

const (
	// maxAttempts bounds the optimistic transactions of Update.
	maxAttempts = 200
	// maxBackoff caps the jittered pause between two attempts.
	maxBackoff = 20 * time.Millisecond
)

// incrSrc increments a counter and gives it its expiry only when it starts,
// in one atomic step, so no counter can be left without an expiry.
const incrSrc = `
local n = redis.call('INCR', KEYS[1])
if n == 1 and tonumber(ARGV[1]) > 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`

// Store is a kv.Store backed by Redis. It is safe for concurrent use, also
// by several processes sharing the server and prefix.
type Store struct {
	client *redis.Client
	prefix string
	incr   *redis.Script
}

var _ kv.Store = (*Store)(nil)

// Open connects to the Redis server at url (redis://, rediss:// or unix://)
// and checks that it answers. Every key the store writes starts with prefix
// (for example "portalo:"), so several applications can share one server.
func Open(ctx context.Context, url string, prefix string) (*Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("rediskv: invalid Redis URL: %w", err)
	}
	client := redis.NewClient(opt)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("rediskv: cannot reach Redis at %s: %w", opt.Addr, err)
	}
	return &Store{client: client, prefix: prefix, incr: redis.NewScript(incrSrc)}, nil
}

// Close closes the connections to Redis.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("rediskv: close: %w", err)
	}
	return nil
}

func (s *Store) valueKey(key string) string   { return s.prefix + "v:" + key }
func (s *Store) counterKey(key string) string { return s.prefix + "c:" + key }
func (s *Store) setKey(key string) string     { return s.prefix + "s:" + key }

// expiration converts a kv ttl to go-redis's: 0 for none, at least 1ms
// (Redis's precision) otherwise.
func expiration(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return max(ttl, time.Millisecond)
}

func checkKey(key string) error {
	if key == "" {
		return errors.New("rediskv: empty key")
	}
	return nil
}

// Get implements kv.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := s.client.Get(ctx, s.valueKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, kv.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rediskv: get %q: %w", key, err)
	}
	return v, nil
}

// Set implements kv.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.valueKey(key), value, expiration(ttl)).Err(); err != nil {
		return fmt.Errorf("rediskv: set %q: %w", key, err)
	}
	return nil
}

// Create implements kv.Store with SET NX.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := checkKey(key); err != nil {
		return false, err
	}
	ok, err := s.client.SetNX(ctx, s.valueKey(key), value, expiration(ttl)).Result()
	if err != nil {
		return false, fmt.Errorf("rediskv: create %q: %w", key, err)
	}
	return ok, nil
}

// Update implements kv.Store with an optimistic transaction (WATCH, GET,
// MULTI, SET or DEL, EXEC), retried with a jittered backoff while other
// writers change the key; it gives up with kv.ErrConflict.
func (s *Store) Update(ctx context.Context, key string, fn kv.UpdateFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	k := s.valueKey(key)
	for attempt := range maxAttempts {
		var fnErr error
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			cur, err := tx.Get(ctx, k).Bytes()
			found := true
			if errors.Is(err, redis.Nil) {
				cur, found = nil, false
			} else if err != nil {
				return err
			}
			next, ttl, err := fn(cur, found)
			if err != nil {
				fnErr = err
				return err
			}
			if next == nil && !found {
				return nil // nothing to delete
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if next == nil {
					p.Del(ctx, k)
				} else {
					p.Set(ctx, k, next, expiration(ttl))
				}
				return nil
			})
			return err
		}, k)
		switch {
		case fnErr != nil:
			return fnErr
		case err == nil:
			return nil
		case !errors.Is(err, redis.TxFailedErr):
			return fmt.Errorf("rediskv: update %q: %w", key, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
	return fmt.Errorf("rediskv: update %q: gave up after %d attempts: %w", key, maxAttempts, kv.ErrConflict)
}

// backoff returns a random pause that grows with the attempt number up to
// maxBackoff.
func backoff(attempt int) time.Duration {
	limit := min(time.Millisecond<<min(attempt, 5), maxBackoff)
	return limit/4 + rand.N(limit)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Delete implements kv.Store: it removes values, counters and sets with
// the given keys.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	all := make([]string, 0, 3*len(keys))
	for _, k := range keys {
		all = append(all, s.valueKey(k), s.counterKey(k), s.setKey(k))
	}
	if err := s.client.Del(ctx, all...).Err(); err != nil {
		return fmt.Errorf("rediskv: delete: %w", err)
	}
	return nil
}

// Touch implements kv.Store. It applies to values only.
func (s *Store) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := s.valueKey(key)
	var exists bool
	if ttl > 0 {
		ok, err := s.client.PExpire(ctx, k, expiration(ttl)).Result()
		if err != nil {
			return fmt.Errorf("rediskv: touch %q: %w", key, err)
		}
		exists = ok
	} else {
		// PERSIST cannot tell a missing key from one without expiry.
		var n *redis.IntCmd
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			n = p.Exists(ctx, k)
			p.Persist(ctx, k)
			return nil
		})
		if err != nil {
			return fmt.Errorf("rediskv: touch %q: %w", key, err)
		}
		exists = n.Val() == 1
	}
	if !exists {
		return kv.ErrNotFound
	}
	return nil
}

// Incr implements kv.Store with a script that sets the expiry when the
// counter starts.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkKey(key); err != nil {
		return 0, err
	}
	n, err := s.incr.Run(ctx, s.client, []string{s.counterKey(key)}, expiration(ttl).Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("rediskv: incr %q: %w", key, err)
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
	if err := s.client.SAdd(ctx, s.setKey(key), member).Err(); err != nil {
		return fmt.Errorf("rediskv: add member to %q: %w", key, err)
	}
	return nil
}

// RemoveMember implements kv.Store; Redis removes a set with its last
// member.
func (s *Store) RemoveMember(ctx context.Context, key, member string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.client.SRem(ctx, s.setKey(key), member).Err(); err != nil {
		return fmt.Errorf("rediskv: remove member from %q: %w", key, err)
	}
	return nil
}

// Members implements kv.Store.
func (s *Store) Members(ctx context.Context, key string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	members, err := s.client.SMembers(ctx, s.setKey(key)).Result()
	if err != nil {
		return nil, fmt.Errorf("rediskv: members of %q: %w", key, err)
	}
	slices.Sort(members)
	return members, nil
}

// Keys implements kv.Store with SCAN, so it does not block the server.
func (s *Store) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	space := s.valueKey("")
	iter := s.client.Scan(ctx, 0, escapeGlob(space+prefix)+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		// The pattern is exact, but check anyway: a key outside our
		// key-space must never be returned.
		if k, ok := strings.CutPrefix(iter.Val(), space); ok && strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("rediskv: keys %q: %w", prefix, err)
	}
	// SCAN may return a key more than once.
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// escapeGlob quotes the characters that are special in a Redis MATCH
// pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for i := range len(s) { // bytewise: keys need not be valid UTF-8
		switch s[i] {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Ping implements kv.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("rediskv: ping: %w", err)
	}
	return nil
}
