// Package upload owns resumable uploads of large files into the object
// store: an upload is created for a target object key with a declared size
// and content type, receives its bytes as chunks in order, tells where it
// stands (the resume point), and is completed all-or-nothing or aborted.
// It knows nothing of HTTP, accounts or the mediathek.
//
// # Flow
//
//	u, _ := svc.Create(ctx, upload.Spec{Key: "media/ID/source/original.mp4", Size: n, ContentType: "video/mp4"})
//	svc.Write(ctx, u.ID, 0, chunk1, len1)      // each chunk streams straight through
//	svc.Status(ctx, u.ID)                      // Offset: bytes durably received, the resume point
//	svc.Write(ctx, u.ID, len1, chunk2, len2)   // a wrong offset gets an *OffsetError with the right one
//	svc.Complete(ctx, u.ID, then)              // the object appears at the key, whole
//
// Chunks arrive in order. Each is at least Limits.MinChunk bytes (except
// the last) and at most Limits.MaxChunk; Create suggests a ChunkSize in
// between. A chunk is streamed to the backend as it is read, never held in
// memory whole; it counts only once all of its bytes are stored durably,
// so a chunk whose body ends early (the client went away) leaves the resume
// point where it was and nothing half-written behind.
//
// # State and backends
//
// The state of every upload (offset, parts, who is writing) lives in a
// kv.Store, so any node sharing the stores can continue an upload another
// node started. The bytes go to one of two backends, chosen by the object
// store New gets:
//
//   - S3 (an s3blob.Store): one S3 multipart upload per upload, one part per
//     chunk (hence the 5 MiB minimum), sent with the chunk's exact length;
//     Complete checks the parts with ListObjectParts and completes the
//     multipart upload.
//   - Local (any other blob.Store, such as dirblob): the chunks are appended
//     to a staging file under Options.StagingDir, fsynced per chunk; Complete
//     streams that file into the blob store with Put.
//
// # Concurrency
//
// Only one request writes to an upload at a time: Write takes a lease on
// the upload's state, renews it while bytes flow and gives it up when the
// chunk is stored or failed. A second writer meanwhile gets ErrBusy (a
// browser retrying while its first attempt still streams, say). A writer
// that stalls for longer than the lease loses it and cannot commit its
// chunk.
//
// # Expiry
//
// An upload idle for longer than Options.IdleTTL counts as gone (ErrNotFound)
// and is removed, with its parts, by the janitor: the caller runs Run in a
// goroutine it owns and stops it with the context.
package upload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"time"

	"github.com/minio/minio-go/v7"

	"portalo/store/blob"
	"portalo/store/kv"
)

// Defaults of Options.
const (
	DefaultMaxSize       = 20 << 30 // 20 GiB
	DefaultMinChunk      = 5 << 20  // S3's smallest part (but the last)
	DefaultMaxChunk      = 64 << 20
	DefaultChunkSize     = 16 << 20
	DefaultIdleTTL       = 24 * time.Hour
	DefaultSweepInterval = 10 * time.Minute
	DefaultLeaseTTL      = 2 * time.Minute

	// stateTimeout bounds a state change made after the client left.
	stateTimeout = 30 * time.Second
	// assembleTimeout bounds Complete's assembly of the object.
	assembleTimeout = 2 * time.Hour

	// s3MinPart and s3MaxParts are S3's limits on multipart uploads.
	s3MinPart  = 5 << 20
	s3MaxParts = 10000
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	// MaxSize is the largest upload accepted (DefaultMaxSize).
	MaxSize int64
	// MinChunk and MaxChunk bound the size of every chunk but the last,
	// which may be smaller (DefaultMinChunk, DefaultMaxChunk). With the S3
	// backend MinChunk must be at least 5 MiB. An upload so large that
	// MinChunk would need more than 10,000 chunks gets a larger minimum.
	MinChunk, MaxChunk int64
	// ChunkSize is the chunk size Create suggests (DefaultChunkSize),
	// between MinChunk and MaxChunk.
	ChunkSize int64
	// IdleTTL is how long an upload may go without a chunk before it
	// expires (DefaultIdleTTL). A completed upload's state is kept this
	// long too, so that a repeated Complete answers the same.
	IdleTTL time.Duration
	// SweepInterval is how often Run looks for expired uploads
	// (DefaultSweepInterval).
	SweepInterval time.Duration
	// LeaseTTL bounds how long a writer may stall before another request
	// may take over the upload (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// StagingDir holds the staging files of the local backend; required
	// unless the object store is S3. Use a directory under the data
	// directory, on the same file system as the objects if possible.
	StagingDir string
	// Logger receives the janitor's reports (slog.Default()).
	Logger *slog.Logger
	// Now is the clock (time.Now); tests set it.
	Now func() time.Time
}

