// Package blobtest owns the contract test suite of blob.Store: every
// implementation (dirblob, s3blob) runs Run against a fresh store and must
// pass all of it, so that callers can swap backends without noticing.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portalo/store/blob"
)

// largeSize is big enough to make S3 backends upload in several parts (the
// s3blob tests use 5 MiB parts) and dirblob copy through many buffers.
const largeSize = 12 << 20

// Run runs the contract suite. newStore must return a new, empty store for
// each call; it is called once per subtest and registers its own cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore(t)) })
	t.Run("ETag", func(t *testing.T) { testETag(t, newStore(t)) })
	t.Run("Seek", func(t *testing.T) { testSeek(t, newStore(t)) })
	t.Run("ServeContent", func(t *testing.T) { testServeContent(t, newStore(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("List", func(t *testing.T) { testList(t, newStore(t)) })
	t.Run("InvalidKey", func(t *testing.T) { testInvalidKey(t, newStore(t)) })
	t.Run("AtomicPut", func(t *testing.T) { testAtomicPut(t, newStore(t)) })
	t.Run("CanceledPut", func(t *testing.T) { testCanceledPut(t, newStore(t)) })
	t.Run("Large", func(t *testing.T) { testLarge(t, newStore(t)) })
	t.Run("ConcurrentKeys", func(t *testing.T) { testConcurrentKeys(t, newStore(t)) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, newStore(t)) })
	t.Run("Ping", func(t *testing.T) { testPing(t, newStore(t)) })
}

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz" // 36 bytes

var errBoom = errors.New("blobtest: reader failed on purpose")

// failingReader yields data and then fails with err (io.EOF makes it a
// reader shorter than the size declared to Put). It deliberately has no
// Seek or ReadAt, so a backend cannot rewind and retry it.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// onlyReader hides every method but Read, as a network body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'b', 'l', 'o', 'b'})
	_, _ = rng.Read(b)
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte, contentType string) blob.Info {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), contentType)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func read(t *testing.T, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return data, info
}

func stat(t *testing.T, s blob.Store, key string) blob.Info {
	t.Helper()
	info, err := s.Stat(context.Background(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	return info
}

func assertAbsent(t *testing.T, s blob.Store, key string) {
	t.Helper()
	ctx := context.Background()
	if info, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(%q) = %+v, %v; want ErrNotFound", key, info, err)
	}
	rc, _, err := s.Open(ctx, key)
	if !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open(%q) error = %v; want ErrNotFound", key, err)
	}
	if rc != nil {
		rc.Close()
		t.Errorf("Open(%q) returned a reader with its error", key)
	}
	list, err := s.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, in := range list {
		if in.Key == key {
			t.Errorf("List lists absent key %q: %+v", key, in)
		}
	}
}

// sameInfo compares everything but Modified, which backends may round.
func sameInfo(t *testing.T, what string, got, want blob.Info) {
	t.Helper()
	if got.Key != want.Key || got.Size != want.Size || got.ETag != want.ETag || got.ContentType != want.ContentType {
		t.Errorf("%s = %+v; want %+v", what, got, want)
	}
}

