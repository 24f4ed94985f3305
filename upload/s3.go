package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// s3Backend keeps an upload as an S3 multipart upload at its target key:
// one part per chunk. Parts are invisible until CompleteMultipartUpload,
// which makes the object appear whole.
type s3Backend struct {
	core   minio.Core
	bucket string
}

func (b *s3Backend) begin(ctx context.Context, r *record) (string, error) {
	id, err := b.core.NewMultipartUpload(ctx, b.bucket, r.Key, minio.PutObjectOptions{ContentType: r.ContentType})
	if err != nil {
		return "", fmt.Errorf("s3: start multipart upload of %q: %w", r.Key, err)
	}
	return id, nil
}

// writePart sends the part with its exact length: the request streams the
// body (minio-go signs it in small chunks), so nothing of it is buffered
// here. body is not seekable, so minio-go sends it once, without retries:
// the client resends a failed chunk.
func (b *s3Backend) writePart(ctx context.Context, r *record, n int, body io.Reader, size int64) (string, error) {
	p, err := b.core.PutObjectPart(ctx, b.bucket, r.Key, r.Ref, n, onlyReader{body}, size, minio.PutObjectPartOptions{})
	if err != nil {
		if noSuchUpload(err) {
			return "", fmt.Errorf("s3: part %d of %q: %w", n, r.Key, errGone)
		}
		return "", fmt.Errorf("s3: part %d of %q: %w", n, r.Key, err)
	}
	if p.ETag == "" {
		return "", fmt.Errorf("s3: part %d of %q: no ETag in the answer", n, r.Key)
	}
	return p.ETag, nil
}

// onlyReader hides every method of a reader but Read, so that minio-go
// never tries to seek or re-read a request body.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// finish lists the stored parts, checks them against the state (numbers,
// sizes and ETags) and completes the multipart upload.
func (b *s3Backend) finish(ctx context.Context, r *record, _ func(io.Reader, int64) io.Reader) error {
	stored, err := b.listParts(ctx, r)
	if err != nil {
		return err
	}
	parts := make([]minio.CompletePart, len(r.Parts))
	for i, want := range r.Parts {
		if i >= len(stored) {
			return &partsError{Valid: i, Why: fmt.Sprintf("only %d parts stored", len(stored))}
		}
		got := stored[i]
		if got.PartNumber != i+1 || got.Size != want.Size || strings.Trim(got.ETag, `"`) != want.ETag {
			return &partsError{Valid: i, Why: fmt.Sprintf("part %d is #%d with %d bytes and ETag %s, want %d bytes and ETag %s",
				i+1, got.PartNumber, got.Size, got.ETag, want.Size, want.ETag)}
		}
		parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: want.ETag}
	}
	// Parts beyond the state (a chunk stored whose commit failed) are
	// simply left out: S3 drops them with the upload.
	if _, err := b.core.CompleteMultipartUpload(ctx, b.bucket, r.Key, r.Ref, parts, minio.PutObjectOptions{ContentType: r.ContentType}); err != nil {
		if noSuchUpload(err) {
			return fmt.Errorf("s3: complete %q: %w", r.Key, errGone)
		}
		return fmt.Errorf("s3: complete %q: %w", r.Key, err)
	}
	return nil
}

func (b *s3Backend) listParts(ctx context.Context, r *record) ([]minio.ObjectPart, error) {
	var out []minio.ObjectPart
	marker := 0
	for {
		res, err := b.core.ListObjectParts(ctx, b.bucket, r.Key, r.Ref, marker, 1000)
		if err != nil {
			if noSuchUpload(err) {
				return nil, fmt.Errorf("s3: list parts of %q: %w", r.Key, errGone)
			}
			return nil, fmt.Errorf("s3: list parts of %q: %w", r.Key, err)
		}
		out = append(out, res.ObjectParts...)
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			return out, nil
		}
		marker = res.NextPartNumberMarker
	}
}

func (b *s3Backend) cancel(ctx context.Context, r *record) error {
	if r.Ref == "" {
		return nil
	}
	err := b.core.AbortMultipartUpload(ctx, b.bucket, r.Key, r.Ref)
	if err != nil && !noSuchUpload(err) {
		return fmt.Errorf("s3: abort multipart upload of %q: %w", r.Key, err)
	}
	return nil
}

// sweep aborts the multipart uploads at the keys of expired records that
// never saved their reference, when nothing else refers to them and they
// began before before. Other incomplete uploads in the bucket are not this
// package's: it leaves them alone (MinIO removes stale ones itself).
func (b *s3Backend) sweep(ctx context.Context, before time.Time, live func(string) bool, expired []*record) error {
	var errs []error
	for _, r := range expired {
		lctx, cancel := context.WithCancel(ctx)
		for u := range b.core.ListIncompleteUploads(lctx, b.bucket, r.Key, false) {
			if u.Err != nil {
				errs = append(errs, u.Err)
				break
			}
			if u.Key != r.Key || live(u.UploadID) || u.Initiated.Before(r.Created.Add(-time.Minute)) || !u.Initiated.Before(before) {
				continue
			}
			if err := b.core.AbortMultipartUpload(ctx, b.bucket, u.Key, u.UploadID); err != nil && !noSuchUpload(err) {
				errs = append(errs, err)
			}
		}
		cancel()
	}
	return errors.Join(errs...)
}

func noSuchUpload(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && resp.Code == "NoSuchUpload"
}
