// Package storetest gives tests of the domain and web packages a fresh
// kv.Store on each backend (the embedded one and the test Redis), so that
// every feature is proven on both.
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
	t.Run("embedded", func(t *testing.T) {
		s, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s)
	})
	t.Run("redis", func(t *testing.T) {
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
		fn(t, s)
	})
}
