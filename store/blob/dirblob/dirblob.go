// Package dirblob owns the local-disk implementation of blob.Store: objects
// are plain files under a root directory, for a single machine with nothing
// else installed.
//
// Layout under the root:
//
//	objects/KEY  the content, byte for byte as uploaded
//	meta/KEY     JSON sidecar: content type, sha256 (the ETag), size, mtime
//	tmp/         files being written; renamed into place when complete
//
// Keeping objects, sidecars and temporary files in three separate trees
// means every valid key is usable (".tmp/x" or "a.json" collide with
// nothing) and the sidecar tree has exactly the shape of the object tree.
//
// Put writes the content and the sidecar to tmp/, fsyncs both, then renames
// the sidecar into place and then the content, the commit point. A per-key
// lock keeps concurrent Puts, Deletes and readers of one Store from
// interleaving with those two renames. A sidecar also records the size and
// modification time of the content it describes, so the Info returned
// always belongs to the bytes read: a sidecar that does not match (another
// process sharing the root is committing, or a crash fell between the two
// renames) makes the reader retry briefly and then fall back to the
// sidecar-less Info. Files without a valid sidecar (copied in by hand)
// work too: their ETag is derived from size and mtime and their content
// type from the file extension.
//
// All file access goes through an os.Root, so neither a key nor a symbolic
// link inside the tree can reach outside the root directory.
package dirblob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"portalo/store/blob"
)

const (
	objectsDir = "objects"
	metaDir    = "meta"
	tmpDir     = "tmp"

	defaultContentType = "application/octet-stream"

	// staleTemp is the age after which Open removes leftover temporary
	// files of crashed writers (another process may share the root, so
	// recent ones may still be in use).
	staleTemp = 24 * time.Hour

	// metaAttempts bounds the retries (sleeping 1, 2, 4 ms) when a sidecar
	// does not match its content. Within one Store the locks rule that out;
	// it happens when another process sharing the root commits at the same
	// moment, or for good after a crash between the two renames of a Put.
	metaAttempts = 4

	copyBufferSize = 256 << 10
)

// Store is a blob.Store in a local directory. It is safe for concurrent
// use. Several processes may share a directory, but only writes from one
// Store are ordered per key: when two processes overwrite one key at the
// same moment the content is still whole, yet its Info may fall back to
// the sidecar-less kind (see the package comment).
type Store struct {
	root *os.Root
	// locks, striped by key hash, serialize the two renames of a Put and
	// the two removals of a Delete (write lock), so that the content and
	// sidecar left in place come from the same call, and keep readers from
	// looking between them (read lock).
	locks [64]sync.RWMutex
}

func (s *Store) keyLock(key string) *sync.RWMutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &s.locks[h.Sum32()%uint32(len(s.locks))]
}

func (s *Store) lock(key string) func() {
	mu := s.keyLock(key)
	mu.Lock()
	return mu.Unlock
}

var _ blob.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory when missing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("dirblob: open: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dirblob: open %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("dirblob: open %s: %w", dir, err)
	}
	for _, d := range []string{objectsDir, metaDir, tmpDir} {
		if err := root.MkdirAll(d, 0o755); err != nil {
			root.Close()
			return nil, fmt.Errorf("dirblob: open %s: create %s: %w", dir, d, err)
		}
	}
	s := &Store{root: root}
	s.removeStaleTemps(time.Now().Add(-staleTemp))
	return s, nil
}

// Close releases the root directory handle. Readers returned by Open stay
// usable.
func (s *Store) Close() error {
	if err := s.root.Close(); err != nil {
		return fmt.Errorf("dirblob: close %s: %w", s.root.Name(), err)
	}
	return nil
}

// Dir returns the root directory.
func (s *Store) Dir() string { return s.root.Name() }

func (s *Store) removeStaleTemps(before time.Time) {
	entries, err := fs.ReadDir(s.root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.ModTime().Before(before) {
			_ = s.root.Remove(path.Join(tmpDir, e.Name()))
		}
	}
}

// meta is the JSON sidecar of an object.
type meta struct {
	ContentType string `json:"contentType"`
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	// MTime is the content file's modification time in Unix nanoseconds;
	// with Size it ties the sidecar to one version of the content.
	MTime int64 `json:"mtime"`
}

func (m *meta) describes(fi fs.FileInfo) bool {
	return m.Size == fi.Size() && m.MTime == fi.ModTime().UnixNano()
}

func objectPath(key string) string { return filepath.FromSlash(objectsDir + "/" + key) }
func metaPath(key string) string   { return filepath.FromSlash(metaDir + "/" + key) }