func checkInfo(t *testing.T, what string, info blob.Info, key string, size int64, contentType string, before, after time.Time) {
	t.Helper()
	if info.Key != key {
		t.Errorf("%s: Key = %q; want %q", what, info.Key, key)
	}
	if info.Size != size {
		t.Errorf("%s: Size = %d; want %d", what, info.Size, size)
	}
	if info.ContentType != contentType {
		t.Errorf("%s: ContentType = %q; want %q", what, info.ContentType, contentType)
	}
	if info.ETag == "" || strings.ContainsAny(info.ETag, "\"\r\n") {
		t.Errorf("%s: ETag = %q; want non-empty, without quotes or newlines", what, info.ETag)
	}
	// Servers may truncate to the second; allow for that and a little skew.
	if info.Modified.Before(before.Add(-2*time.Second)) || info.Modified.After(after.Add(2*time.Second)) {
		t.Errorf("%s: Modified = %v; want between %v and %v", what, info.Modified, before, after)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	binary := randomBytes(1, 70_000)
	tests := []struct {
		name, key   string
		data        []byte
		unknownSize bool
		contentType string
		wantType    string
	}{
		{"known size", "a.txt", []byte("hello, world"), false, "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"unknown size", "b.txt", []byte("hello, unknown size"), true, "text/plain", "text/plain"},
		{"default content type", "c.bin", []byte{0, 1, 2, 3}, false, "", "application/octet-stream"},
		{"default content type unknown size", "d.bin", []byte{4, 5, 6}, true, "", "application/octet-stream"},
		{"empty known size", "empty/known", []byte{}, false, "text/plain", "text/plain"},
		{"empty unknown size", "empty/unknown", []byte{}, true, "", "application/octet-stream"},
		{"nested binary", "media/0a1b/hls/360p/seg-00001.ts", binary, false, "video/mp2t", "video/mp2t"},
		{"nested binary unknown size", "media/0a1b/hls/720p/seg-00001.ts", binary, true, "video/mp2t", "video/mp2t"},
		{"odd characters", "docs/Ünïcode name (1).pdf", []byte("%PDF-1.7"), false, "application/pdf", "application/pdf"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := int64(len(tt.data))
			if tt.unknownSize {
				size = -1
			}
			before := time.Now()
			pinfo, err := s.Put(ctx, tt.key, onlyReader{bytes.NewReader(tt.data)}, size, tt.contentType)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			after := time.Now()
			checkInfo(t, "Put", pinfo, tt.key, int64(len(tt.data)), tt.wantType, before, after)

			sinfo := stat(t, s, tt.key)
			checkInfo(t, "Stat", sinfo, tt.key, int64(len(tt.data)), tt.wantType, before, after)
			sameInfo(t, "Stat", sinfo, pinfo)

			got, oinfo := read(t, s, tt.key)
			if !bytes.Equal(got, tt.data) {
				t.Errorf("content = %d bytes %.40q; want %d bytes %.40q", len(got), got, len(tt.data), tt.data)
			}
			sameInfo(t, "Open", oinfo, sinfo)
			if !oinfo.Modified.Equal(sinfo.Modified) {
				t.Errorf("Open Modified %v != Stat Modified %v", oinfo.Modified, sinfo.Modified)
			}
		})
	}
}

func testETag(t *testing.T, s blob.Store) {
	const key = "etag/object"
	v1 := put(t, s, key, []byte("version one"), "text/plain")
	s1 := stat(t, s, key)
	if s1.ETag != v1.ETag || stat(t, s, key).ETag != s1.ETag {
		t.Fatalf("ETag not stable: Put %q, Stat %q", v1.ETag, s1.ETag)
	}
	// Same length, different content: a size-based ETag would not change.
	before := time.Now()
	v2 := put(t, s, key, []byte("version two"), "text/html")
	after := time.Now()
	if v2.ETag == v1.ETag {
		t.Errorf("ETag did not change with the content: %q", v2.ETag)
	}
	s2 := stat(t, s, key)
	checkInfo(t, "Stat after overwrite", s2, key, 11, "text/html", before, after)
	sameInfo(t, "Stat after overwrite", s2, v2)
	if data, _ := read(t, s, key); string(data) != "version two" {
		t.Errorf("content after overwrite = %q", data)
	}
	// Another key with other content gets another ETag too.
	other := put(t, s, "etag/other", []byte("version one!"), "")
	if other.ETag == v2.ETag || other.ETag == v1.ETag {
		t.Errorf("different contents share ETag %q", other.ETag)
	}
}

func testSeek(t *testing.T, s blob.Store) {
	put(t, s, "seek/me", []byte(alphabet), "text/plain")
	rc, info, err := s.Open(context.Background(), "seek/me")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if info.Size != int64(len(alphabet)) {
		t.Fatalf("Size = %d", info.Size)
	}
	steps := []struct {
		offset  int64
		whence  int
		wantPos int64
		n       int // bytes to read; -1 = to the end
		want    string
	}{
		{10, io.SeekStart, 10, 5, "abcde"},
		{-6, io.SeekEnd, 30, -1, "uvwxyz"},
		{-3, io.SeekCurrent, 33, -1, "xyz"},
		{0, io.SeekStart, 0, 3, "012"},
		{4, io.SeekCurrent, 7, 4, "789a"},
		{0, io.SeekEnd, 36, -1, ""},
		{0, io.SeekStart, 0, -1, alphabet},
	}
	for i, st := range steps {
		pos, err := rc.Seek(st.offset, st.whence)
		if err != nil || pos != st.wantPos {
			t.Fatalf("step %d: Seek(%d, %d) = %d, %v; want %d", i, st.offset, st.whence, pos, err, st.wantPos)
		}
		var got []byte
		if st.n < 0 {
			got, err = io.ReadAll(rc)
		} else {
			got = make([]byte, st.n)
			_, err = io.ReadFull(rc, got)
		}
		if err != nil || string(got) != st.want {
			t.Fatalf("step %d: read %q, %v; want %q", i, got, err, st.want)
		}
	}
	if _, err := rc.Seek(-1, io.SeekStart); err == nil {
		t.Error("Seek to a negative position succeeded")
	}
}

func testServeContent(t *testing.T, s blob.Store) {
	const key = "serve/alphabet.txt"
	put(t, s, key, []byte(alphabet), "text/plain; charset=utf-8")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc, info, err := s.Open(r.Context(), key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer rc.Close()
		w.Header().Set("Content-Type", info.ContentType)
		w.Header().Set("ETag", `"`+info.ETag+`"`)
		http.ServeContent(w, r, key, info.Modified, rc)
	}))
	defer srv.Close()
	etag := `"` + stat(t, s, key).ETag + `"`

	tests := []struct {
		name         string
		header       map[string]string
		wantStatus   int
		wantBody     string
		wantRange    string
		wantLengthOK bool
	}{
		{"whole", nil, http.StatusOK, alphabet, "", true},
		{"first byte", map[string]string{"Range": "bytes=0-0"}, http.StatusPartialContent, "0", "bytes 0-0/36", true},
		{"middle", map[string]string{"Range": "bytes=10-14"}, http.StatusPartialContent, "abcde", "bytes 10-14/36", true},
		{"open ended", map[string]string{"Range": "bytes=30-"}, http.StatusPartialContent, "uvwxyz", "bytes 30-35/36", true},
		{"suffix", map[string]string{"Range": "bytes=-5"}, http.StatusPartialContent, "vwxyz", "bytes 31-35/36", true},
		{"unsatisfiable", map[string]string{"Range": "bytes=36-40"}, http.StatusRequestedRangeNotSatisfiable, "", "bytes */36", false},
		{"not modified", map[string]string{"If-None-Match": etag}, http.StatusNotModified, "", "", false},
		{"if-range matches", map[string]string{"Range": "bytes=1-2", "If-Range": etag}, http.StatusPartialContent, "12", "bytes 1-2/36", true},
		{"if-range stale", map[string]string{"Range": "bytes=1-2", "If-Range": `"stale"`}, http.StatusOK, alphabet, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d; want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Range"); got != tt.wantRange {
				t.Errorf("Content-Range = %q; want %q", got, tt.wantRange)
			}
			if tt.wantStatus == http.StatusRequestedRangeNotSatisfiable {
				return // the body is an error message
			}
			if string(body) != tt.wantBody {
				t.Errorf("body = %q; want %q", body, tt.wantBody)
			}
			if tt.wantLengthOK && resp.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("Content-Length = %d; want %d", resp.ContentLength, len(tt.wantBody))
			}
		})
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	put(t, s, "dir/file", []byte("x"), "")
	for _, key := range []string{"missing", "dir/missing", "dir", "dir/file/below", "missing/deep/key"} {
		t.Run(key, func(t *testing.T) { assertAbsent(t, s, key) })
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := context.Background()
	put(t, s, "del/a/b/c", []byte("c"), "")
	put(t, s, "del/keep", []byte("keep"), "")
	if err := s.Delete(ctx, "del/a/b/c"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, s, "del/a/b/c")
	if err := s.Delete(ctx, "del/a/b/c"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, "never/existed"); err != nil {
		t.Errorf("Delete of a never existing key: %v", err)
	}
	// Deleting a "folder" that only exists as a prefix deletes nothing.
	put(t, s, "del/x/y", []byte("y"), "")
	if err := s.Delete(ctx, "del/x"); err != nil {
		t.Errorf("Delete(prefix of a key): %v", err)
	}
	if data, _ := read(t, s, "del/x/y"); string(data) != "y" {
		t.Errorf("del/x/y = %q after deleting del/x", data)
	}
	// A former folder can become an object once emptied.
	put(t, s, "del/a/b", []byte("b"), "")
	if data, _ := read(t, s, "del/a/b"); string(data) != "b" {
		t.Errorf("del/a/b = %q", data)
	}
	if data, _ := read(t, s, "del/keep"); string(data) != "keep" {
		t.Errorf("del/keep = %q", data)
	}
}