// Limits are the size rules a Service enforces.
type Limits struct {
	MaxSize, MinChunk, MaxChunk, ChunkSize int64
}

// Spec describes a new upload.
type Spec struct {
	// Key is the object key the file ends up at (blob.ValidKey).
	Key string
	// Size is the exact length of the file, 1 byte to Limits.MaxSize.
	Size int64
	// ContentType is the file's media type, such as "video/mp4".
	ContentType string
	// Labels are the caller's own data (who uploads, for what); the
	// Service keeps and returns them unchanged.
	Labels map[string]string
}

// Upload is the state of an upload as callers see it.
type Upload struct {
	ID          string
	Key         string
	Size        int64
	ContentType string
	Labels      map[string]string
	// Offset is the number of bytes durably received: the next chunk
	// starts here.
	Offset int64
	// ChunkSize is the suggested chunk size; MinChunk is this upload's
	// smallest allowed chunk but the last, MaxChunk its largest.
	ChunkSize, MinChunk, MaxChunk int64
	Created, Updated              time.Time
	// Expires is when the upload is removed unless a chunk arrives.
	Expires time.Time
	// Completed is set once Complete has put the object in place (and its
	// follow-up succeeded).
	Completed bool
}

// Errors of the Service. Errors about the caller's input are *InputError;
// a chunk at the wrong offset is an *OffsetError and Complete before the
// last byte an *IncompleteError.
var (
	// ErrNotFound: no such upload (unknown, expired, aborted).
	ErrNotFound = errors.New("upload: no such upload")
	// ErrBusy: another request is writing to the upload right now.
	ErrBusy = errors.New("upload: another request is writing to this upload")
	// ErrShortChunk: the chunk's body ended before its declared length.
	ErrShortChunk = errors.New("upload: the chunk ended before its declared length")
	// ErrCompleted: the upload is already complete (it cannot take chunks
	// or be aborted).
	ErrCompleted = errors.New("upload: the upload is already complete")
)

// Input error codes.
const (
	CodeKeyInvalid         = "key_invalid"
	CodeSizeInvalid        = "size_invalid"
	CodeTooLarge           = "too_large" // Limit: the largest upload
	CodeContentTypeInvalid = "content_type_invalid"
	CodeChunkEmpty         = "chunk_empty"
	CodeChunkTooLarge      = "chunk_too_large" // Limit: the largest chunk
	CodeChunkTooSmall      = "chunk_too_small" // Limit: the smallest chunk but the last
	CodeBeyondSize         = "beyond_size"     // Limit: the declared size
)

// InputError says what is wrong with a request; Limit is the bound it broke,
// where it has one.
type InputError struct {
	Code  string
	Limit int64
}

func (e *InputError) Error() string {
	if e.Limit > 0 {
		return fmt.Sprintf("upload: %s (limit %d bytes)", e.Code, e.Limit)
	}
	return "upload: " + e.Code
}

// OffsetError is a chunk sent for another offset than the one the upload
// continues at (Offset): a repeated chunk, or one after a gap.
type OffsetError struct {
	Offset int64 // where the upload continues
	Got    int64 // where the chunk said it starts
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("upload: chunk at offset %d, but the upload continues at %d", e.Got, e.Offset)
}

