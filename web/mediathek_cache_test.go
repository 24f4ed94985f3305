package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"portalo/catalog"
	"portalo/store/blob"
	"portalo/store/blob/dirblob"
)

// countingStore counts Open calls of a blob.Store.
type countingStore struct {
	blob.Store
	opens atomic.Int64
}

func (s *countingStore) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	s.opens.Add(1)
	return s.Store.Open(ctx, key)
}

func TestImmutableMedia(t *testing.T) {
	for key, want := range map[string]bool{
		"media/abc/out/job-1/hls/v/seg0.ts": true,
		"media/abc/out/job-1/poster.jpg":    true,
		"media/abc/source/poster.jpg":       false,
		"media/abc/manifest.json":           false,
		"media/abc/outside.ts":              false,
		"podcasts/x/out/cover.jpg":          false,
	} {
		if got := immutableMedia(key); got != want {
			t.Errorf("immutableMedia(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestMediaCache: a file is read from the store once however many ask at
// the same time; files larger than the cache takes are remembered as such
// and not kept; the least recently used file goes first when it is full;
// errors are not cached.
func TestMediaCache(t *testing.T) {
	ctx := context.Background()
	dir, err := dirblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Store: dir}
	put := func(key string, size int) []byte {
		data := bytes.Repeat([]byte{byte(len(key))}, size)
		if _, err := st.Put(ctx, key, bytes.NewReader(data), int64(size), ""); err != nil {
			t.Fatal(err)
		}
		return data
	}
	// 8 KiB cache: files up to 1 KiB are kept.
	c, err := newMediaCache(8<<10, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	small := put("media/a/out/r/small.ts", 1000)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			f, err := c.get(ctx, st, "media/a/out/r/small.ts")
			if err != nil || !bytes.Equal(f.data, small) || f.info.Size != 1000 {
				t.Errorf("get: %v, %d bytes", err, len(f.data))
			}
		})
	}
	wg.Wait()
	if n := st.opens.Load(); n != 1 {
		t.Fatalf("20 concurrent gets opened the file %d times, want 1", n)
	}

	put("media/a/out/r/big.ts", 2000)
	for range 3 {
		f, err := c.get(ctx, st, "media/a/out/r/big.ts")
		if err != nil || f.data != nil || f.info.Size != 2000 {
			t.Fatalf("big file: %v, data %d, size %d", err, len(f.data), f.info.Size)
		}
	}
	if n := st.opens.Load(); n != 2 {
		t.Fatalf("the large file was opened %d times, want once", n-1)
	}

	if _, err := c.get(ctx, st, "media/a/out/r/none.ts"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	put("media/a/out/r/none.ts", 10)
	if f, err := c.get(ctx, st, "media/a/out/r/none.ts"); err != nil || len(f.data) != 10 {
		t.Fatalf("a missing file that appears is served: %v", err)
	}

	// Fill the cache: the small file, used last, stays; the oldest goes.
	for i := range 10 {
		put(fmt.Sprintf("media/a/out/r/f%d.ts", i), 1000)
		if _, err := c.get(ctx, st, fmt.Sprintf("media/a/out/r/f%d.ts", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.get(ctx, st, "media/a/out/r/small.ts"); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	used, hasSmall, hasF0 := c.used, c.entries["media/a/out/r/small.ts"] != nil, c.entries["media/a/out/r/f0.ts"] != nil
	c.mu.Unlock()
	if used > 8<<10 || !hasSmall || hasF0 {
		t.Fatalf("after filling: %d bytes used, small kept %v, oldest kept %v", used, hasSmall, hasF0)
	}
	if c.maxFile != 1024 {
		t.Fatalf("maxFile %d", c.maxFile)
	}
}

func TestMediaCacheOff(t *testing.T) {
	c, err := newMediaCache(0, prometheus.NewRegistry())
	if err != nil || c != nil {
		t.Fatalf("a zero size gives %v, %v; want no cache", c, err)
	}
}

// TestMediathekCachedFiles: the files of a processing run (under out/)
// come from the media cache after their first request, with Range, HEAD
// and ETag as from the store: deleted from the store, a cached segment is
// still served, while the item's other files are not.
func TestMediathekCachedFiles(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		ctx := context.Background()
		it, err := h.cat.Create(ctx, meta(catalog.KindVideo, "gecacht", map[string]string{"de": "Gecacht"}))
		if err != nil {
			t.Fatal(err)
		}
		run := it.Prefix() + "out/r1/"
		for name, data := range syntheticFiles {
			if _, err := h.blobs.Put(ctx, run+name, bytes.NewReader(data), int64(len(data)), ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := h.blobs.Put(ctx, it.Prefix()+"source/poster.jpg", strings.NewReader("poster"), 6, ""); err != nil {
			t.Fatal(err)
		}
		if _, err = h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
			md.Duration = 9 * time.Second
			md.Poster = it.Prefix() + "source/poster.jpg"
			md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{
				{Key: run + "hls/master.m3u8", Role: catalog.RoleMaster, Complete: true},
			}}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		seg := fixtureSegment()
		target := "/media/" + it.ID + "/out/r1/hls/v/seg0.ts"
		first := h.do(t, "GET", target, nil, nil)
		if first.Code != 200 || !bytes.Equal(first.Body.Bytes(), seg) || first.Header().Get("ETag") == "" {
			t.Fatalf("first GET: %d, %d bytes, ETag %q", first.Code, first.Body.Len(), first.Header().Get("ETag"))
		}
		if w := h.do(t, "GET", "/media/"+it.ID+"/source/poster.jpg", nil, nil); w.Code != 200 {
			t.Fatalf("poster: %d", w.Code)
		}
		for _, key := range []string{run + "hls/v/seg0.ts", it.Prefix() + "source/poster.jpg"} {
			if err := h.blobs.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name, method string
			hdr          map[string]string
			status       int
			body         []byte
			contentRange string
		}{
			{"whole", "GET", nil, 200, seg, ""},
			{"first byte", "GET", map[string]string{"Range": "bytes=0-0"}, 206, seg[:1], "bytes 0-0/10000"},
			{"suffix", "GET", map[string]string{"Range": "bytes=-100"}, 206, seg[9900:], "bytes 9900-9999/10000"},
			{"beyond the end", "GET", map[string]string{"Range": "bytes=10000-"}, 416, nil, "bytes */10000"},
			{"head", "HEAD", nil, 200, []byte{}, ""},
			{"same etag", "GET", map[string]string{"If-None-Match": first.Header().Get("ETag")}, 304, []byte{}, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := h.do(t, tc.method, target, nil, tc.hdr)
				if w.Code != tc.status || tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
					t.Fatalf("%d with %d bytes, want %d", w.Code, w.Body.Len(), tc.status)
				}
				if got := w.Header().Get("Content-Range"); got != tc.contentRange {
					t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
				}
				if tc.status < 300 && (w.Header().Get("Content-Type") != "video/mp2t" || w.Header().Get("ETag") != first.Header().Get("ETag")) {
					t.Errorf("headers %v", w.Header())
				}
			})
		}
		if w := h.do(t, "GET", "/media/"+it.ID+"/source/poster.jpg", nil, nil); w.Code != 404 {
			t.Errorf("a file outside the runs is not cached: deleted, it gives %d, want 404", w.Code)
		}
		w := h.do(t, "GET", "/metrics", nil, nil)
		if !strings.Contains(w.Body.String(), `portalo_media_cache_requests_total{result="hit"}`) {
			t.Errorf("no cache hits in the metrics")
		}
	})
}

// gatedStore holds every Open until gate is closed.
type gatedStore struct {
	blob.Store
	gate chan struct{}
}

func (s *gatedStore) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return nil, blob.Info{}, ctx.Err()
	}
	return s.Store.Open(ctx, key)
}