func keys(infos []blob.Info) []string {
	ks := make([]string, len(infos))
	for i, in := range infos {
		ks[i] = in.Key
	}
	return ks
}

func testList(t *testing.T, s blob.Store) {
	ctx := context.Background()
	all := []string{
		"media/2/x",
		"media/1/hls/720p.m3u8",
		"media-x",
		"media/10/z",
		"media/1/a.m3u8",
		"mediaz",
		"other/y",
		"media/1/hls/360p.m3u8",
	}
	stored := map[string]blob.Info{}
	for i, k := range all {
		stored[k] = put(t, s, k, []byte(strings.Repeat("x", i+1)), "text/plain")
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		// Sorted by key: "media-x" < "media/..." < "mediaz", although a
		// directory walk meets "media/" before "media-x".
		{"", []string{"media-x", "media/1/a.m3u8", "media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8", "media/10/z", "media/2/x", "mediaz", "other/y"}},
		{"media/", []string{"media/1/a.m3u8", "media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8", "media/10/z", "media/2/x"}},
		{"media", []string{"media-x", "media/1/a.m3u8", "media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8", "media/10/z", "media/2/x", "mediaz"}},
		{"media/1", []string{"media/1/a.m3u8", "media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8", "media/10/z"}},
		{"media/1/", []string{"media/1/a.m3u8", "media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8"}},
		{"media/1/hls/", []string{"media/1/hls/360p.m3u8", "media/1/hls/720p.m3u8"}},
		{"media/1/hls/360p.m3u8", []string{"media/1/hls/360p.m3u8"}},
		{"other/", []string{"other/y"}},
		{"nope/", nil},
		{"nope", nil},
		{"media/3", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix %q", tt.prefix), func(t *testing.T) {
			got, err := s.List(ctx, tt.prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", tt.prefix, err)
			}
			if !slices.Equal(keys(got), tt.want) {
				t.Fatalf("List(%q) = %q; want %q", tt.prefix, keys(got), tt.want)
			}
			for _, in := range got {
				want := stored[in.Key]
				// Listings need not carry the content type (S3 does not).
				if in.Size != want.Size || in.ETag != want.ETag || in.Modified.IsZero() {
					t.Errorf("List entry %+v; want size %d, ETag %q and a Modified time", in, want.Size, want.ETag)
				}
			}
		})
	}
}