// IncompleteError is Complete called before every byte arrived.
type IncompleteError struct {
	Offset, Size int64
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("upload: incomplete: %d of %d bytes received", e.Offset, e.Size)
}

// backend stores the bytes of uploads; the Service keeps their state.
type backend interface {
	// begin prepares the storage of a new upload and returns the
	// reference that the other calls get as r.Ref.
	begin(ctx context.Context, r *record) (string, error)
	// writePart stores part number n (from 1) of the upload, starting at
	// r.Offset: exactly size bytes from body, streamed. It returns the
	// part's ETag, if the backend has one. On error nothing of the part
	// counts, and the bytes stored before r.Offset are unchanged.
	writePart(ctx context.Context, r *record, n int, body io.Reader, size int64) (string, error)
	// finish puts the whole file at r.Key. A backend that reads the file
	// itself reads it through keep(reader, size), which keeps the lease of
	// Complete alive while it reads. It fails with a *partsError when the
	// stored parts differ from r.Parts, and with errGone when the backend
	// holds nothing for the upload (any more).
	finish(ctx context.Context, r *record, keep func(io.Reader, int64) io.Reader) error
	// cancel removes what is stored for the upload; absent is no error.
	cancel(ctx context.Context, r *record) error
	// sweep removes what the backend holds for uploads that have no
	// state and were last touched before before; live reports whether
	// an upload ID or reference still has state. expired are the
	// records the janitor is removing that never got a reference (the
	// process stopped between begin and saving it).
	sweep(ctx context.Context, before time.Time, live func(idOrRef string) bool, expired []*record) error
}

// errGone: the backend holds nothing for the upload.
var errGone = errors.New("upload: the stored parts are gone")

// partsError: the backend's parts match the state only up to Valid parts.
type partsError struct {
	Valid int
	Why   string
}

func (e *partsError) Error() string {
	return fmt.Sprintf("upload: stored parts differ from the state after part %d: %s", e.Valid, e.Why)
}

// Service runs resumable uploads. It is safe for concurrent use, also by
// several processes (nodes) sharing its stores.
type Service struct {
	blobs   blob.Store
	state   kv.Store
	be      backend
	opt     Options
	log     *slog.Logger
	backend string
}

// s3Store is what the S3 backend needs of the object store (s3blob.Store).
type s3Store interface {
	Client() *minio.Client
	Bucket() string
}

// New returns a Service that puts objects into blobs and keeps the state
// of uploads in state. With an s3blob.Store the uploads are S3 multipart
// uploads into its bucket; otherwise they are staged in opt.StagingDir.
func New(blobs blob.Store, state kv.Store, opt Options) (*Service, error) {
	if blobs == nil || state == nil {
		return nil, errors.New("upload: New needs an object store and a state store")
	}
	opt = withDefaults(opt)
	s3s, isS3 := blobs.(s3Store)
	if err := checkOptions(opt, isS3); err != nil {
		return nil, err
	}
	s := &Service{blobs: blobs, state: state, opt: opt, log: opt.Logger}
	if isS3 {
		s.be = &s3Backend{core: minio.Core{Client: s3s.Client()}, bucket: s3s.Bucket()}
		s.backend = "s3"
	} else {
		be, err := newDirBackend(opt.StagingDir, blobs)
		if err != nil {
			return nil, err
		}
		s.be = be
		s.backend = "local"
	}
	return s, nil
}