// TestMediaCacheLoadOutlivesItsRequest: the request that loads a file
// goes away (a player cancels a segment request when the viewer seeks);
// the requests waiting for the same file still get it.
func TestMediaCacheLoadOutlivesItsRequest(t *testing.T) {
	dir, err := dirblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const key = "media/a/out/r/seg0.ts"
	want := bytes.Repeat([]byte{7}, 1000)
	if _, err := dir.Put(context.Background(), key, bytes.NewReader(want), int64(len(want)), "video/mp2t"); err != nil {
		t.Fatal(err)
	}
	st := &gatedStore{Store: dir, gate: make(chan struct{})}
	c, err := newMediaCache(1<<20, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	leaderCtx, leave := context.WithCancel(context.Background())
	leaderDone := make(chan struct{})
	go func() {
		defer close(leaderDone)
		_, _ = c.get(leaderCtx, st, key)
	}()
	for { // wait until the leader's load is under way
		c.mu.Lock()
		loading := c.loading[key] != nil
		c.mu.Unlock()
		if loading {
			break
		}
		time.Sleep(time.Millisecond)
	}
	got := make(chan *cachedFile, 1)
	go func() {
		f, err := c.get(context.Background(), st, key)
		if err != nil {
			t.Errorf("waiting request: %v", err)
		}
		got <- f
	}()
	for { // wait until the second request waits for the leader's load
		c.mu.Lock()
		waiting := c.loading[key] != nil && c.loading[key].waiting > 0
		c.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	leave()
	time.Sleep(20 * time.Millisecond)
	close(st.gate)
	<-leaderDone
	if f := <-got; f == nil || !bytes.Equal(f.data, want) {
		t.Fatal("the waiting request did not get the file")
	}
}
