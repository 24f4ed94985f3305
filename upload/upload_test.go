package upload

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/kv"
)

// The contract suite: every test runs on both deployments (storetest.Stores),
// so on both backends: "embedded" (dirblob and boltkv: the local backend)
// and "servers" (s3blob on MinIO and rediskv: the S3 multipart backend).

const (
	chunk   = 5 << 20 // the smallest chunk S3 allows
	testKey = "media/item1/source/original.mp4"
)

// fakeClock is a clock that tests move.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// env is one deployment: its stores and the staging directory that every
// Service of the test shares (as a restarted process would).
type env struct {
	blobs   blob.Store
	state   kv.Store
	staging string
}

func newEnv(t *testing.T, b blob.Store, k kv.Store) *env {
	return &env{blobs: b, state: k, staging: filepath.Join(t.TempDir(), "uploads")}
}

func (e *env) service(t *testing.T, opt Options) *Service {
	t.Helper()
	opt.StagingDir = e.staging
	if opt.MaxChunk == 0 {
		opt.MaxChunk = 8 << 20
	}
	if opt.ChunkSize == 0 {
		opt.ChunkSize = chunk
	}
	s, err := New(e.blobs, e.state, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'u', 'p'})
	_, _ = rng.Read(b)
	return b
}

// send writes data[from:] to the upload in chunks of size step.
func send(t *testing.T, s *Service, id string, data []byte, from, step int) Upload {
	t.Helper()
	var u Upload
	for off := from; off < len(data); off += step {
		end := min(off+step, len(data))
		var err error
		u, err = s.Write(context.Background(), id, int64(off), onlyReader{bytes.NewReader(data[off:end])}, int64(end-off))
		if err != nil {
			t.Fatalf("write at %d: %v", off, err)
		}
		if u.Offset != int64(end) {
			t.Fatalf("after the chunk at %d: offset %d, want %d", off, u.Offset, end)
		}
	}
	return u
}

func create(t *testing.T, s *Service, size int) Upload {
	t.Helper()
	u, err := s.Create(context.Background(), Spec{Key: testKey, Size: int64(size), ContentType: "video/mp4", Labels: map[string]string{"item": "item1"}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func readObject(t *testing.T, b blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got, info
}

func assertObject(t *testing.T, b blob.Store, want []byte) {
	t.Helper()
	got, info := readObject(t, b, testKey)
	if !bytes.Equal(got, want) {
		t.Fatalf("stored object differs: %d bytes, want %d", len(got), len(want))
	}
	if info.ContentType != "video/mp4" {
		t.Errorf("content type %q", info.ContentType)
	}
}

func assertNoObject(t *testing.T, b blob.Store) {
	t.Helper()
	if _, err := b.Stat(context.Background(), testKey); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("object visible before the upload completed (Stat: %v)", err)
	}
}

// stored reports what the backend holds for the upload: the number and
// total size of the S3 parts, or the size of the staging file (1 "part");
// -1, -1 when it holds nothing.
func stored(t *testing.T, s *Service, id string) (parts int, size int64) {
	t.Helper()
	ctx := context.Background()
	switch be := s.be.(type) {
	case *s3Backend:
		var ref string
		for u := range be.core.ListIncompleteUploads(ctx, be.bucket, testKey, false) {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			if ref != "" {
				t.Fatalf("more than one multipart upload at %s", testKey)
			}
			ref = u.UploadID
		}
		if ref == "" {
			return -1, -1
		}
		ps, err := be.listParts(ctx, &record{Key: testKey, Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			size += p.Size
		}
		return len(ps), size
	case *dirBackend:
		fi, err := be.root.Stat(stagingName(id))
		if errors.Is(err, fs.ErrNotExist) {
			return -1, -1
		}
		if err != nil {
			t.Fatal(err)
		}
		return 1, fi.Size()
	}
	t.Fatalf("unknown backend %T", s.be)
	return 0, 0
}

// assertGone checks that neither state nor parts of the upload are left.
func assertGone(t *testing.T, e *env, s *Service, id string) {
	t.Helper()
	if _, err := s.Status(context.Background(), id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Status: %v, want ErrNotFound", err)
	}
	if _, err := e.state.Get(context.Background(), stateKey(id)); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("state left behind: %v", err)
	}
	if p, n := stored(t, s, id); p != -1 {
		t.Fatalf("backend still holds %d parts, %d bytes", p, n)
	}
	assertNoObject(t, e.blobs)
}

func TestUpload(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		for _, tc := range []struct {
			name string
			fn   func(t *testing.T, e *env)
		}{
			{"RoundTrip", testRoundTrip},
			{"ResumeOnNewService", testResumeOnNewService},
			{"WrongOffset", testWrongOffset},
			{"Limits", testLimits},
			{"Abort", testAbort},
			{"BodyEndsEarly", testBodyEndsEarly},
			{"ClientLeavesAtTheEnd", testClientLeavesAtTheEnd},
			{"CompleteIncomplete", testCompleteIncomplete},
			{"Busy", testBusy},
			{"CompleteFollowUp", testCompleteFollowUp},
			{"LostParts", testLostParts},
			{"Janitor", testJanitor},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.fn(t, newEnv(t, b, k))
				// Each test leaves its key to the next one.
				_ = b.Delete(context.Background(), testKey)
			})
		}
	})
}

