package dirblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"portalo/store/blob"
	"portalo/store/blob/blobtest"
	"portalo/store/blob/dirblob"
)

func open(t *testing.T, dir string) *dirblob.Store {
	t.Helper()
	s, err := dirblob.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return open(t, t.TempDir()) })
}

func TestOpenCreatesRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := open(t, dir)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("root not created: %v", err)
	}
}

func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	want := map[string]blob.Info{}
	for key, content := range map[string]string{"a/b/c.m3u8": "#EXTM3U", "d.mp4": "movie", "e": ""} {
		info, err := s.Put(ctx, key, strings.NewReader(content), -1, "video/x-"+key[:1])
		if err != nil {
			t.Fatal(err)
		}
		want[key] = info
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir)
	list, err := s2.List(ctx, "")
	if err != nil || len(list) != len(want) {
		t.Fatalf("List after reopen = %+v, %v", list, err)
	}
	for _, got := range list {
		w := want[got.Key]
		if got.Size != w.Size || got.ETag != w.ETag || got.ContentType != w.ContentType || !got.Modified.Equal(w.Modified) {
			t.Errorf("after reopen %+v; want %+v", got, w)
		}
		rc, _, err := s2.Open(ctx, got.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(b)) != w.Size {
			t.Errorf("%s: %d bytes after reopen; want %d", got.Key, len(b), w.Size)
		}
	}
}

// Objects are plain files: what was put can be read straight from disk, and
// a failed Put leaves no temporary file behind.
func TestLayout(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	if _, err := s.Put(ctx, "x/y.txt", strings.NewReader("plain"), 5, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "objects", "x", "y.txt")); err != nil || string(b) != "plain" {
		t.Fatalf("object file = %q, %v", b, err)
	}
	if _, err := s.Put(ctx, "x/z", io.MultiReader(strings.NewReader("part"), errReader{}), -1, ""); err == nil {
		t.Fatal("failing Put succeeded")
	}
	if _, err := s.Put(ctx, "x/z", strings.NewReader("short"), 10, ""); err == nil {
		t.Fatal("short Put succeeded")
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "tmp")); err != nil || len(entries) != 0 {
		t.Fatalf("tmp holds %v (%v) after failed puts", entries, err)
	}
	// Deleting the last object of a folder removes the emptied folders.
	if err := s.Delete(ctx, "x/y.txt"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"objects/x", "meta/x"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after deleting its last object (%v)", d, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

// Keys that look like the internal folders are ordinary keys.
func TestInternalNamesAreOrdinaryKeys(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	keys := []string{"tmp", "meta/x", "objects/y", ".tmp/z", "a.json"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, strings.NewReader(k), -1, ""); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	for _, k := range keys {
		rc, _, err := s.Open(ctx, k)
		if err != nil {
			t.Fatalf("Open(%q): %v", k, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != k {
			t.Errorf("%q holds %q", k, b)
		}
	}
	list, err := s.List(ctx, "")
	if err != nil || len(list) != len(keys) {
		t.Errorf("List = %+v, %v; want %d objects", list, err, len(keys))
	}
}

// A symbolic link inside the tree cannot lead a key outside the root.
func TestNoEscapeThroughSymlink(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := open(t, dir)
	if err := os.Symlink(outside, filepath.Join(dir, "objects", "link")); err != nil {
		t.Skipf("cannot create symlink: %v", err)
	}
	if rc, _, err := s.Open(ctx, "link/secret"); err == nil {
		b, _ := io.ReadAll(rc)
		rc.Close()
		t.Fatalf("Open through a symlink read %q from outside the root", b)
	}
	if _, err := s.Stat(ctx, "link/secret"); err == nil {
		t.Error("Stat through a symlink succeeded")
	}
	if _, err := s.Put(ctx, "link/planted", strings.NewReader("x"), 1, ""); err == nil {
		t.Error("Put through a symlink succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted")); err == nil {
		t.Error("Put wrote outside the root")
	}
	if list, err := s.List(ctx, "link/"); err == nil && len(list) > 0 {
		t.Errorf("List through a symlink = %+v", list)
	}
}

// Files copied into objects/ by hand, without a sidecar, are still served.
func TestFileWithoutSidecar(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	p := filepath.Join(dir, "objects", "hand", "made.html")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("<p>hi</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "hand/made.html")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 9 || info.ETag == "" || !strings.HasPrefix(info.ContentType, "text/html") {
		t.Errorf("Info = %+v", info)
	}
	if err := os.WriteFile(p, []byte("<p>changed</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if info2, err := s.Stat(ctx, "hand/made.html"); err != nil || info2.ETag == info.ETag {
		t.Errorf("ETag after change = %+v, %v; was %q", info2, err, info.ETag)
	}
	rc, _, err := s.Open(ctx, "hand/made.html")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, []byte("<p>changed</p>")) {
		t.Errorf("content = %q", b)
	}
}
