package s3blob

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"

	"portalo/store/blob"
)

// ErrRangeNotSatisfiable is returned by ReadRange when the object has no
// byte in the range asked for.
var ErrRangeNotSatisfiable = fmt.Errorf("s3blob: range not satisfiable")

// ReadRange reads part of an object with one GET request, which is what a
// proxy answering an HTTP Range request wants: Open's reader asks for the
// object first and again after every seek, and drops a connection each
// time it leaves a body unread.
//
// first ≥ 0 and last ≥ first ask for the bytes first..last (fewer when the
// object ends before last); first ≥ 0 and last < 0 for the bytes from first
// to the end (first = 0: the whole object); first < 0 for the last -first
// bytes. It returns the body, the offset in the object of the body's first
// byte, and the object's Info, whose Size is that of the whole object. The
// caller reads the body to its end (so that the connection can be reused)
// and closes it.
func (s *Store) ReadRange(ctx context.Context, key string, first, last int64) (io.ReadCloser, int64, blob.Info, error) {
	if !blob.ValidKey(key) {
		return nil, 0, blob.Info{}, fmt.Errorf("s3blob: read %q: %w", key, blob.ErrInvalidKey)
	}
	if first >= 0 && last >= 0 && last < first {
		return nil, 0, blob.Info{}, fmt.Errorf("s3blob: read %q: bytes %d-%d: %w", key, first, last, ErrRangeNotSatisfiable)
	}
	var opts minio.GetObjectOptions
	switch {
	case first < 0:
		opts.Set("Range", fmt.Sprintf("bytes=%d", first)) // "bytes=-N"
	case last >= 0:
		opts.Set("Range", fmt.Sprintf("bytes=%d-%d", first, last))
	case first > 0:
		opts.Set("Range", fmt.Sprintf("bytes=%d-", first))
	}
	core := minio.Core{Client: s.client}
	body, oi, h, err := core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		if errorCode(err) == "InvalidRange" {
			return nil, 0, blob.Info{}, fmt.Errorf("s3blob: read %q: %w", key, ErrRangeNotSatisfiable)
		}
		return nil, 0, blob.Info{}, s.objectError("read", key, err)
	}
	info := infoOf(oi)
	info.Key = key
	offset := int64(0)
	if cr := h.Get("Content-Range"); cr != "" {
		start, total, ok := parseContentRange(cr)
		if !ok {
			body.Close()
			return nil, 0, blob.Info{}, fmt.Errorf("s3blob: read %q: the server answered with Content-Range %q", key, cr)
		}
		offset, info.Size = start, total
	} else if opts.Header().Get("Range") != "" {
		// A server that ignores Range sends the whole object.
		if first != 0 {
			body.Close()
			return nil, 0, blob.Info{}, fmt.Errorf("s3blob: read %q: the server ignored the range", key)
		}
	}
	return body, offset, info, nil
}

// parseContentRange parses "bytes FIRST-LAST/TOTAL".
func parseContentRange(s string) (first, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	a, _, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	total, err2 := strconv.ParseInt(size, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || total <= first {
		return 0, 0, false
	}
	return first, total, true
}
