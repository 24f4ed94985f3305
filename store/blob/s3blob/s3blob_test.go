package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/blob/blobtest"
	"portalo/store/blob/s3blob"
)

// testPartSize makes the suite's 12 MiB objects go up in several parts.
const testPartSize = 5 << 20

func config(t *testing.T) s3blob.Config {
	c := storetest.S3Config(t)
	c.PartSize = testPartSize
	return c
}

// newStore opens a store on a fresh bucket that is removed, objects and
// unfinished uploads first, when the test ends.
func newStore(t *testing.T) *s3blob.Store {
	t.Helper()
	ctx := context.Background()
	s, err := s3blob.Open(ctx, config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storetest.RemoveBucket(t, s.Client(), s.Bucket()) })
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

func TestBucketName(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	seen := map[string]bool{}
	for range 3 {
		n := config(t).Bucket
		if len(n) < 3 || len(n) > 63 || !re.MatchString(n) || seen[n] {
			t.Errorf("bad or repeated bucket name %q", n)
		}
		seen[n] = true
	}
}

func TestOpenWrongCredentials(t *testing.T) {
	for _, tt := range []struct {
		name        string
		mutate      func(*s3blob.Config)
		wantMessage string
	}{
		{"wrong secret key", func(c *s3blob.Config) { c.SecretKey += "-wrong" }, "rejected the credentials"},
		{"unknown access key", func(c *s3blob.Config) { c.AccessKey = "nobody-" + c.AccessKey }, "rejected the credentials"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := config(t)
			tt.mutate(&c)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := s3blob.Open(ctx, c)
			if err == nil {
				storetest.RemoveBucket(t, s.Client(), s.Bucket())
				t.Fatal("Open with wrong credentials succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.Endpoint) || !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("error %q should name %s and say %q", msg, c.Endpoint, tt.wantMessage)
			}
			var resp minio.ErrorResponse
			if !errors.As(err, &resp) || resp.Code == "" {
				t.Errorf("error %v does not wrap the server's answer", err)
			}
		})
	}
}

// Needs no server: nothing listens on the port.
func TestOpenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = s3blob.Open(ctx, s3blob.Config{Endpoint: endpoint, AccessKey: "a", SecretKey: "b", Bucket: "portalo-test"})
	if err == nil {
		t.Fatal("Open of an unreachable endpoint succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, endpoint) || !strings.Contains(msg, "cannot reach") {
		t.Errorf("error %q should say it cannot reach %s", msg, endpoint)
	}
}

func TestOpenBadConfig(t *testing.T) {
	ctx := context.Background()
	for _, c := range []s3blob.Config{
		{Endpoint: "", Bucket: "portalo"},
		{Endpoint: "http://127.0.0.1:9000", Bucket: "portalo"},
		{Endpoint: "127.0.0.1:9000", Bucket: "Not_A_Bucket"},
		{Endpoint: "127.0.0.1:9000", Bucket: "portalo", PartSize: 1 << 20},
	} {
		if _, err := s3blob.Open(ctx, c); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

// Several nodes starting at once all create the bucket; all must succeed.
func TestOpenConcurrentCreate(t *testing.T) {
	c := config(t)
	var wg sync.WaitGroup
	stores := make([]*s3blob.Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = s3blob.Open(context.Background(), c) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { storetest.RemoveBucket(t, s.Client(), s.Bucket()) })
			break
		}
	}
	// The existing bucket is reused, with its objects.
	if stores[0] != nil && stores[1] != nil {
		ctx := context.Background()
		if _, err := stores[0].Put(ctx, "k", strings.NewReader("v"), 1, ""); err != nil {
			t.Fatal(err)
		}
		if info, err := stores[1].Stat(ctx, "k"); err != nil || info.Size != 1 {
			t.Errorf("Stat through another store = %+v, %v", info, err)
		}
	}
}

type failAfter struct {
	r io.Reader
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("upload source failed")
	}
	return n, err
}

// uploadsOf lists the unfinished multipart uploads of key. (MinIO lists
// them by exact object name only, not by a shorter prefix.)
func uploadsOf(t *testing.T, s *s3blob.Store, key string) []string {
	t.Helper()
	var ids []string
	for u := range s.Client().ListIncompleteUploads(context.Background(), s.Bucket(), key, true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		ids = append(ids, u.UploadID)
	}
	return ids
}

// A failed multipart upload must be aborted, not left to hold its parts.
func TestFailedMultipartIsAborted(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	const key = "mp/key"

	// Positive control: a dangling upload is seen by uploadsOf.
	core := minio.Core{Client: s.Client()}
	id, err := core.NewMultipartUpload(ctx, s.Bucket(), key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := uploadsOf(t, s, key); !slices.Equal(got, []string{id}) {
		t.Fatalf("uploads = %q; want the dangling %q", got, id)
	}
	if err := core.AbortMultipartUpload(ctx, s.Bucket(), key, id); err != nil {
		t.Fatal(err)
	}

	data := bytes.Repeat([]byte("p"), 3*testPartSize+1000)
	for _, size := range []int64{-1, int64(len(data)) + 1} {
		_, err := s.Put(ctx, key, &failAfter{bytes.NewReader(data)}, size, "")
		if err == nil {
			t.Fatalf("size %d: failing Put succeeded", size)
		}
		if got := uploadsOf(t, s, key); len(got) != 0 {
			t.Errorf("size %d: uploads %q left behind", size, got)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("size %d: Stat after failed Put: %v", size, err)
		}
	}
}

func TestPingMissingBucket(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.Client().RemoveBucket(ctx, s.Bucket()); err != nil {
		t.Fatal(err)
	}
	defer s.Client().MakeBucket(ctx, s.Bucket(), minio.MakeBucketOptions{}) // for the cleanup
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), s.Bucket()) {
		t.Errorf("Ping of a removed bucket = %v; want an error naming it", err)
	}
	// A missing bucket is not a missing object.
	if _, err := s.Stat(ctx, "k"); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat in a removed bucket = %v; want an error other than ErrNotFound", err)
	}
}
