// Package s3blob owns the S3 implementation of blob.Store: objects in one
// bucket of MinIO or any S3-compatible server, shared by several nodes.
//
// Writes are all-or-nothing because S3 makes an object visible only when
// its single PUT or its multipart upload completes; minio-go aborts the
// multipart upload when the reader or the context fails.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"portalo/store/blob"
)

const (
	defaultContentType = "application/octet-stream"

	// DefaultPartSize is the multipart part size used when Config.PartSize
	// is zero.
	DefaultPartSize = 16 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000

	pingTimeout = 5 * time.Second
)

// Config says where the bucket is.
type Config struct {
	Endpoint  string // host:port, without scheme
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string // may be empty for MinIO
	TLS       bool
	// PartSize is the multipart part size (default DefaultPartSize, at
	// least 5 MiB). An upload of unknown size buffers one part in memory
	// and can be at most 10,000 parts long; uploads of known size are
	// split as the server's limits require.
	PartSize int64
}

// Store is a blob.Store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client   *minio.Client
	bucket   string
	endpoint string
	partSize int64
}

var _ blob.Store = (*Store)(nil)

// Open connects to the server and creates the bucket when it is missing.
// The errors name the endpoint and tell unreachable servers apart from
// rejected credentials.
func Open(ctx context.Context, c Config) (*Store, error) {
	if c.Endpoint == "" {
		return nil, errors.New("s3blob: open: no endpoint configured")
	}
	if strings.Contains(c.Endpoint, "://") {
		return nil, fmt.Errorf("s3blob: open: endpoint %q must be host:port without scheme (set TLS for https)", c.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return nil, fmt.Errorf("s3blob: open: bucket %q at %s: %w", c.Bucket, c.Endpoint, err)
	}
	partSize := c.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize {
		return nil, fmt.Errorf("s3blob: open: part size %d is below the S3 minimum of %d bytes", partSize, minPartSize)
	}
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.TLS,
		Region: c.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: open %s: %w", c.Endpoint, err)
	}
	s := &Store{client: client, bucket: c.Bucket, endpoint: c.Endpoint, partSize: partSize}
	if err := s.ensureBucket(ctx, c.Region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.connError("check bucket", err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err == nil {
		return nil
	}
	// Another node may have created it since BucketExists: fine, as long
	// as we can now see it.
	switch errorCode(err) {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		if ok, err2 := s.client.BucketExists(ctx, s.bucket); err2 == nil && ok {
			return nil
		}
	}
	return s.connError("create bucket", err)
}

// connError explains a failure to talk to the bucket.
func (s *Store) connError(op string, err error) error {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("s3blob: %s %q at %s: %w", op, s.bucket, s.endpoint, err)
		}
		return fmt.Errorf("s3blob: %s %q: cannot reach %s: %w", op, s.bucket, s.endpoint, err)
	}
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidSecurity":
		return fmt.Errorf("s3blob: %s %q: %s rejected the credentials (check the access key and secret key): %w", op, s.bucket, s.endpoint, err)
	case "AccessDenied":
		return fmt.Errorf("s3blob: %s %q: %s denied access with these credentials: %w", op, s.bucket, s.endpoint, err)
	}
	return fmt.Errorf("s3blob: %s %q at %s: %w", op, s.bucket, s.endpoint, err)
}

// Client returns the underlying client, for features beyond blob.Store
// (presigned URLs, client-driven multipart uploads).
func (s *Store) Client() *minio.Client { return s.client }

// Bucket returns the bucket name.
func (s *Store) Bucket() string { return s.bucket }

func errorCode(err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.Code
	}
	return ""
}

// isNotFound reports whether err says the object does not exist. A
// missing bucket is a configuration error, not a missing object.
func isNotFound(err error) bool {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return false
	}
	switch resp.Code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return resp.StatusCode == http.StatusNotFound
}

func (s *Store) objectError(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("s3blob: %s %q: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3blob: %s %q in bucket %q at %s: %w", op, key, s.bucket, s.endpoint, err)
}

func infoOf(o minio.ObjectInfo) blob.Info {
	return blob.Info{
		Key:         o.Key,
		Size:        o.Size,
		ContentType: o.ContentType,
		ETag:        strings.Trim(o.ETag, `"`),
		Modified:    o.LastModified,
	}
}

