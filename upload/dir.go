package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"portalo/store/blob"
)

// copyBufferSize is the buffer a chunk streams through into its staging
// file; it is also how often the copy notices a cancelled context.
const copyBufferSize = 256 << 10

// dirBackend keeps an upload as a staging file, ID.part in the staging
// directory: each chunk is appended (after cutting off whatever a failed
// earlier attempt left beyond the resume point) and fsynced before it
// counts. Complete streams the file into the object store with Put, which
// makes the object appear whole, and removes it.
type dirBackend struct {
	root  *os.Root
	blobs blob.Store
}

func newDirBackend(dir string, blobs blob.Store) (*dirBackend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("upload: staging directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("upload: staging directory: %w", err)
	}
	// The os.Root is closed with the process: a Service lives as long.
	return &dirBackend{root: root, blobs: blobs}, nil
}

const stagingSuffix = ".part"

func stagingName(id string) string { return id + stagingSuffix }

func (b *dirBackend) begin(ctx context.Context, r *record) (string, error) {
	f, err := b.root.OpenFile(stagingName(r.ID), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("local: create staging file: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("local: create staging file: %w", err)
	}
	b.syncDir()
	return "", nil
}

// fileWriter hides *os.File's ReadFrom, so that io.CopyBuffer really
// copies through its buffer (and checks the context between reads).
type fileWriter struct{ f *os.File }

func (w fileWriter) Write(p []byte) (int, error) { return w.f.Write(p) }

// ctxReader stops a copy once ctx is done.
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

func (b *dirBackend) writePart(ctx context.Context, r *record, n int, body io.Reader, size int64) (_ string, err error) {
	f, err := b.root.OpenFile(stagingName(r.ID), os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("local: part %d: %w", n, errGone)
	}
	if err != nil {
		return "", fmt.Errorf("local: part %d: %w", n, err)
	}
	defer func() {
		if err != nil {
			// Nothing of a failed chunk stays behind the resume point.
			_ = f.Truncate(r.Offset)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("local: part %d: %w", n, cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("local: part %d: %w", n, err)
	}
	if fi.Size() < r.Offset {
		return "", fmt.Errorf("local: part %d: the staging file has %d bytes, fewer than the %d received: %w", n, fi.Size(), r.Offset, errGone)
	}
	if err := f.Truncate(r.Offset); err != nil {
		return "", fmt.Errorf("local: part %d: %w", n, err)
	}
	if _, err := f.Seek(r.Offset, io.SeekStart); err != nil {
		return "", fmt.Errorf("local: part %d: %w", n, err)
	}
	written, err := io.CopyBuffer(fileWriter{f}, ctxReader{ctx, io.LimitReader(body, size)}, make([]byte, copyBufferSize))
	if err == nil && written != size {
		err = fmt.Errorf("%w: %d of %d bytes", ErrShortChunk, written, size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return "", fmt.Errorf("local: part %d: %w", n, err)
	}
	return "", nil
}

func (b *dirBackend) finish(ctx context.Context, r *record, keep func(io.Reader, int64) io.Reader) error {
	f, err := b.root.Open(stagingName(r.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: complete: %w", errGone)
	}
	if err != nil {
		return fmt.Errorf("local: complete: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("local: complete: %w", err)
	}
	if fi.Size() < r.Size {
		valid, end := 0, int64(0)
		for _, p := range r.Parts {
			if end+p.Size > fi.Size() {
				break
			}
			valid, end = valid+1, end+p.Size
		}
		return &partsError{Valid: valid, Why: fmt.Sprintf("the staging file has %d of %d bytes", fi.Size(), r.Size)}
	}
	// A longer file has bytes of a failed attempt at its end: the first
	// r.Size bytes are the upload. Put reads them straight from the file.
	if _, err := b.blobs.Put(ctx, r.Key, keep(io.LimitReader(f, r.Size), r.Size), r.Size, r.ContentType); err != nil {
		return fmt.Errorf("local: complete: %w", err)
	}
	f.Close()
	if err := b.root.Remove(stagingName(r.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: complete: remove the staging file: %w", err)
	}
	return nil
}

func (b *dirBackend) cancel(ctx context.Context, r *record) error {
	if err := b.root.Remove(stagingName(r.ID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("local: remove the staging file: %w", err)
	}
	return nil
}

// sweep removes staging files of uploads without state (their state was
// lost, or removed while the file could not be) not written since before.
func (b *dirBackend) sweep(ctx context.Context, before time.Time, live func(string) bool, _ []*record) error {
	entries, err := fs.ReadDir(b.root.FS(), ".")
	if err != nil {
		return fmt.Errorf("local: sweep: %w", err)
	}
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), stagingSuffix)
		if !ok || !e.Type().IsRegular() || !validID(id) || live(id) {
			continue
		}
		if fi, err := e.Info(); err != nil || !fi.ModTime().Before(before) {
			continue
		}
		if err := b.root.Remove(e.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncDir makes a new staging file's name durable; best effort.
func (b *dirBackend) syncDir() {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := b.root.Open("."); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