// testRoundTrip: a multi-chunk upload of about 20 MiB ends as an identical
// object, which appears only on Complete.
func testRoundTrip(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(1, 4*chunk+12345)
	u := create(t, s, len(data))
	if u.Offset != 0 || u.ChunkSize != chunk || u.MinChunk != chunk || u.Size != int64(len(data)) || u.Labels["item"] != "item1" {
		t.Fatalf("created %+v", u)
	}
	if _, isS3 := e.blobs.(s3Store); (s.Backend() == "s3") != isS3 {
		t.Fatalf("backend %s for %T", s.Backend(), e.blobs)
	}
	send(t, s, u.ID, data[:3*chunk], 0, chunk)
	assertNoObject(t, e.blobs)
	// The last chunk may be larger than the suggested size (up to MaxChunk)
	// and the very last one smaller than MinChunk.
	send(t, s, u.ID, data, 3*chunk, chunk+12345)
	assertNoObject(t, e.blobs)
	done, err := s.Complete(context.Background(), u.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !done.Completed || done.Offset != int64(len(data)) {
		t.Fatalf("completed %+v", done)
	}
	assertObject(t, e.blobs, data)
	if st, err := s.Status(context.Background(), u.ID); err != nil || !st.Completed {
		t.Fatalf("Status after Complete: %+v %v", st, err)
	}
	// Nothing left behind in the backend.
	if p, _ := stored(t, s, u.ID); p != -1 {
		t.Fatalf("backend still holds %d parts", p)
	}
	// A repeated Complete (its answer got lost) answers the same.
	if again, err := s.Complete(context.Background(), u.ID, nil); err != nil || !again.Completed {
		t.Fatalf("repeated Complete: %+v %v", again, err)
	}
	if _, err := s.Write(context.Background(), u.ID, int64(len(data)), bytes.NewReader([]byte{1}), 1); !errors.Is(err, ErrCompleted) {
		t.Fatalf("Write after Complete: %v", err)
	}
}

// testResumeOnNewService: after an "interruption" a new Service on the same
// stores continues from Status.
func testResumeOnNewService(t *testing.T, e *env) {
	data := randomBytes(2, 3*chunk+777)
	first := e.service(t, Options{})
	u := create(t, first, len(data))
	send(t, first, u.ID, data[:2*chunk], 0, chunk)

	second := e.service(t, Options{}) // another process, or another node
	st, err := second.Status(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Offset != 2*chunk {
		t.Fatalf("resume point %d, want %d", st.Offset, 2*chunk)
	}
	send(t, second, u.ID, data, int(st.Offset), chunk)
	if _, err := second.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

func testWrongOffset(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(3, 3*chunk)
	u := create(t, s, len(data))
	send(t, s, u.ID, data[:chunk], 0, chunk)
	for _, at := range []int64{0, 2 * chunk, chunk + 1, -1} {
		_, err := s.Write(context.Background(), u.ID, at, bytes.NewReader(data[chunk:2*chunk]), chunk)
		var oe *OffsetError
		if !errors.As(err, &oe) || oe.Offset != chunk || oe.Got != at {
			t.Fatalf("chunk at %d: %v, want an OffsetError at %d", at, err, chunk)
		}
	}
	send(t, s, u.ID, data, chunk, chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

func testLimits(t *testing.T, e *env) {
	s := e.service(t, Options{MaxSize: 4 * chunk})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		spec  Spec
		code  string
		limit int64
	}{
		{"over the limit", Spec{Key: testKey, Size: 4*chunk + 1, ContentType: "video/mp4"}, CodeTooLarge, 4 * chunk},
		{"empty", Spec{Key: testKey, Size: 0, ContentType: "video/mp4"}, CodeSizeInvalid, 0},
		{"negative", Spec{Key: testKey, Size: -5, ContentType: "video/mp4"}, CodeSizeInvalid, 0},
		{"bad key", Spec{Key: "../etc/passwd", Size: 10, ContentType: "video/mp4"}, CodeKeyInvalid, 0},
		{"no content type", Spec{Key: testKey, Size: 10}, CodeContentTypeInvalid, 0},
		{"bad content type", Spec{Key: testKey, Size: 10, ContentType: "video/"}, CodeContentTypeInvalid, 0},
	} {
		_, err := s.Create(ctx, tc.spec)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Code != tc.code || ie.Limit != tc.limit {
			t.Errorf("%s: %v, want %s (limit %d)", tc.name, err, tc.code, tc.limit)
		}
	}
	data := randomBytes(4, 3*chunk)
	u := create(t, s, len(data))
	for _, tc := range []struct {
		name   string
		offset int64
		n      int64
		code   string
		limit  int64
	}{
		{"past the declared size", 0, int64(len(data)) + 1, CodeBeyondSize, int64(len(data))},
		{"larger than MaxChunk", 0, 8<<20 + 1, CodeChunkTooLarge, 8 << 20},
		{"smaller than MinChunk", 0, chunk - 1, CodeChunkTooSmall, chunk},
		{"empty", 0, 0, CodeChunkEmpty, 0},
	} {
		_, err := s.Write(ctx, u.ID, tc.offset, bytes.NewReader(data), tc.n)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Code != tc.code || ie.Limit != tc.limit {
			t.Errorf("%s: %v, want %s (limit %d)", tc.name, err, tc.code, tc.limit)
		}
	}
	if st, err := s.Status(ctx, u.ID); err != nil || st.Offset != 0 {
		t.Fatalf("refused chunks changed the upload: %+v %v", st, err)
	}
	// An upload so large that MinChunk would need too many parts gets a
	// larger minimum chunk.
	big := e.service(t, Options{MaxSize: 200 << 30, MaxChunk: 64 << 20})
	bu, err := big.Create(ctx, Spec{Key: testKey, Size: 100 << 30, ContentType: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if bu.MinChunk*s3MaxParts < 100<<30 || bu.ChunkSize < bu.MinChunk {
		t.Fatalf("100 GiB upload: min chunk %d, chunk size %d", bu.MinChunk, bu.ChunkSize)
	}
	if err := big.Abort(ctx, bu.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	// Unknown and malformed IDs.
	for _, id := range []string{"", "nope", "../../x", newID()} {
		if _, err := s.Status(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Status(%q): %v", id, err)
		}
		if _, err := s.Write(ctx, id, 0, bytes.NewReader(data), chunk); !errors.Is(err, ErrNotFound) {
			t.Errorf("Write(%q): %v", id, err)
		}
	}
}

func testAbort(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(5, 3*chunk)
	u := create(t, s, len(data))
	send(t, s, u.ID, data[:2*chunk], 0, chunk)
	if p, n := stored(t, s, u.ID); p < 1 || n != 2*chunk {
		t.Fatalf("before Abort the backend holds %d parts, %d bytes", p, n)
	}
	if err := s.Abort(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	assertGone(t, e, s, u.ID)
	if err := s.Abort(context.Background(), u.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Abort: %v", err)
	}
	if _, err := s.Complete(context.Background(), u.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Complete after Abort: %v", err)
	}
}

// cutReader yields data and then fails with err, like a request body whose
// client went away.
type cutReader struct {
	data []byte
	err  error
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// testBodyEndsEarly: a chunk whose body ends early (client disconnect)
// leaves the resume point at the last complete chunk and nothing
// half-written; the upload then goes on.
func testBodyEndsEarly(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(6, 3*chunk)
	u := create(t, s, len(data))
	send(t, s, u.ID, data[:chunk], 0, chunk)
	partsBefore, sizeBefore := stored(t, s, u.ID)
	for _, tc := range []struct {
		name string
		body io.Reader
		want error
	}{
		{"EOF too early", &cutReader{data[chunk : chunk+chunk/2], io.EOF}, ErrShortChunk},
		{"truncated body", &cutReader{data[chunk : chunk+chunk/3], io.ErrUnexpectedEOF}, ErrShortChunk},
		{"connection reset", &cutReader{data[chunk : chunk+100], errors.New("read tcp: connection reset by peer")}, nil},
	} {
		_, err := s.Write(context.Background(), u.ID, chunk, tc.body, chunk)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		st, err := s.Status(context.Background(), u.ID)
		if err != nil || st.Offset != chunk {
			t.Fatalf("%s: resume point %d (%v), want %d", tc.name, st.Offset, err, chunk)
		}
		if p, n := stored(t, s, u.ID); p != partsBefore || n != sizeBefore {
			t.Fatalf("%s: the backend holds %d parts, %d bytes; before the chunk %d, %d", tc.name, p, n, partsBefore, sizeBefore)
		}
	}
	send(t, s, u.ID, data, chunk, chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

// cancelAtEnd yields data and cancels the request's context as it hands
// out the last bytes, as a client that goes away just then.
type cancelAtEnd struct {
	data   []byte
	cancel context.CancelFunc
}

func (r *cancelAtEnd) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		r.cancel()
		return n, io.EOF
	}
	return n, nil
}

// testClientLeavesAtTheEnd: a client that goes away as its chunk's last
// bytes arrive leaves the upload consistent either way (the chunk counts
// or not) and never busy: the next request goes on at once.
func testClientLeavesAtTheEnd(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(12, 2*chunk)
	u := create(t, s, len(data))
	ctx, cancel := context.WithCancel(context.Background())
	_, werr := s.Write(ctx, u.ID, 0, &cancelAtEnd{data: data[:chunk], cancel: cancel}, chunk)
	st, err := s.Status(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if werr == nil && st.Offset != chunk || werr != nil && st.Offset != 0 {
		t.Fatalf("Write: %v, yet the offset is %d", werr, st.Offset)
	}
	t.Logf("Write: %v; offset %d", werr, st.Offset)
	if _, n := stored(t, s, u.ID); n != st.Offset {
		t.Fatalf("the backend holds %d bytes at offset %d", n, st.Offset)
	}
	send(t, s, u.ID, data, int(st.Offset), chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

func testCompleteIncomplete(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(7, 3*chunk)
	u := create(t, s, len(data))
	for _, sent := range []int{0, chunk, 2 * chunk} {
		send(t, s, u.ID, data[:sent], sent-min(sent, chunk), chunk)
		_, err := s.Complete(context.Background(), u.ID, nil)
		var ie *IncompleteError
		if !errors.As(err, &ie) || ie.Offset != int64(sent) || ie.Size != int64(len(data)) {
			t.Fatalf("Complete after %d bytes: %v", sent, err)
		}
		assertNoObject(t, e.blobs)
	}
	send(t, s, u.ID, data, 2*chunk, chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

// testBusy: while one request streams a chunk, another one for the same
// upload is refused with ErrBusy (and Complete and the chunk after too);
// the first one then completes.
func testBusy(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(8, 2*chunk)
	u := create(t, s, len(data))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(context.Background(), u.ID, 0, pr, chunk)
		done <- err
	}()
	if _, err := pw.Write(data[:chunk/2]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(context.Background(), u.ID, 0, bytes.NewReader(data[:chunk]), chunk); !errors.Is(err, ErrBusy) {
		t.Fatalf("second writer: %v, want ErrBusy", err)
	}
	if _, err := pw.Write(data[chunk/2 : chunk]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatalf("first writer: %v", err)
	}
	send(t, s, u.ID, data, chunk, chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

// testCompleteFollowUp: Complete runs its follow-up after the object is in
// place; when it fails, a repeated Complete runs it again, and once it
// succeeded never again.
func testCompleteFollowUp(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(9, chunk+10)
	u := create(t, s, len(data))
	send(t, s, u.ID, data, 0, chunk)
	var calls []Upload
	fail := errors.New("queue down")
	then := func(err error) func(context.Context, Upload) error {
		return func(ctx context.Context, u Upload) error {
			calls = append(calls, u)
			return err
		}
	}
	if _, err := s.Complete(context.Background(), u.ID, then(fail)); !errors.Is(err, fail) {
		t.Fatalf("Complete with a failing follow-up: %v", err)
	}
	assertObject(t, e.blobs, data) // the object is there all the same
	if st, err := s.Status(context.Background(), u.ID); err != nil || st.Completed {
		t.Fatalf("Status after the failed follow-up: %+v %v", st, err)
	}
	if _, err := s.Complete(context.Background(), u.ID, then(nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Complete(context.Background(), u.ID, then(fail)); err != nil {
		t.Fatalf("Complete after the follow-up succeeded: %v", err)
	}
	if len(calls) != 2 {
		t.Fatalf("follow-up ran %d times, want 2", len(calls))
	}
	if c := calls[1]; c.Key != testKey || !c.Completed || c.Labels["item"] != "item1" || c.Size != int64(len(data)) {
		t.Fatalf("follow-up got %+v", c)
	}
	assertObject(t, e.blobs, data)
}

// testLostParts: when the stored parts no longer match the state (a part
// overwritten behind the Service's back, or a staging file cut short),
// Complete does not assemble a wrong object: it moves the resume point back
// to the last good part, and the resent rest completes the upload.
func testLostParts(t *testing.T, e *env) {
	s := e.service(t, Options{})
	data := randomBytes(10, 3*chunk)
	u := create(t, s, len(data))
	send(t, s, u.ID, data, 0, chunk)
	r, err := s.load(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	switch be := s.be.(type) {
	case *s3Backend:
		other := randomBytes(99, chunk)
		if _, err := be.core.PutObjectPart(context.Background(), be.bucket, testKey, r.Ref, 2, bytes.NewReader(other), chunk, minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
	case *dirBackend:
		if err := os.Truncate(filepath.Join(e.staging, stagingName(u.ID)), chunk+chunk/2); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Complete(context.Background(), u.ID, nil)
	var ie *IncompleteError
	if !errors.As(err, &ie) || ie.Offset != chunk {
		t.Fatalf("Complete over damaged parts: %v, want IncompleteError at %d", err, chunk)
	}
	assertNoObject(t, e.blobs)
	send(t, s, u.ID, data, chunk, chunk)
	if _, err := s.Complete(context.Background(), u.ID, nil); err != nil {
		t.Fatal(err)
	}
	assertObject(t, e.blobs, data)
}

// testJanitor: Run removes uploads idle for longer than IdleTTL, with their
// parts, and keeps the others.
func testJanitor(t *testing.T, e *env) {
	clock := &fakeClock{now: time.Now()}
	s := e.service(t, Options{IdleTTL: 24 * time.Hour, SweepInterval: 20 * time.Millisecond, Now: clock.Now})
	data := randomBytes(11, 2*chunk)
	old := create(t, s, len(data))
	send(t, s, old.ID, data[:chunk], 0, chunk)
	clock.Add(23 * time.Hour)
	fresh, err := s.Create(context.Background(), Spec{Key: "media/item1/source/poster.png", Size: 10, ContentType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour) // old: idle for 25 h, fresh: 2 h

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.Run(ctx)
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.state.Get(context.Background(), stateKey(old.ID))
		if errors.Is(err, kv.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the janitor did not remove the expired upload (state: %v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	assertGone(t, e, s, old.ID)
	if st, err := s.Status(context.Background(), fresh.ID); err != nil || st.ID != fresh.ID {
		t.Fatalf("the janitor removed a live upload: %v", err)
	}
	if n, err := s.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("a second sweep removed %d (%v)", n, err)
	}
	if err := s.Abort(context.Background(), fresh.ID); err != nil {
		t.Fatal(err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		_, isS3 := b.(s3Store)
		for _, tc := range []struct {
			name string
			opt  Options
			ok   bool
		}{
			{"defaults", Options{StagingDir: t.TempDir()}, true},
			{"min above max", Options{StagingDir: t.TempDir(), MinChunk: 10 << 20, MaxChunk: 6 << 20}, false},
			{"negative TTL", Options{StagingDir: t.TempDir(), IdleTTL: -time.Second}, false},
			{"small chunks", Options{StagingDir: t.TempDir(), MinChunk: 1 << 20}, !isS3},
			{"no staging directory", Options{}, isS3},
		} {
			_, err := New(b, k, tc.opt)
			if (err == nil) != tc.ok {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	})
}
