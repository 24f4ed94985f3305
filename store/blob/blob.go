// Package blob defines portalo's object store: uploaded videos, podcast
// episodes, documents and the manifests that describe them.
//
// Two implementations satisfy Store: dirblob (a directory on local disk) and
// s3blob (MinIO or any S3-compatible server). blobtest holds the contract
// test suite that both must pass.
package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned when no object exists at a key.
	ErrNotFound = errors.New("blob: object not found")
	// ErrInvalidKey is returned for keys that are not clean relative paths.
	ErrInvalidKey = errors.New("blob: invalid key")
)

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	// ETag changes whenever the content changes; it is quoted-string safe
	// (no double quotes) but not itself quoted.
	ETag     string
	Modified time.Time
}

// Store keeps objects under slash-separated keys such as
// "media/ID/hls/360p.m3u8". Writes are all-or-nothing: a reader sees either
// the old object or the whole new one, never a partial write.
type Store interface {
	// Put stores the content of r at key. size is the exact length or -1
	// when unknown. contentType may be empty ("application/octet-stream").
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (Info, error)
	// Open returns the object for reading and seeking (http.ServeContent
	// can serve ranges from it), with its Info. The caller closes it.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, Info, error)
	// Stat returns the object's Info, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; an absent object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
}

// ValidKey reports whether key is a clean relative slash-separated path:
// non-empty, at most 900 bytes, no leading or trailing slash, no empty, "."
// or ".." segments, no backslashes or control characters.
func ValidKey(key string) bool {
	if key == "" || len(key) > 900 {
		return false
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// ValidPrefix reports whether some valid key could start with prefix (for
// List): "" or a string whose part up to the last slash is a valid key and
// that has no backslash or control character.
func ValidPrefix(prefix string) bool {
	if prefix == "" {
		return true
	}
	if strings.ContainsFunc(prefix, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return false
	}
	i := strings.LastIndexByte(prefix, '/')
	return i < 0 || ValidKey(prefix[:i])
}
