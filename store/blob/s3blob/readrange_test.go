package s3blob_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"portalo/store/blob"
	"portalo/store/blob/s3blob"
)

// TestReadRange: one GET gives the bytes asked for, where they start, and
// the size of the whole object, for every form of range; a range past the
// end and a missing object are told apart.
func TestReadRange(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	body := strings.Repeat("0123456789", 100) // 1000 bytes
	put, err := s.Put(ctx, "media/x/a.ts", strings.NewReader(body), int64(len(body)), "video/mp2t")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name        string
		first, last int64
		offset      int64
		want        string
	}{
		{"whole", 0, -1, 0, body},
		{"first byte", 0, 0, 0, "0"},
		{"middle", 500, 509, 500, body[500:510]},
		{"open end", 990, -1, 990, body[990:]},
		{"suffix", -5, -1, 995, body[995:]},
		{"past the end is cut", 998, 5000, 998, body[998:]},
		{"suffix longer than the object", -5000, -1, 0, body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, off, info, err := s.ReadRange(ctx, "media/x/a.ts", tc.first, tc.last)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want || off != tc.offset {
				t.Errorf("got %d bytes at %d, want %d at %d", len(got), off, len(tc.want), tc.offset)
			}
			if info.Size != 1000 || info.ETag != put.ETag || info.Key != "media/x/a.ts" || info.Modified.IsZero() {
				t.Errorf("info = %+v, want size 1000 and ETag %s", info, put.ETag)
			}
		})
	}
	for _, tc := range []struct {
		name        string
		key         string
		first, last int64
		want        error
	}{
		{"start past the end", "media/x/a.ts", 1000, -1, s3blob.ErrRangeNotSatisfiable},
		{"last before first", "media/x/a.ts", 10, 5, s3blob.ErrRangeNotSatisfiable},
		{"missing object", "media/x/none.ts", 0, 10, blob.ErrNotFound},
		{"bad key", "../x", 0, 10, blob.ErrInvalidKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _, err := s.ReadRange(ctx, tc.key, tc.first, tc.last)
			if r != nil {
				r.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
