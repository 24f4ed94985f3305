// Package storetest gives tests of the domain and web packages fresh
// stores on each backend: kv.Store on the embedded bolt store and the test
// Redis, blob.Store on a local directory and the test MinIO, or both pairs
// (see Stores), so that every feature is proven on both.
package storetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portalo/internal/testenv"
	"portalo/store/kv"
	"portalo/store/kv/boltkv"
	"portalo/store/kv/rediskv"
)

// KV runs fn as one subtest per backend ("embedded", "redis"), each with a
// fresh, empty store that is removed after the subtest.
func KV(t *testing.T, fn func(t *testing.T, store kv.Store)) {
	t.Run("embedded", func(t *testing.T) { fn(t, newBoltKV(t)) })
	t.Run("redis", func(t *testing.T) { fn(t, newRedisKV(t)) })
}

func newBoltKV(t *testing.T) *boltkv.Store {
	t.Helper()
	s, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newRedisKV opens the test Redis under a key prefix of the test's own;
// its keys are deleted when the test ends.
func newRedisKV(t *testing.T) *rediskv.Store {
	t.Helper()
	prefix := fmt.Sprintf("test:%s:%d:", strings.ReplaceAll(t.Name(), " ", "_"), time.Now().UnixNano())
	s, err := rediskv.Open(context.Background(), testenv.RedisURL(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, _ := s.Keys(context.Background(), "")
		_ = s.Delete(context.Background(), keys...)
		s.Close()
	})
	return s
}
