package boltkv

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"portalo/store/kv"
	"portalo/store/kv/kvtest"
)

func TestContract(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := Open(filepath.Join(t.TempDir(), "kv.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "forever", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "hour", []byte("v2"), time.Hour); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Incr(ctx, "counter", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddMember(ctx, "set", "m"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	for k, want := range map[string]string{"forever": "v1", "hour": "v2"} {
		got, err := s.Get(ctx, k)
		if err != nil || string(got) != want {
			t.Errorf("Get(%q) after reopen = %q, %v; want %q", k, got, err, want)
		}
	}
	if n, err := s.Incr(ctx, "counter", time.Hour); err != nil || n != 4 {
		t.Errorf("Incr after reopen = %d, %v; want 4", n, err)
	}
	if m, err := s.Members(ctx, "set"); err != nil || len(m) != 1 || m[0] != "m" {
		t.Errorf("Members after reopen = %q, %v; want [m]", m, err)
	}
}

func TestSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s2, err := Open(path)
	took := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
	if !errors.Is(err, bolterrors.ErrTimeout) {
		t.Errorf("error %q does not wrap bbolt's timeout", err)
	}
	if !strings.Contains(err.Error(), "in use by another running portalo") {
		t.Errorf("error %q does not say the data directory is in use", err)
	}
	if took > 5*time.Second {
		t.Errorf("second Open took %v", took)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Once the first is closed the file can be opened again.
	s, err = Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s.Close()
}

func TestJanitorRemovesExpired(t *testing.T) {
	ctx := context.Background()
	s, err := open(filepath.Join(t.TempDir(), "kv.db"), 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Set(ctx, "short", []byte("x"), 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "long", []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "short", 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "long", time.Hour); err != nil {
		t.Fatal(err)
	}
	// raw reports which raw entries exist in the values and counters
	// buckets, expired or not.
	raw := func() (values, counters []string) {
		err := s.db.View(func(tx *bolt.Tx) error {
			_ = tx.Bucket(bucketValues).ForEach(func(k, _ []byte) error { values = append(values, string(k)); return nil })
			return tx.Bucket(bucketCounters).ForEach(func(k, _ []byte) error { counters = append(counters, string(k)); return nil })
		})
		if err != nil {
			t.Fatal(err)
		}
		return values, counters
	}
	if v, c := raw(); len(v) != 2 || len(c) != 2 {
		t.Fatalf("before expiry: values %q, counters %q", v, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, c := raw()
		if len(v) == 1 && v[0] == "long" && len(c) == 1 && c[0] == "long" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("janitor did not remove expired entries: values %q, counters %q", v, c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCloseStopsJanitor(t *testing.T) {
	s, err := open(filepath.Join(t.TempDir(), "kv.db"), time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("janitor still running after Close returned")
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after Close succeeded")
	}
}