func withDefaults(o Options) Options {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.MaxSize, DefaultMaxSize)
	def(&o.MinChunk, DefaultMinChunk)
	def(&o.MaxChunk, DefaultMaxChunk)
	def(&o.ChunkSize, DefaultChunkSize)
	if o.ChunkSize < o.MinChunk {
		o.ChunkSize = o.MinChunk
	}
	if o.ChunkSize > o.MaxChunk {
		o.ChunkSize = o.MaxChunk
	}
	if o.IdleTTL == 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.LeaseTTL == 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func checkOptions(o Options, isS3 bool) error {
	switch {
	case o.MaxSize < 1 || o.MinChunk < 1 || o.MaxChunk < 1:
		return errors.New("upload: sizes must be positive")
	case o.MinChunk > o.MaxChunk:
		return fmt.Errorf("upload: MinChunk %d is larger than MaxChunk %d", o.MinChunk, o.MaxChunk)
	case isS3 && o.MinChunk < s3MinPart:
		return fmt.Errorf("upload: MinChunk %d is below S3's smallest part of %d bytes", o.MinChunk, s3MinPart)
	case isS3 && o.MaxSize > o.MaxChunk*s3MaxParts:
		return fmt.Errorf("upload: MaxSize %d needs more than S3's %d parts of MaxChunk %d", o.MaxSize, s3MaxParts, o.MaxChunk)
	case o.IdleTTL < 0 || o.SweepInterval < 0 || o.LeaseTTL < 0:
		return errors.New("upload: durations must not be negative")
	case !isS3 && o.StagingDir == "":
		return errors.New("upload: StagingDir is required unless the object store is S3")
	}
	return nil
}

// Limits returns the size rules.
func (s *Service) Limits() Limits {
	return Limits{MaxSize: s.opt.MaxSize, MinChunk: s.opt.MinChunk, MaxChunk: s.opt.MaxChunk, ChunkSize: s.opt.ChunkSize}
}

// Backend names the backend: "s3" or "local".
func (s *Service) Backend() string { return s.backend }

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validID reports whether id can be an upload ID (what newID makes), so
// that no other string reaches a store key or a file name.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Create starts an upload. Nothing is visible at spec.Key until Complete.
func (s *Service) Create(ctx context.Context, spec Spec) (Upload, error) {
	if !blob.ValidKey(spec.Key) {
		return Upload{}, &InputError{Code: CodeKeyInvalid}
	}
	if spec.Size < 1 {
		return Upload{}, &InputError{Code: CodeSizeInvalid}
	}
	if spec.Size > s.opt.MaxSize {
		return Upload{}, &InputError{Code: CodeTooLarge, Limit: s.opt.MaxSize}
	}
	if mt, _, err := mime.ParseMediaType(spec.ContentType); err != nil || mt == "" || len(spec.ContentType) > 200 {
		return Upload{}, &InputError{Code: CodeContentTypeInvalid}
	}
	minChunk := s.opt.MinChunk
	if need := (spec.Size + s3MaxParts - 1) / s3MaxParts; need > minChunk {
		minChunk = need // stays within MaxChunk: checkOptions made sure
	}
	now := s.opt.Now()
	r := &record{
		ID: newID(), Key: spec.Key, Size: spec.Size, ContentType: spec.ContentType,
		MinChunk: minChunk, ChunkSize: max(s.opt.ChunkSize, minChunk),
		Labels: spec.Labels, Created: now, Updated: now,
	}
	// The state first, so that the janitor knows of the upload even if
	// this process stops before it saved the backend's reference.
	b, err := r.encode()
	if err != nil {
		return Upload{}, err
	}
	ok, err := s.state.Create(ctx, stateKey(r.ID), b, 0)
	if err != nil {
		return Upload{}, fmt.Errorf("upload: create: %w", err)
	}
	if !ok {
		return Upload{}, errors.New("upload: create: upload ID already taken")
	}
	ref, err := s.be.begin(ctx, r)
	if err == nil {
		_, err = s.update(ctx, r.ID, func(cur *record) error {
			cur.Ref = ref
			return nil
		})
	}
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		r.Ref = ref
		if ref != "" || s.backend == "local" {
			_ = s.be.cancel(cctx, r)
		}
		_ = s.state.Delete(cctx, stateKey(r.ID))
		return Upload{}, fmt.Errorf("upload: create: %w", err)
	}
	r.Ref = ref
	return s.view(r), nil
}