var invalidKeys = []string{"", "/abs", "a/../b", "a//b", "a\\b", "..", ".", "a/", "./a", "a/./b", "a\x00b", "a\nb"}

func testInvalidKey(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, key := range invalidKeys {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := s.Put(ctx, key, strings.NewReader("x"), 1, ""); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Put: %v; want ErrInvalidKey", err)
			}
			rc, _, err := s.Open(ctx, key)
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Open: %v; want ErrInvalidKey", err)
			}
			if rc != nil {
				rc.Close()
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Stat: %v; want ErrInvalidKey", err)
			}
			if err := s.Delete(ctx, key); !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("Delete: %v; want ErrInvalidKey", err)
			}
		})
	}
	for _, prefix := range []string{"/abs", "../", "a/../", "a//", "a\\b", "./x", "a\x00"} {
		if got, err := s.List(ctx, prefix); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q) = %q, %v; want ErrInvalidKey", prefix, keys(got), err)
		}
	}
	// Nothing may have been written anywhere by the rejected calls.
	if got, err := s.List(ctx, ""); err != nil || len(got) != 0 {
		t.Errorf("List after rejected puts = %q, %v; want empty", keys(got), err)
	}
}

func testAtomicPut(t *testing.T, s blob.Store) {
	ctx := context.Background()
	large := randomBytes(2, largeSize)
	tests := []struct {
		name string
		// reader yields data then fails with err (io.EOF: a short reader).
		data []byte
		err  error
		size int64
	}{
		{"fails halfway unknown size", []byte(strings.Repeat("n", 1000)), errBoom, -1},
		{"fails halfway known size", []byte(strings.Repeat("n", 1000)), errBoom, 2000},
		{"fails at once", nil, errBoom, 10},
		{"shorter than declared", []byte(strings.Repeat("n", 1000)), io.EOF, 2000},
		// A truncated HTTP request body fails with io.ErrUnexpectedEOF.
		{"truncated unknown size", []byte(strings.Repeat("n", 1000)), io.ErrUnexpectedEOF, -1},
		{"truncated known size", []byte(strings.Repeat("n", 1000)), io.ErrUnexpectedEOF, 2000},
		{"large truncated unknown size", large, io.ErrUnexpectedEOF, -1},
		{"large fails after parts unknown size", large, errBoom, -1},
		{"large fails after parts known size", large, errBoom, largeSize + 1<<20},
		{"large shorter than declared", large, io.EOF, largeSize + 1},
	}
	old := []byte("the old content, which must survive")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh := fmt.Sprintf("atomic/%d/new", i)
			_, err := s.Put(ctx, fresh, &failingReader{data: tt.data, err: tt.err}, tt.size, "text/plain")
			if err == nil {
				t.Errorf("Put to a new key succeeded")
			}
			assertAbsent(t, s, fresh)

			existing := fmt.Sprintf("atomic/%d/old", i)
			before := put(t, s, existing, old, "text/csv")
			_, err = s.Put(ctx, existing, &failingReader{data: tt.data, err: tt.err}, tt.size, "text/plain")
			if err == nil {
				t.Errorf("Put over an existing key succeeded")
			}
			data, info := read(t, s, existing)
			if !bytes.Equal(data, old) {
				t.Errorf("old object now holds %d bytes %.40q; want it untouched", len(data), data)
			}
			sameInfo(t, "Info after failed Put", info, before)
		})
	}
}

