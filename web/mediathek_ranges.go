package web

// Proxying a media file from an object store that reads ranges in one
// request (s3blob): the range of the request is asked for at once, so that
// a segment or a podcast app's range costs one request to the store on a
// kept-alive connection, and http.ServeContent still does the HTTP part.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"portalo/store/blob"
)

// rangeReader is an object store that reads part of an object with one
// request (s3blob.Store.ReadRange): the bytes first..last, from first to
// the end (last < 0), or the last -first bytes (first < 0). It returns the
// body, where in the object the body starts, and the object's Info.
type rangeReader interface {
	ReadRange(ctx context.Context, key string, first, last int64) (io.ReadCloser, int64, blob.Info, error)
}

// drainLimit is how much of an unread body Close still reads, so that the
// store's connection can be used again; longer bodies are cut.
const drainLimit = 64 << 10

// openRanged opens key for http.ServeContent with the request's range (if
// it has a single one) already asked for. ok is false when the request is
// not one it handles (several ranges, a malformed Range, HEAD) or the
// store answered with an error: the caller then opens the object as usual,
// which gives the right answer (416, 404) for those cases.
func openRanged(ctx context.Context, rr rangeReader, req *http.Request, key string) (*rangedObject, blob.Info, bool, error) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" || req.Header.Get("If-Modified-Since") != "" {
		// HEAD reads no body; a conditional GET mostly ends in 304.
		return nil, blob.Info{}, false, nil
	}
	first, last, ok := singleRange(req.Header.Get("Range"))
	if !ok {
		return nil, blob.Info{}, false, nil
	}
	body, offset, info, err := rr.ReadRange(ctx, key, first, last)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, blob.Info{}, false, err
	}
	if err != nil {
		// A range the object does not have, say: Open and ServeContent
		// answer it (416).
		return nil, blob.Info{}, false, nil
	}
	return &rangedObject{ctx: ctx, rr: rr, key: key, size: info.Size, body: body, bodyAt: offset}, info, true, nil
}

// singleRange parses a Range header of one byte range into ReadRange's
// first and last; an empty header is the whole object. ok is false for
// anything else.
func singleRange(h string) (first, last int64, ok bool) {
	if h == "" {
		return 0, -1, true
	}
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0 && s != "" && s[0] != '+'
	}
	switch {
	case a == "":
		n, ok := num(b)
		if !ok || n == 0 {
			return 0, 0, false
		}
		return -n, -1, true
	case b == "":
		n, ok := num(a)
		return n, -1, ok
	}
	x, okA := num(a)
	y, okB := num(b)
	if !okA || !okB || y < x {
		return 0, 0, false
	}
	return x, y, true
}

// rangedObject is an object of size bytes seen through a body that starts
// at bodyAt. Reading where the body is reads it; reading anywhere else (a
// request whose range http.ServeContent answers differently, as with
// If-Range) asks the store again from there to the end.
type rangedObject struct {
	ctx    context.Context
	rr     rangeReader
	key    string
	size   int64
	pos    int64
	body   io.ReadCloser
	bodyAt int64 // the object offset of the body's next byte
}

func (o *rangedObject) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += o.pos
	case io.SeekEnd:
		offset += o.size
	default:
		return o.pos, errSeekWhence
	}
	if offset < 0 {
		return o.pos, errSeekNegative
	}
	o.pos = offset
	return offset, nil
}

func (o *rangedObject) Read(p []byte) (int, error) {
	reopened := false
	for {
		if o.pos >= o.size {
			return 0, io.EOF
		}
		if o.body == nil || o.bodyAt != o.pos {
			if err := o.reopen(); err != nil {
				return 0, err
			}
			reopened = true
		}
		n, err := o.body.Read(p)
		o.pos += int64(n)
		o.bodyAt += int64(n)
		if err != io.EOF || o.pos >= o.size {
			return n, err
		}
		// The body (a range) ended before the object: go on from here.
		o.body.Close()
		o.body = nil
		switch {
		case n > 0:
			return n, nil
		case reopened:
			return 0, io.ErrUnexpectedEOF
		}
	}
}

// reopen asks the store for the object from pos to its end.
func (o *rangedObject) reopen() error {
	o.closeBody()
	body, offset, _, err := o.rr.ReadRange(o.ctx, o.key, o.pos, -1)
	if err != nil {
		return err
	}
	o.body, o.bodyAt = body, offset
	if offset != o.pos {
		o.closeBody()
		return errRangeMoved
	}
	return nil
}

func (o *rangedObject) closeBody() {
	if o.body == nil {
		return
	}
	io.CopyN(io.Discard, o.body, drainLimit)
	o.body.Close()
	o.body = nil
}

// Close closes the body, reading a short rest first to keep the store's
// connection.
func (o *rangedObject) Close() error {
	o.closeBody()
	return nil
}

type rangedError string

func (e rangedError) Error() string { return string(e) }

const (
	errSeekWhence   rangedError = "web: seek: invalid whence"
	errSeekNegative rangedError = "web: seek: negative position"
	errRangeMoved   rangedError = "web: the object store answered a range at another offset"
)

// copyBufferSize is the buffer a proxied body is copied through: larger
// than io.Copy's 32 KiB, so that a segment takes few system calls.
const copyBufferSize = 256 << 10

// bigCopyWriter gives http.ServeContent's copy a larger buffer (gin's
// writer has no ReadFrom of its own, so io.Copy would use 32 KiB).
type bigCopyWriter struct {
	http.ResponseWriter
	pool *sync.Pool
}

// ReadFrom copies r through a pooled buffer of copyBufferSize.
func (w bigCopyWriter) ReadFrom(r io.Reader) (int64, error) {
	buf := w.pool.Get().(*[]byte)
	defer w.pool.Put(buf)
	return io.CopyBuffer(writerOnly{w.ResponseWriter}, r, *buf)
}

// writerOnly hides everything but Write, so that io.CopyBuffer uses the
// buffer instead of looking for ReadFrom again.
type writerOnly struct{ io.Writer }

// copyBuffers is the pool of bigCopyWriter's buffers.
func newCopyBuffers() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}
}
