package rediskv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"portalo/internal/testenv"
	"portalo/store/kv"
	"portalo/store/kv/kvtest"
)

// testPrefix returns a prefix unique to this test run and test.
func testPrefix(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "portalo-test:" + t.Name() + ":" + hex.EncodeToString(b) + ":"
}

// rawClient returns a plain client to inspect the server, and deletes all
// keys under prefix when the test ends.
func rawClient(t *testing.T, url, prefix string) *redis.Client {
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() {
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup scan: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return c
}

func newStore(t *testing.T) (*Store, *redis.Client, string) {
	url := testenv.RedisURL(t)
	prefix := testPrefix(t)
	raw := rawClient(t, url, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, url, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s, raw, prefix
}

func TestContract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, _, _ := newStore(t)
		return s
	})
}

func TestKeysStayUnderPrefix(t *testing.T) {
	s, raw, prefix := newStore(t)
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMember(ctx, "k", "m"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{prefix + "v:k", prefix + "c:k", prefix + "s:k"} {
		if n, err := raw.Exists(ctx, k).Result(); err != nil || n != 1 {
			t.Errorf("EXISTS %q = %d, %v; want 1", k, n, err)
		}
	}
	// A new counter always gets its expiry.
	if d, err := raw.PTTL(ctx, prefix+"c:k").Result(); err != nil || d <= 0 || d > time.Hour {
		t.Errorf("PTTL of counter = %v, %v; want (0, 1h]", d, err)
	}

	// Another prefix on the same server sees none of it.
	other, err := Open(ctx, testenv.RedisURL(t), prefix+"other:")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Get(ctx, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("Get via other prefix = %v, want kv.ErrNotFound", err)
	}
	if keys, err := other.Keys(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf("Keys via other prefix = %q, %v; want none", keys, err)
	}
	// ...and the first store does not list the other's keys, although
	// they start with its prefix.
	if err := other.Set(ctx, "k2", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.Keys(ctx, ""); err != nil || len(keys) != 1 || keys[0] != "k" {
		t.Errorf("Keys = %q, %v; want [k]", keys, err)
	}
}

func TestUpdateGivesUpWithConflict(t *testing.T) {
	s, raw, prefix := newStore(t)
	defer s.Close()
	ctx := context.Background()
	// fn changes the key behind Update's back on every attempt, so every
	// EXEC fails.
	calls := 0
	err := s.Update(ctx, "hot", func(cur []byte, found bool) ([]byte, time.Duration, error) {
		calls++
		if err := raw.Incr(ctx, prefix+"v:hot").Err(); err != nil {
			return nil, 0, err
		}
		return []byte("mine"), 0, nil
	})
	if !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update = %v, want kv.ErrConflict", err)
	}
	if calls != maxAttempts {
		t.Errorf("fn ran %d times, want %d", calls, maxAttempts)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"", "http://localhost:6379", "redis://host:port:x/0", "redis://localhost/notadb"} {
		s, err := Open(ctx, url, "p:")
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if !strings.Contains(err.Error(), "invalid Redis URL") {
			t.Errorf("Open(%q) = %q; want it to say the Redis URL is invalid", url, err)
		}
	}

	// Nothing listens on port 1.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := Open(ctx, "redis://127.0.0.1:1/0", "p:")
	if err == nil {
		s.Close()
		t.Fatal("Open of an unreachable server succeeded")
	}
	if !strings.Contains(err.Error(), "cannot reach Redis at 127.0.0.1:1") {
		t.Errorf("Open of unreachable server = %q; want it to name Redis and the address", err)
	}
}