// cancelingReader serves total bytes and cancels its context after n of
// them, then keeps serving, so only the store's own context handling can
// stop the write.
type cancelingReader struct {
	n, total int
	cancel   context.CancelFunc
	canceled bool
}

func (r *cancelingReader) Read(p []byte) (int, error) {
	if r.total <= 0 {
		return 0, io.EOF
	}
	if r.n <= 0 && !r.canceled {
		r.canceled = true
		r.cancel()
		// Give context-watching goroutines (HTTP transports) time to act
		// before the body could complete.
		time.Sleep(50 * time.Millisecond)
	}
	n := min(len(p), 4096, r.total)
	for i := range p[:n] {
		p[i] = 'c'
	}
	r.n -= n
	r.total -= n
	return n, nil
}

func testCanceledPut(t *testing.T, s blob.Store) {
	for _, size := range []int64{64 << 10, -1} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			key := fmt.Sprintf("canceled/%d", size)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := s.Put(ctx, key, &cancelingReader{n: 16 << 10, total: 256 << 10, cancel: cancel}, size, "")
			if err == nil {
				t.Fatalf("Put succeeded although its context was canceled")
			}
			assertAbsent(t, s, key)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Put(ctx, "canceled/before", strings.NewReader("x"), 1, ""); err == nil {
		t.Errorf("Put with an already canceled context succeeded")
	}
	assertAbsent(t, s, "canceled/before")
}

func testLarge(t *testing.T, s blob.Store) {
	data := randomBytes(3, largeSize)
	want := sha256.Sum256(data)
	ctx := context.Background()
	for _, size := range []int64{largeSize, -1} {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			key := fmt.Sprintf("large/%d.bin", size)
			info, err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, size, "application/x-test")
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if info.Size != largeSize {
				t.Errorf("Put Size = %d; want %d", info.Size, largeSize)
			}
			rc, oinfo, err := s.Open(ctx, key)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer rc.Close()
			sameInfo(t, "Open", oinfo, info)
			h := sha256.New()
			if n, err := io.Copy(h, rc); err != nil || n != largeSize {
				t.Fatalf("read %d bytes, %v; want %d", n, err, largeSize)
			}
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("sha256 = %x; want %x", got, want)
			}
			// A range across what would be a 5 MiB part boundary, then the tail.
			for _, off := range []int64{5<<20 - 50, largeSize - 100} {
				if _, err := rc.Seek(off, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				if _, err := io.ReadFull(rc, buf); err != nil || !bytes.Equal(buf, data[off:off+100]) {
					t.Errorf("100 bytes at %d differ (err %v)", off, err)
				}
			}
		})
	}
}

