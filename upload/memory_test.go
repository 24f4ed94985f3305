package upload

import (
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/kv"
)

// TestMemoryStaysBounded uploads 200 MiB through the Service, chunk by
// chunk from a generator, and samples the heap meanwhile: it must never
// grow by more than two chunks' worth, so no file (and not even a whole
// chunk) is held in memory, on either backend.
func TestMemoryStaysBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 200 MiB")
	}
	const (
		total     = 200 << 20
		chunkSize = 16 << 20
		allowed   = 2 * chunkSize
	)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		e := newEnv(t, b, k)
		s := e.service(t, Options{ChunkSize: chunkSize, MaxChunk: chunkSize})
		ctx := context.Background()
		u := create(t, s, total)

		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse

		var mu sync.Mutex
		peak := base
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mu.Lock()
				peak = max(peak, ms.HeapInuse)
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()

		// The data comes from a seeded generator, hashed on the way.
		gen := rand.NewChaCha8([32]byte{'m', 'e', 'm'})
		sum := sha256.New()
		for off := int64(0); off < total; off += chunkSize {
			n := min(chunkSize, total-off)
			body := io.TeeReader(io.LimitReader(gen, n), sum)
			if _, err := s.Write(ctx, u.ID, off, onlyReader{body}, n); err != nil {
				t.Fatalf("write at %d: %v", off, err)
			}
		}
		if _, err := s.Complete(ctx, u.ID, nil); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-sampled

		growth := int64(peak) - int64(base)
		t.Logf("%s backend: heap in use grew by at most %.1f MiB while 200 MiB went through (allowed %d MiB)",
			s.Backend(), float64(growth)/(1<<20), allowed>>20)
		if growth > allowed {
			t.Errorf("heap in use grew by %d bytes, more than %d", growth, allowed)
		}

		rc, info, err := b.Open(ctx, testKey)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got := sha256.New()
		if _, err := io.Copy(got, rc); err != nil {
			t.Fatal(err)
		}
		if info.Size != total || string(got.Sum(nil)) != string(sum.Sum(nil)) {
			t.Fatalf("stored object: %d bytes, hash differs: %v", info.Size, string(got.Sum(nil)) != string(sum.Sum(nil)))
		}
	})
}