// Status returns the upload's state: Offset is where it continues.
func (s *Service) Status(ctx context.Context, id string) (Upload, error) {
	r, err := s.load(ctx, id)
	if err != nil {
		return Upload{}, err
	}
	return s.view(r), nil
}

// Write stores the chunk of n bytes read from body at offset. offset must
// be the upload's current Offset (else *OffsetError), and n must keep to
// the chunk limits (else *InputError). The chunk is streamed to the
// backend; it counts once it is stored whole. A body shorter than n fails
// with ErrShortChunk and leaves the upload as it was.
func (s *Service) Write(ctx context.Context, id string, offset int64, body io.Reader, n int64) (Upload, error) {
	if n < 1 {
		return Upload{}, &InputError{Code: CodeChunkEmpty}
	}
	token := newID()
	var partNo int
	r, err := s.update(ctx, id, func(cur *record) error {
		switch {
		case cur.State == stateAssembled || cur.State == stateCompleted:
			return ErrCompleted
		case offset != cur.Offset:
			return &OffsetError{Offset: cur.Offset, Got: offset}
		case cur.leased(s.opt.Now()):
			return ErrBusy
		case offset+n > cur.Size:
			return &InputError{Code: CodeBeyondSize, Limit: cur.Size}
		case n > s.opt.MaxChunk:
			return &InputError{Code: CodeChunkTooLarge, Limit: s.opt.MaxChunk}
		case n < cur.MinChunk && offset+n != cur.Size:
			return &InputError{Code: CodeChunkTooSmall, Limit: cur.MinChunk}
		case s.backend == "s3" && cur.Ref == "":
			return ErrNotFound // its creation never finished
		}
		partNo = len(cur.Parts) + 1
		cur.lease(token, s.opt.Now().Add(s.opt.LeaseTTL))
		return nil
	})
	if err != nil {
		return Upload{}, err
	}
	lr := &leaseReader{ctx: ctx, s: s, id: id, token: token, r: body, remaining: n, renewed: s.opt.Now()}
	etag, err := s.be.writePart(ctx, r, partNo, lr, n)
	if err == nil && lr.remaining != 0 {
		err = fmt.Errorf("upload: the backend read %d of %d bytes", n-lr.remaining, n)
	}
	if err != nil {
		if errors.Is(err, errGone) {
			// The backend lost the parts (removed by hand, or by the S3
			// server's own clean-up): the upload cannot go on.
			s.forget(ctx, id)
			return Upload{}, fmt.Errorf("upload: write at %d: %w (%v)", offset, ErrNotFound, err)
		}
		s.release(id, token)
		if lr.err != nil {
			err = fmt.Errorf("%w (%v)", lr.err, err)
		}
		return Upload{}, fmt.Errorf("upload: write at %d: %w", offset, err)
	}
	// The chunk is stored: record it even if the client has gone since.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stateTimeout)
	defer cancel()
	r, err = s.update(cctx, id, func(cur *record) error {
		if cur.Lease != token || cur.Offset != offset {
			return ErrBusy // the lease ran out and another writer took over
		}
		cur.Offset += n
		cur.Parts = append(cur.Parts, part{Size: n, ETag: etag})
		cur.Updated = s.opt.Now()
		cur.unlease()
		return nil
	})
	if err != nil {
		s.release(id, token)
		return Upload{}, fmt.Errorf("upload: write at %d: %w", offset, err)
	}
	return s.view(r), nil
}