// Put implements blob.Store with PutObject. Objects up to the part size
// (or of unknown size) are streamed with the part buffered in memory;
// larger ones go up in parts. Either way nothing is visible at key until
// the upload completes, and a failed multipart upload is aborted.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (blob.Info, error) {
	if !blob.ValidKey(key) {
		return blob.Info{}, fmt.Errorf("s3blob: put %q: %w", key, blob.ErrInvalidKey)
	}
	if size < -1 {
		return blob.Info{}, fmt.Errorf("s3blob: put %q: invalid size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return blob.Info{}, fmt.Errorf("s3blob: put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = defaultContentType
	}
	opts := minio.PutObjectOptions{ContentType: contentType}
	// A configured part size must cover the object in 10,000 parts; for
	// bigger known sizes minio-go picks a larger one itself.
	if size < 0 || size <= s.partSize*maxParts {
		opts.PartSize = uint64(s.partSize)
	}
	up, err := s.client.PutObject(ctx, s.bucket, key, guard(ctx, r, size), size, opts)
	if err != nil {
		return blob.Info{}, s.objectError("put", key, err)
	}
	if size >= 0 && up.Size != size {
		// Cannot happen with minio-go, which fails short readers; say so
		// loudly rather than report a wrong size if it ever does.
		return blob.Info{}, fmt.Errorf("s3blob: put %q: stored %d bytes, declared %d", key, up.Size, size)
	}
	modified := up.LastModified
	if modified.IsZero() {
		// A single PUT's response carries no date; the server's clock
		// stamped the object during this call.
		modified = time.Now()
	}
	return blob.Info{
		Key:         key,
		Size:        up.Size,
		ContentType: contentType,
		ETag:        strings.Trim(up.ETag, `"`),
		Modified:    modified,
	}, nil
}

// guardReader shields minio-go from source errors it would misread. It
// takes io.ErrUnexpectedEOF (a truncated HTTP body, say) for the normal end
// of a short last part: unknown-size uploads then complete with the data
// read so far, and known-size ones retry the short part ten times before
// failing. guardReader turns both a failing source and one ending before
// the declared size into errors minio-go does not compare equal to io.EOF
// or io.ErrUnexpectedEOF, so the upload is aborted at once. It also stops
// reading a slow source once ctx is done.
type guardReader struct {
	ctx       context.Context
	r         io.Reader
	remaining int64 // -1: unknown size
	read      int64
}

var errShortBody = errors.New("s3blob: body shorter than its declared size")

// guard wraps r unless it is a file-like io.ReaderAt and io.Seeker, which
// minio-go reads by sections (and can retry and upload in parallel).
func guard(ctx context.Context, r io.Reader, size int64) io.Reader {
	if _, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	}); ok {
		return r
	}
	return &guardReader{ctx: ctx, r: r, remaining: size}
}

func (g *guardReader) Read(p []byte) (int, error) {
	if err := g.ctx.Err(); err != nil {
		return 0, fmt.Errorf("s3blob: reading the body: %w", err)
	}
	if g.remaining == 0 {
		return 0, io.EOF
	}
	if g.remaining > 0 && int64(len(p)) > g.remaining {
		p = p[:g.remaining]
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	if g.remaining > 0 {
		g.remaining -= int64(n)
	}
	switch {
	case err == io.EOF && g.remaining > 0:
		return n, fmt.Errorf("%w: got %d bytes, %d missing", errShortBody, g.read, g.remaining)
	case err != nil && err != io.EOF:
		return n, fmt.Errorf("s3blob: reading the body after %d bytes: %w", g.read, err)
	}
	return n, err
}

// Open implements blob.Store. The returned *minio.Object reads with ranged
// GETs pinned to the ETag it first saw, so a concurrent overwrite makes a
// read fail instead of mixing versions. Reads use ctx: keep it alive until
// the object is closed.
func (s *Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	if !blob.ValidKey(key) {
		return nil, blob.Info{}, fmt.Errorf("s3blob: open %q: %w", key, blob.ErrInvalidKey)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Info{}, s.objectError("open", key, err)
	}
	oi, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, blob.Info{}, s.objectError("open", key, err)
	}
	return obj, infoOf(oi), nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if !blob.ValidKey(key) {
		return blob.Info{}, fmt.Errorf("s3blob: stat %q: %w", key, blob.ErrInvalidKey)
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, s.objectError("stat", key, err)
	}
	return infoOf(oi), nil
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !blob.ValidKey(key) {
		return fmt.Errorf("s3blob: delete %q: %w", key, blob.ErrInvalidKey)
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return s.objectError("delete", key, err)
	}
	return nil
}

// List implements blob.Store. S3 listings carry no content type, so the
// Infos have an empty ContentType. Objects whose names are not valid keys
// (written by other tools, such as "folder/" markers) are left out.
func (s *Store) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	if !blob.ValidPrefix(prefix) {
		return nil, fmt.Errorf("s3blob: list %q: %w", prefix, blob.ErrInvalidKey)
	}
	ctx, cancel := context.WithCancel(ctx) // stops the listing goroutine on early return
	defer cancel()
	var out []blob.Info
	for o := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3blob: list %q in bucket %q at %s: %w", prefix, s.bucket, s.endpoint, o.Err)
		}
		if blob.ValidKey(o.Key) {
			out = append(out, infoOf(o))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3blob: list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b blob.Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Ping implements blob.Store: the bucket must answer within a few seconds.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.connError("ping bucket", err)
	}
	if !ok {
		return fmt.Errorf("s3blob: ping: bucket %q does not exist at %s", s.bucket, s.endpoint)
	}
	return nil
}