func testConcurrentKeys(t *testing.T, s blob.Store) {
	const n = 16
	ctx := context.Background()
	content := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 10_000+i*1000) }
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			size := int64(len(content(i)))
			if i%2 == 1 {
				size = -1
			}
			key := fmt.Sprintf("conc/%02d/obj", i)
			if _, err := s.Put(ctx, key, onlyReader{bytes.NewReader(content(i))}, size, ""); err != nil {
				errs <- fmt.Errorf("Put(%q): %w", key, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := s.List(ctx, "conc/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n {
		t.Fatalf("List found %d objects; want %d: %q", len(list), n, keys(list))
	}
	for i := range n {
		key := fmt.Sprintf("conc/%02d/obj", i)
		if data, _ := read(t, s, key); !bytes.Equal(data, content(i)) {
			t.Errorf("%s holds %d bytes; want %d of %q", key, len(data), len(content(i)), rune('a'+i))
		}
	}
}

// testConcurrentSameKey races writers of one key against readers: every
// read must see one whole version, with the Info of that same version.
func testConcurrentSameKey(t *testing.T, s blob.Store) {
	const (
		writers = 6
		rounds  = 4
		key     = "same/key"
	)
	ctx := context.Background()
	version := func(i int) ([]byte, string) {
		b := bytes.Repeat([]byte(fmt.Sprintf("v%02d;", i)), 8000+i*100)
		return b, fmt.Sprintf("application/x-v%02d", i)
	}
	versionOf := func(b []byte) int {
		var i int
		if _, err := fmt.Sscanf(string(b[:min(len(b), 4)]), "v%02d;", &i); err != nil {
			return -1
		}
		if want, _ := version(i); !bytes.Equal(b, want) {
			return -1
		}
		return i
	}
	first, firstType := version(0)
	if _, err := s.Put(ctx, key, bytes.NewReader(first), int64(len(first)), firstType); err != nil {
		t.Fatal(err)
	}

	var (
		mu     sync.Mutex
		etags  = map[string]int{}
		failed []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, fmt.Sprintf(format, args...))
	}
	done := make(chan struct{})
	var readers, wg sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				rc, info, err := s.Open(ctx, key)
				if err != nil {
					fail("Open: %v", err)
					return
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					// S3 readers fail rather than mix versions when the
					// object changes under them; that is allowed.
					continue
				}
				v := versionOf(data)
				if v < 0 {
					fail("read a mixed or partial object of %d bytes", len(data))
					continue
				}
				_, ct := version(v)
				if info.ContentType != ct || info.Size != int64(len(data)) {
					fail("content of v%02d with Info %+v", v, info)
				}
				mu.Lock()
				if prev, ok := etags[info.ETag]; ok && prev != v {
					failed = append(failed, fmt.Sprintf("ETag %q for v%02d and v%02d", info.ETag, prev, v))
				}
				etags[info.ETag] = v
				mu.Unlock()
			}
		})
	}
	for w := 1; w <= writers; w++ {
		wg.Go(func() {
			for range rounds {
				data, ct := version(w)
				size := int64(len(data))
				if w%2 == 0 {
					size = -1
				}
				if _, err := s.Put(ctx, key, onlyReader{bytes.NewReader(data)}, size, ct); err != nil {
					fail("Put v%02d: %v", w, err)
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	for _, f := range failed {
		t.Error(f)
	}
	data, info := read(t, s, key)
	v := versionOf(data)
	if v < 1 {
		t.Fatalf("final object is not one written version (%d bytes)", len(data))
	}
	if _, ct := version(v); info.ContentType != ct {
		t.Errorf("final object v%02d has content type %q", v, info.ContentType)
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping with a canceled context succeeded")
	}
}