// ctxReader stops a copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements blob.Store. Nothing is visible at key until the whole
// content is on disk; on any error the previous object stays as it was.
// With size >= 0 exactly size bytes are read; fewer is an error.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (blob.Info, error) {
	if !blob.ValidKey(key) {
		return blob.Info{}, fmt.Errorf("dirblob: put %q: %w", key, blob.ErrInvalidKey)
	}
	if size < -1 {
		return blob.Info{}, fmt.Errorf("dirblob: put %q: invalid size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	info, err := s.put(ctx, key, r, size, contentType)
	if err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: put %q: %w", key, err)
	}
	return info, nil
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (_ blob.Info, err error) {
	base := path.Join(tmpDir, rand.Text())
	dataTmp, metaTmp := base+".data", base+".meta"
	defer func() {
		if err != nil {
			_ = s.root.Remove(dataTmp)
			_ = s.root.Remove(metaTmp)
		}
	}()

	f, err := s.root.OpenFile(dataTmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return blob.Info{}, err
	}
	h := sha256.New()
	var src io.Reader = ctxReader{ctx, r}
	if size >= 0 {
		src = io.LimitReader(src, size)
	}
	// io.MultiWriter hides *os.File's ReadFrom, so CopyBuffer really uses
	// the buffer and the context is checked every copyBufferSize bytes.
	n, err := io.CopyBuffer(io.MultiWriter(f, h), src, make([]byte, copyBufferSize))
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d of %d declared bytes: %w", n, size, io.ErrUnexpectedEOF)
	}
	if err == nil {
		err = f.Sync()
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return blob.Info{}, err
	}

	m := meta{ContentType: contentType, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n, MTime: fi.ModTime().UnixNano()}
	if err := s.writeFile(metaTmp, m); err != nil {
		return blob.Info{}, err
	}
	// Last chance to honour a cancellation: after this the object exists.
	if err := ctx.Err(); err != nil {
		return blob.Info{}, err
	}
	// Sidecar first, content last (the content rename commits), under the
	// key's write lock: readers of this Store, holding the read lock, never
	// see one without the other.
	unlock := s.lock(key)
	err = s.renameInto(metaTmp, metaPath(key))
	if err == nil {
		err = s.renameInto(dataTmp, objectPath(key))
	}
	unlock()
	if err != nil {
		return blob.Info{}, err
	}
	s.syncDir(filepath.Dir(metaPath(key)))
	s.syncDir(filepath.Dir(objectPath(key)))
	return blob.Info{Key: key, Size: n, ContentType: m.ContentType, ETag: m.SHA256, Modified: fi.ModTime()}, nil
}