// Complete puts the whole file at the upload's key (all-or-nothing) and
// then runs then, if not nil (to start processing the file, say). It
// fails with *IncompleteError before the last byte arrived. When then
// fails, the object stays in place and the error is returned; calling
// Complete again runs then again. Once then succeeded, Complete only
// returns the completed upload, without running then again.
func (s *Service) Complete(ctx context.Context, id string, then func(context.Context, Upload) error) (Upload, error) {
	token := newID()
	r, err := s.update(ctx, id, func(cur *record) error {
		switch {
		case cur.State == stateCompleted:
			return nil
		case cur.Offset != cur.Size:
			return &IncompleteError{Offset: cur.Offset, Size: cur.Size}
		case cur.leased(s.opt.Now()):
			return ErrBusy
		}
		cur.lease(token, s.opt.Now().Add(s.opt.LeaseTTL))
		return nil
	})
	if err != nil {
		return Upload{}, err
	}
	if r.State == stateCompleted {
		return s.view(r), nil
	}
	// From here on the work goes on if the client leaves: assembling a
	// large file takes a while, and a client that asks again meanwhile
	// gets ErrBusy until it is done.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), assembleTimeout)
	defer cancel()
	if r.State != stateAssembled {
		if err := s.assemble(ctx, r, token); err != nil {
			return Upload{}, err
		}
		if r, err = s.update(ctx, id, func(cur *record) error {
			if cur.Lease != token {
				return ErrBusy
			}
			cur.State, cur.Ref, cur.Parts = stateAssembled, "", nil
			return nil
		}); err != nil {
			return Upload{}, fmt.Errorf("upload: complete: %w", err)
		}
	}
	if then != nil {
		u := s.view(r)
		u.Completed = true
		if err := then(ctx, u); err != nil {
			s.release(id, token)
			return Upload{}, fmt.Errorf("upload: after completing %s: %w", r.Key, err)
		}
	}
	r, err = s.update(ctx, id, func(cur *record) error {
		if cur.Lease != token {
			return ErrBusy
		}
		cur.State = stateCompleted
		cur.Updated = s.opt.Now()
		cur.unlease()
		return nil
	})
	if err != nil {
		return Upload{}, fmt.Errorf("upload: complete: %w", err)
	}
	return s.view(r), nil
}

// assemble has the backend put the object in place and checks it.
func (s *Service) assemble(ctx context.Context, r *record, token string) error {
	keep := func(body io.Reader, size int64) io.Reader {
		return &leaseReader{ctx: ctx, s: s, id: r.ID, token: token, r: body, remaining: size, renewed: s.opt.Now()}
	}
	err := s.be.finish(ctx, r, keep)
	var pe *partsError
	switch {
	case errors.As(err, &pe):
		// Parts went missing or were overwritten (a writer that lost its
		// lease, say): keep what is still right and have the client
		// resend the rest.
		s.log.Warn("upload: stored parts differ from the state; resuming from the last good part",
			"upload", r.ID, "valid_parts", pe.Valid, "why", pe.Why)
		nr, uerr := s.update(ctx, r.ID, func(cur *record) error {
			if len(cur.Parts) > pe.Valid {
				cur.Parts = cur.Parts[:pe.Valid]
			}
			cur.Offset = 0
			for _, p := range cur.Parts {
				cur.Offset += p.Size
			}
			cur.unlease()
			return nil
		})
		if uerr != nil {
			return fmt.Errorf("upload: complete: %w", uerr)
		}
		return &IncompleteError{Offset: nr.Offset, Size: nr.Size}
	case errors.Is(err, errGone):
		// A previous Complete may have put the object in place and stopped
		// before it said so.
		if info, serr := s.blobs.Stat(ctx, r.Key); serr == nil && info.Size == r.Size && !info.Modified.Before(r.Created.Add(-time.Minute)) {
			return nil
		}
		s.forget(ctx, r.ID)
		return fmt.Errorf("upload: complete %s: %w (%v)", r.ID, ErrNotFound, err)
	case err != nil:
		s.release(r.ID, r.Lease)
		return fmt.Errorf("upload: complete %s: %w", r.ID, err)
	}
	info, err := s.blobs.Stat(ctx, r.Key)
	if err != nil {
		s.release(r.ID, r.Lease)
		return fmt.Errorf("upload: complete %s: check the object: %w", r.ID, err)
	}
	if info.Size != r.Size {
		s.release(r.ID, r.Lease)
		return fmt.Errorf("upload: complete %s: the object has %d bytes, not %d", r.ID, info.Size, r.Size)
	}
	return nil
}

