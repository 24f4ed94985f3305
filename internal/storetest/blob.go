package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"portalo/internal/testenv"
	"portalo/store/blob"
	"portalo/store/blob/dirblob"
	"portalo/store/blob/s3blob"
	"portalo/store/kv"
)

// Blob runs fn as one subtest per object store backend ("embedded": a
// dirblob in a temporary directory; "minio": an s3blob on a fresh bucket
// of the test MinIO), each empty and removed after the subtest.
func Blob(t *testing.T, fn func(t *testing.T, s blob.Store)) {
	t.Run("embedded", func(t *testing.T) { fn(t, newDirBlob(t)) })
	t.Run("minio", func(t *testing.T) { fn(t, NewS3Blob(t)) })
}

// Stores runs fn as one subtest per deployment, with an empty object store
// and an empty kv.Store of the same kind: "embedded" (dirblob and boltkv,
// what a single machine runs) and "servers" (s3blob on the test MinIO and
// rediskv on the test Redis, what several nodes share). Both are removed
// after the subtest.
func Stores(t *testing.T, fn func(t *testing.T, b blob.Store, k kv.Store)) {
	t.Run("embedded", func(t *testing.T) {
		fn(t, newDirBlob(t), newBoltKV(t))
	})
	t.Run("servers", func(t *testing.T) {
		b := NewS3Blob(t)
		fn(t, b, newRedisKV(t))
	})
}

func newDirBlob(t *testing.T) *dirblob.Store {
	t.Helper()
	s, err := dirblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var nonBucketChars = regexp.MustCompile(`[^a-z0-9]+`)

// bucketName is unique per call and valid for S3: lowercase letters,
// digits and single hyphens, at most 63 characters.
func bucketName(t *testing.T) string {
	name := nonBucketChars.ReplaceAllString(strings.ToLower(t.Name()), "-")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = strings.Trim(name, "-")
	b := make([]byte, 5)
	rand.Read(b)
	return strings.ReplaceAll("pt-"+name+"-"+hex.EncodeToString(b), "--", "-")
}

// NewS3Blob opens an s3blob store on a fresh bucket of the test MinIO; the
// bucket, with its objects and unfinished uploads, is removed when the test
// ends. Without a configured MinIO the test is skipped (failed when
// strict, see testenv).
func NewS3Blob(t *testing.T) *s3blob.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := s3blob.Open(ctx, S3Config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveBucket(t, s.Client(), s.Bucket()) })
	return s
}

// S3Config is the configuration of an s3blob store on the test MinIO
// with a bucket name of its own (the bucket is not made yet).
func S3Config(t *testing.T) s3blob.Config {
	env := testenv.MinIO(t)
	return s3blob.Config{
		Endpoint:  env.Endpoint,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		Bucket:    bucketName(t),
	}
}

// RemoveBucket removes a test bucket with its objects and unfinished
// uploads, reporting what it could not remove.
func RemoveBucket(t *testing.T, c *minio.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objects := c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true})
	for res := range c.RemoveObjects(ctx, bucket, objects, minio.RemoveObjectsOptions{}) {
		t.Errorf("cleanup: remove %s/%s: %v", bucket, res.ObjectName, res.Err)
	}
	for u := range c.ListIncompleteUploads(ctx, bucket, "", true) {
		if u.Err == nil {
			_ = c.RemoveIncompleteUpload(ctx, bucket, u.Key)
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		t.Errorf("cleanup: remove bucket %s: %v", bucket, err)
	}
}