func (s *Store) writeFile(name string, m meta) (err error) {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// renameInto moves the temporary file tmp to dst, creating dst's parent
// directories. A concurrent Delete may prune a parent between MkdirAll and
// Rename; then it tries again.
func (s *Store) renameInto(tmp, dst string) error {
	dir := filepath.Dir(dst)
	var err error
	for range 5 {
		if err = s.root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err = s.root.Rename(tmp, dst); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return err
}

// syncDir makes a rename in dir durable. It is best effort: the rename is
// already visible, and some platforms cannot sync directories.
func (s *Store) syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := s.root.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// notExist reports whether err means that there is no file at a path,
// including a path running through a regular file ("a/b" when "a" is an
// object).
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// load returns the Info of key and, when open is set, the opened content.
// The Info always describes the file that was stat'ed or opened.
func (s *Store) load(ctx context.Context, key string, open bool) (*os.File, blob.Info, error) {
	for attempt := 1; ; attempt++ {
		f, fi, info, err := s.loadOnce(key, open)
		if err != nil || info != nil {
			return f, derefInfo(info), err
		}
		if attempt == metaAttempts {
			return f, fallbackInfo(key, fi), nil
		}
		if f != nil {
			f.Close()
		}
		select {
		case <-ctx.Done():
			return nil, blob.Info{}, ctx.Err()
		case <-time.After(time.Millisecond << (attempt - 1)):
		}
	}
}

func derefInfo(info *blob.Info) blob.Info {
	if info == nil {
		return blob.Info{}
	}
	return *info
}

// loadOnce is one attempt of load, under the key's read lock. Its Info is
// nil when the sidecar exists but describes another version of the content
// (try again); a missing or unreadable sidecar gives the fallback Info.
func (s *Store) loadOnce(key string, open bool) (*os.File, fs.FileInfo, *blob.Info, error) {
	mu := s.keyLock(key)
	mu.RLock()
	defer mu.RUnlock()
	var (
		f   *os.File
		fi  fs.FileInfo
		err error
	)
	if open {
		if f, err = s.root.Open(objectPath(key)); err == nil {
			if fi, err = f.Stat(); err != nil {
				f.Close()
				f = nil
			}
		}
	} else {
		fi, err = s.root.Stat(objectPath(key))
	}
	if notExist(err) {
		return nil, nil, nil, blob.ErrNotFound
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		if f != nil {
			f.Close()
		}
		return nil, nil, nil, blob.ErrNotFound
	}
	m, err := s.readMeta(key)
	switch {
	case err != nil:
		info := fallbackInfo(key, fi)
		return f, fi, &info, nil
	case m.describes(fi):
		return f, fi, &blob.Info{Key: key, Size: fi.Size(), ContentType: m.ContentType, ETag: m.SHA256, Modified: fi.ModTime()}, nil
	default:
		return f, fi, nil, nil
	}
}

func (s *Store) readMeta(key string) (*meta, error) {
	b, err := s.root.ReadFile(metaPath(key))
	if err != nil {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m.SHA256 == "" || m.ContentType == "" {
		return nil, errors.New("incomplete sidecar")
	}
	return &m, nil
}

// fallbackInfo describes a file without a valid sidecar.
func fallbackInfo(key string, fi fs.FileInfo) blob.Info {
	ct := mime.TypeByExtension(path.Ext(key))
	if ct == "" {
		ct = defaultContentType
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%d-%d", fi.Size(), fi.ModTime().UnixNano()))
	return blob.Info{
		Key:         key,
		Size:        fi.Size(),
		ContentType: ct,
		ETag:        "m-" + hex.EncodeToString(sum[:16]),
		Modified:    fi.ModTime(),
	}
}

// Open implements blob.Store. The returned *os.File keeps reading the
// version it opened even if the key is overwritten or deleted meanwhile.
func (s *Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	if !blob.ValidKey(key) {
		return nil, blob.Info{}, fmt.Errorf("dirblob: open %q: %w", key, blob.ErrInvalidKey)
	}
	f, info, err := s.load(ctx, key, true)
	if err != nil {
		return nil, blob.Info{}, fmt.Errorf("dirblob: open %q: %w", key, err)
	}
	return f, info, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if !blob.ValidKey(key) {
		return blob.Info{}, fmt.Errorf("dirblob: stat %q: %w", key, blob.ErrInvalidKey)
	}
	_, info, err := s.load(ctx, key, false)
	if err != nil {
		return blob.Info{}, fmt.Errorf("dirblob: stat %q: %w", key, err)
	}
	return info, nil
}

// Delete implements blob.Store. Directories left empty are removed, so a
// former folder can later hold an object of the same name.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !blob.ValidKey(key) {
		return fmt.Errorf("dirblob: delete %q: %w", key, blob.ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dirblob: delete %q: %w", key, err)
	}
	defer s.lock(key)()
	fi, err := s.root.Lstat(objectPath(key))
	if notExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dirblob: delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // only a prefix of other keys
	}
	// Content first: once it is gone the object is gone.
	if err := s.root.Remove(objectPath(key)); err != nil && !notExist(err) {
		return fmt.Errorf("dirblob: delete %q: %w", key, err)
	}
	if err := s.root.Remove(metaPath(key)); err != nil && !notExist(err) {
		return fmt.Errorf("dirblob: delete %q: remove sidecar: %w", key, err)
	}
	for _, tree := range []string{objectsDir, metaDir} {
		// Remove fails on a non-empty directory, which ends the pruning.
		for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
			if s.root.Remove(filepath.FromSlash(tree+"/"+dir)) != nil {
				break
			}
		}
	}
	return nil
}

// List implements blob.Store. It walks only the directory holding prefix.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if !blob.ValidPrefix(prefix) {
		return nil, fmt.Errorf("dirblob: list %q: %w", prefix, blob.ErrInvalidKey)
	}
	start := objectsDir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start += "/" + prefix[:i]
	}
	var out []blob.Info
	err := fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil // absent prefix, or a folder deleted meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == objectsDir {
			return nil
		}
		key := strings.TrimPrefix(p, objectsDir+"/")
		if d.IsDir() {
			if p != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) || !blob.ValidKey(key) {
			return nil
		}
		_, info, err := s.load(ctx, key, false)
		if errors.Is(err, blob.ErrNotFound) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		out = append(out, info)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dirblob: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Ping implements blob.Store: the object tree must be reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dirblob: ping: %w", err)
	}
	fi, err := s.root.Stat(objectsDir)
	if err != nil {
		return fmt.Errorf("dirblob: ping %s: %w", s.root.Name(), err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("dirblob: ping %s: %s is not a directory", s.root.Name(), objectsDir)
	}
	return nil
}