// Abort removes the upload and everything stored for it. An upload that a
// chunk is being written to is aborted too: that chunk then fails.
func (s *Service) Abort(ctx context.Context, id string) error {
	r, err := s.update(ctx, id, func(cur *record) error {
		if cur.State == stateAssembled || cur.State == stateCompleted {
			return ErrCompleted
		}
		cur.State = stateAborting
		return nil
	})
	if err != nil {
		return err
	}
	return s.remove(ctx, r)
}

// remove cancels the backend's part of an aborting upload and then deletes
// its state; if the backend fails, the state stays for the janitor.
func (s *Service) remove(ctx context.Context, r *record) error {
	if err := s.be.cancel(ctx, r); err != nil {
		return fmt.Errorf("upload: abort %s: %w", r.ID, err)
	}
	if err := s.state.Delete(ctx, stateKey(r.ID)); err != nil {
		return fmt.Errorf("upload: abort %s: %w", r.ID, err)
	}
	return nil
}

// forget removes an upload whose parts the backend lost; best effort.
func (s *Service) forget(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Abort(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Warn("upload: removing an upload whose parts are gone", "upload", id, "err", err)
	}
}

// view is the caller's view of a record.
func (s *Service) view(r *record) Upload {
	return Upload{
		ID: r.ID, Key: r.Key, Size: r.Size, ContentType: r.ContentType, Labels: r.Labels,
		Offset: r.Offset, ChunkSize: r.ChunkSize, MinChunk: r.MinChunk, MaxChunk: s.opt.MaxChunk,
		Created: r.Created, Updated: r.Updated, Expires: r.Updated.Add(s.opt.IdleTTL),
		Completed: r.State == stateCompleted,
	}
}

// leaseReader passes the chunk's bytes on, at most remaining of them, and
// renews the writer's lease while they flow. It turns a body that ends
// early into ErrShortChunk, an error that no backend takes for a normal
// end of its input.
type leaseReader struct {
	ctx       context.Context
	s         *Service
	id, token string
	r         io.Reader
	remaining int64
	renewed   time.Time
	err       error // the first failure, kept for the caller
}

func (l *leaseReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.remaining == 0 {
		return 0, io.EOF
	}
	if err := l.ctx.Err(); err != nil {
		l.err = err
		return 0, err
	}
	if int64(len(p)) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.r.Read(p)
	l.remaining -= int64(n)
	switch {
	case err == io.EOF && l.remaining > 0, errors.Is(err, io.ErrUnexpectedEOF):
		l.err = fmt.Errorf("%w: %d bytes missing", ErrShortChunk, l.remaining)
	case err != nil && err != io.EOF:
		l.err = fmt.Errorf("upload: reading the chunk: %w", err)
	}
	if l.err == nil && l.s.opt.Now().Sub(l.renewed) > l.s.opt.LeaseTTL/3 {
		if rerr := l.renew(); rerr != nil {
			l.err = rerr
		}
	}
	if l.err != nil {
		return n, l.err
	}
	if l.remaining == 0 {
		return n, io.EOF
	}
	return n, nil
}

func (l *leaseReader) renew() error {
	now := l.s.opt.Now()
	_, err := l.s.update(l.ctx, l.id, func(cur *record) error {
		if cur.Lease != l.token || cur.State == stateAborting {
			return ErrBusy
		}
		cur.LeaseUntil = now.Add(l.s.opt.LeaseTTL)
		cur.Updated = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("upload: renewing the lease: %w", err)
	}
	l.renewed = now
	return nil
}

// release gives up a lease after a failure; it is best effort (the lease
// runs out anyway).
func (s *Service) release(id, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.update(ctx, id, func(cur *record) error {
		if cur.Lease == token {
			cur.unlease()
		}
		return nil
	})
}
