package web

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"portalo/store/blob"
)

func TestSingleRange(t *testing.T) {
	for _, tc := range []struct {
		h           string
		first, last int64
		ok          bool
	}{
		{"", 0, -1, true},
		{"bytes=0-0", 0, 0, true},
		{"bytes=10-20", 10, 20, true},
		{"bytes=10-", 10, -1, true},
		{"bytes=-5", -5, -1, true},
		{"bytes=-0", 0, 0, false},
		{"bytes=5-3", 0, 0, false},
		{"bytes=0-0,-1", 0, 0, false},
		{"bytes=a-b", 0, 0, false},
		{"bytes=+1-2", 0, 0, false},
		{"items=0-1", 0, 0, false},
		{"bytes=5", 0, 0, false},
	} {
		first, last, ok := singleRange(tc.h)
		if ok != tc.ok || ok && (first != tc.first || last != tc.last) {
			t.Errorf("singleRange(%q) = %d, %d, %v; want %d, %d, %v", tc.h, first, last, ok, tc.first, tc.last, tc.ok)
		}
	}
}

// bytesRanges is a rangeReader over one object in memory that counts the
// requests it answers.
type bytesRanges struct {
	data  []byte
	calls int
}

func (b *bytesRanges) ReadRange(_ context.Context, key string, first, last int64) (io.ReadCloser, int64, blob.Info, error) {
	b.calls++
	size := int64(len(b.data))
	switch {
	case first < 0:
		first, last = max(size+first, 0), size-1
	case last < 0 || last >= size:
		last = size - 1
	}
	if first >= size {
		return nil, 0, blob.Info{}, io.ErrUnexpectedEOF
	}
	info := blob.Info{Key: key, Size: size, ETag: "e1", Modified: time.Unix(1e9, 0)}
	return io.NopCloser(bytes.NewReader(b.data[first : last+1])), first, info, nil
}

// TestRangedObject: http.ServeContent over a rangedObject asks the store
// once per request, also when it answers with more than the range (a stale
// If-Range), and serves the right bytes.
func TestRangedObject(t *testing.T) {
	data := []byte(strings.Repeat("abcdefghij", 1000))
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		body   []byte
		calls  int
	}{
		{"whole", nil, 200, data, 1},
		{"first bytes", map[string]string{"Range": "bytes=0-1"}, 206, data[:2], 1},
		{"middle", map[string]string{"Range": "bytes=5000-5999"}, 206, data[5000:6000], 1},
		{"suffix", map[string]string{"Range": "bytes=-10"}, 206, data[9990:], 1},
		{"stale if-range: whole object, one more request", map[string]string{"Range": "bytes=10-19", "If-Range": `"old"`}, 200, data, 2},
		{"stale if-range from the start", map[string]string{"Range": "bytes=0-9", "If-Range": `"old"`}, 200, data, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := &bytesRanges{data: data}
			req := httptest.NewRequest(http.MethodGet, "/f", nil)
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			o, info, ok, err := openRanged(context.Background(), rr, req, "k")
			if err != nil || !ok {
				t.Fatalf("openRanged refused the request: %v", err)
			}
			w := httptest.NewRecorder()
			w.Header().Set("ETag", `"`+info.ETag+`"`)
			w.Header().Set("Content-Type", "video/mp2t") // else ServeContent sniffs, reading ahead
			http.ServeContent(w, req, "", info.Modified, o)
			o.Close()
			if w.Code != tc.status || !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Errorf("got %d with %d bytes, want %d with %d", w.Code, w.Body.Len(), tc.status, len(tc.body))
			}
			if rr.calls != tc.calls {
				t.Errorf("%d requests to the store, want %d", rr.calls, tc.calls)
			}
		})
	}
	// Not handled here: several ranges, HEAD.
	for _, req := range []*http.Request{
		func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/f", nil)
			r.Header.Set("Range", "bytes=0-1,5-6")
			return r
		}(),
		httptest.NewRequest(http.MethodHead, "/f", nil),
	} {
		if _, _, ok, _ := openRanged(context.Background(), &bytesRanges{data: data}, req, "k"); ok {
			t.Errorf("openRanged took %s %v", req.Method, req.Header)
		}
	}
}
