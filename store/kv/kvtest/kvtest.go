// Package kvtest is the contract test suite of kv.Store: every
// implementation runs Run against a real instance of its backend, so that
// all of them behave the same.
package kvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"portalo/store/kv"
)

// ttl is the short expiry used by the expiry tests; expiry is observed by
// polling for at most ttl+expiryGrace.
const (
	ttl         = 1500 * time.Millisecond
	expiryGrace = 3 * time.Second
	poll        = 50 * time.Millisecond
)

// Run runs the contract tests. newStore must return a new, empty store
// (or one whose keys cannot collide with any other call's); Run closes it
// when the subtest ends. The subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) kv.Store) {
	open := func(t *testing.T) kv.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s kv.Store)
	}{
		{"Ping", testPing},
		{"GetAbsent", testGetAbsent},
		{"SetGet", testSetGet},
		{"ValuesAreCopies", testValuesAreCopies},
		{"SetTTLExpires", testSetTTLExpires},
		{"SetReplacesExpiry", testSetReplacesExpiry},
		{"Create", testCreate},
		{"CreateAfterExpiry", testCreateAfterExpiry},
		{"Update", testUpdate},
		{"UpdateTTL", testUpdateTTL},
		{"UpdateConcurrentCounter", testUpdateConcurrentCounter},
		{"UpdateCapacityRace", testUpdateCapacityRace},
		{"Delete", testDelete},
		{"Touch", testTouch},
		{"Incr", testIncr},
		{"IncrFixedWindow", testIncrFixedWindow},
		{"Sets", testSets},
		{"Keys", testKeys},
		{"KeysExcludeExpired", testKeysExcludeExpired},
		{"OddKeys", testOddKeys},
		{"CancelledContext", testCancelledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// --- helpers ---

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustSet(t *testing.T, s kv.Store, key string, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(ctxFor(t), key, value, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// wantValue fails unless key holds want.
func wantValue(t *testing.T, s kv.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", key, err, want)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

// wantAbsent fails unless Get(key) reports kv.ErrNotFound.
func wantAbsent(t *testing.T, s kv.Store, key string) {
	t.Helper()
	got, err := s.Get(ctxFor(t), key)
	if !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want kv.ErrNotFound", key, got, err)
	}
}

// waitGone polls until key has expired; it fails if that does not happen
// within ttl+expiryGrace of since.
func waitGone(t *testing.T, s kv.Store, key string, since time.Time) {
	t.Helper()
	deadline := since.Add(ttl + expiryGrace)
	for {
		_, err := s.Get(ctxFor(t), key)
		if errors.Is(err, kv.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q still present %v after it was set to expire in %v", key, time.Since(since).Round(time.Millisecond), ttl)
		}
		time.Sleep(poll)
	}
}

// sleepUntil sleeps until t0+d.
func sleepUntil(t0 time.Time, d time.Duration) {
	time.Sleep(time.Until(t0.Add(d)))
}

func wantMembers(t *testing.T, s kv.Store, key string, want ...string) {
	t.Helper()
	got, err := s.Members(ctxFor(t), key)
	if err != nil {
		t.Fatalf("Members(%q): %v", key, err)
	}
	if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
		t.Fatalf("Members(%q) = %q, want %q", key, got, want)
	}
}

func wantKeys(t *testing.T, s kv.Store, prefix string, want ...string) {
	t.Helper()
	got, err := s.Keys(ctxFor(t), prefix)
	if err != nil {
		t.Fatalf("Keys(%q): %v", prefix, err)
	}
	if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
		t.Fatalf("Keys(%q) = %q, want %q", prefix, got, want)
	}
}

func wantIncr(t *testing.T, s kv.Store, key string, ttl time.Duration, want int64) {
	t.Helper()
	got, err := s.Incr(ctxFor(t), key, ttl)
	if err != nil {
		t.Fatalf("Incr(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Incr(%q) = %d, want %d", key, got, want)
	}
}

// put returns an UpdateFunc that stores value with ttl and records what it
// was given.
func put(value []byte, ttl time.Duration, gotCur *[]byte, gotFound *bool) kv.UpdateFunc {
	return func(cur []byte, found bool) ([]byte, time.Duration, error) {
		*gotCur, *gotFound = slices.Clone(cur), found
		return value, ttl, nil
	}
}

// --- tests ---

func testPing(t *testing.T, s kv.Store) {
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testGetAbsent(t *testing.T, s kv.Store) {
	wantAbsent(t, s, "absent")
	wantAbsent(t, s, "absent:nested:key")
}

func testSetGet(t *testing.T, s kv.Store) {
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	cases := []struct {
		name  string
		value []byte
	}{
		{"text", []byte("hello")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe, 0, '\n', '\r', 0x80}},
		{"empty", []byte{}},
		{"utf8", []byte("grüße, 世界")},
		{"json", []byte(`{"a":1,"b":[true,null]}`)},
		{"large", big},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "setget:" + c.name
			mustSet(t, s, key, c.value, 0)
			got, err := s.Get(ctxFor(t), key)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if len(got) != len(c.value) || !bytes.Equal(got, c.value) {
				t.Fatalf("Get = %q (len %d), want %q (len %d)", got, len(got), c.value, len(c.value))
			}
		})
	}
	t.Run("overwrite", func(t *testing.T) {
		mustSet(t, s, "setget:over", []byte("first, longer value"), 0)
		mustSet(t, s, "setget:over", []byte("2nd"), 0)
		wantValue(t, s, "setget:over", []byte("2nd"))
	})
	t.Run("keys are distinct", func(t *testing.T) {
		mustSet(t, s, "setget:a", []byte("A"), 0)
		mustSet(t, s, "setget:ab", []byte("AB"), 0)
		wantValue(t, s, "setget:a", []byte("A"))
		wantValue(t, s, "setget:ab", []byte("AB"))
		wantAbsent(t, s, "setget:")
	})
}

func testValuesAreCopies(t *testing.T, s kv.Store) {
	in := []byte("original")
	mustSet(t, s, "copy", in, 0)
	copy(in, "XXXXXXXX")
	out, err := s.Get(ctxFor(t), "copy")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if string(out) != "original" {
		t.Fatalf("Get after changing Set's slice = %q, want %q", out, "original")
	}
	copy(out, "YYYYYYYY")
	wantValue(t, s, "copy", []byte("original"))
}

func testSetTTLExpires(t *testing.T, s kv.Store) {
	start := time.Now()
	mustSet(t, s, "exp", []byte("soon gone"), ttl)
	wantValue(t, s, "exp", []byte("soon gone"))
	waitGone(t, s, "exp", start)
	if d := time.Since(start); d < ttl-100*time.Millisecond {
		t.Fatalf("expired after %v, before its ttl of %v", d, ttl)
	}
}

func testSetReplacesExpiry(t *testing.T, s kv.Store) {
	start := time.Now()
	// ttl then no ttl: must not expire.
	mustSet(t, s, "rx:persist", []byte("a"), ttl)
	mustSet(t, s, "rx:persist", []byte("b"), 0)
	// no ttl then ttl: must expire.
	mustSet(t, s, "rx:expire", []byte("a"), 0)
	mustSet(t, s, "rx:expire", []byte("b"), ttl)
	// long ttl then short ttl: must expire.
	mustSet(t, s, "rx:shorten", []byte("a"), time.Hour)
	mustSet(t, s, "rx:shorten", []byte("b"), ttl)

	waitGone(t, s, "rx:expire", start)
	waitGone(t, s, "rx:shorten", start)
	sleepUntil(start, ttl+500*time.Millisecond)
	wantValue(t, s, "rx:persist", []byte("b"))
}

func testCreate(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	ok, err := s.Create(ctx, "create", []byte("first"), 0)
	if err != nil || !ok {
		t.Fatalf("Create on absent key = %v, %v; want true, nil", ok, err)
	}
	wantValue(t, s, "create", []byte("first"))
	ok, err = s.Create(ctx, "create", []byte("second"), 0)
	if err != nil || ok {
		t.Fatalf("Create on existing key = %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, "create", []byte("first"))

	ok, err = s.Create(ctx, "create:empty", []byte{}, 0)
	if err != nil || !ok {
		t.Fatalf("Create with empty value = %v, %v; want true, nil", ok, err)
	}
	ok, err = s.Create(ctx, "create:empty", []byte("x"), 0)
	if err != nil || ok {
		t.Fatalf("Create over an empty value = %v, %v; want false, nil", ok, err)
	}
	wantValue(t, s, "create:empty", []byte{})

	// After Delete the key can be created again.
	if err := s.Delete(ctx, "create"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	ok, err = s.Create(ctx, "create", []byte("third"), 0)
	if err != nil || !ok {
		t.Fatalf("Create after Delete = %v, %v; want true, nil", ok, err)
	}
	wantValue(t, s, "create", []byte("third"))
}

func testCreateAfterExpiry(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	start := time.Now()
	ok, err := s.Create(ctx, "cexp", []byte("first"), ttl)
	if err != nil || !ok {
		t.Fatalf("Create = %v, %v; want true, nil", ok, err)
	}
	ok, err = s.Create(ctx, "cexp", []byte("second"), ttl)
	if err != nil || ok {
		t.Fatalf("Create before expiry = %v, %v; want false, nil", ok, err)
	}
	waitGone(t, s, "cexp", start) // Create's ttl is applied
	ok, err = s.Create(ctx, "cexp", []byte("third"), 0)
	if err != nil || !ok {
		t.Fatalf("Create after expiry = %v, %v; want true, nil", ok, err)
	}
	wantValue(t, s, "cexp", []byte("third"))
}

func testUpdate(t *testing.T, s kv.Store) {
	var cur []byte
	var found bool

	t.Run("creates", func(t *testing.T) {
		ctx := ctxFor(t)
		if err := s.Update(ctx, "up:new", put([]byte("v1"), 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if found || cur != nil {
			t.Fatalf("fn got %q, %v for an absent key; want nil, false", cur, found)
		}
		wantValue(t, s, "up:new", []byte("v1"))
	})
	t.Run("modifies", func(t *testing.T) {
		ctx := ctxFor(t)
		mustSet(t, s, "up:mod", []byte("v1"), 0)
		if err := s.Update(ctx, "up:mod", put([]byte("v2"), 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !found || string(cur) != "v1" {
			t.Fatalf("fn got %q, %v; want \"v1\", true", cur, found)
		}
		wantValue(t, s, "up:mod", []byte("v2"))
	})
	t.Run("sees empty value as found", func(t *testing.T) {
		ctx := ctxFor(t)
		mustSet(t, s, "up:empty", []byte{}, 0)
		if err := s.Update(ctx, "up:empty", put([]byte("x"), 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !found || len(cur) != 0 {
			t.Fatalf("fn got %q, %v; want empty, true", cur, found)
		}
	})
	t.Run("stores empty non-nil value", func(t *testing.T) {
		ctx := ctxFor(t)
		mustSet(t, s, "up:toempty", []byte("x"), 0)
		if err := s.Update(ctx, "up:toempty", put([]byte{}, 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		wantValue(t, s, "up:toempty", []byte{})
	})
	t.Run("deletes when next is nil", func(t *testing.T) {
		ctx := ctxFor(t)
		mustSet(t, s, "up:del", []byte("v1"), 0)
		if err := s.Update(ctx, "up:del", put(nil, 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if !found || string(cur) != "v1" {
			t.Fatalf("fn got %q, %v; want \"v1\", true", cur, found)
		}
		wantAbsent(t, s, "up:del")
		// Deleting an absent key is not an error and creates nothing.
		if err := s.Update(ctx, "up:del", put(nil, 0, &cur, &found)); err != nil {
			t.Fatalf("Update deleting absent key: %v", err)
		}
		if found {
			t.Fatalf("fn got found=true for a deleted key")
		}
		wantAbsent(t, s, "up:del")
	})
	t.Run("fn error returned unchanged, nothing written", func(t *testing.T) {
		ctx := ctxFor(t)
		errFn := fmt.Errorf("custom failure %d", 42)
		fail := func([]byte, bool) ([]byte, time.Duration, error) {
			return []byte("must not be written"), 0, errFn
		}
		mustSet(t, s, "up:err", []byte("keep"), 0)
		if err := s.Update(ctx, "up:err", fail); err != errFn {
			t.Fatalf("Update = %v (%T), want fn's error itself", err, err)
		}
		wantValue(t, s, "up:err", []byte("keep"))
		if err := s.Update(ctx, "up:err:absent", fail); err != errFn {
			t.Fatalf("Update on absent key = %v (%T), want fn's error itself", err, err)
		}
		wantAbsent(t, s, "up:err:absent")
	})
	t.Run("independent of counters and sets", func(t *testing.T) {
		ctx := ctxFor(t)
		wantIncr(t, s, "up:shared", 0, 1)
		if err := s.AddMember(ctx, "up:shared", "m"); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
		if err := s.Update(ctx, "up:shared", put([]byte("v"), 0, &cur, &found)); err != nil {
			t.Fatalf("Update: %v", err)
		}
		if found {
			t.Fatalf("Update saw a counter or set as a value: %q", cur)
		}
	})
}

func testUpdateTTL(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	var cur []byte
	var found bool
	start := time.Now()
	// ttl applied to a new value.
	if err := s.Update(ctx, "ut:new", put([]byte("v"), ttl, &cur, &found)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// ttl applied when modifying a value that had none.
	mustSet(t, s, "ut:mod", []byte("v1"), 0)
	if err := s.Update(ctx, "ut:mod", put([]byte("v2"), ttl, &cur, &found)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	// ttl 0 removes an earlier expiry.
	mustSet(t, s, "ut:persist", []byte("v1"), ttl)
	if err := s.Update(ctx, "ut:persist", put([]byte("v2"), 0, &cur, &found)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantValue(t, s, "ut:new", []byte("v"))
	wantValue(t, s, "ut:mod", []byte("v2"))

	waitGone(t, s, "ut:new", start)
	waitGone(t, s, "ut:mod", start)
	sleepUntil(start, ttl+500*time.Millisecond)
	wantValue(t, s, "ut:persist", []byte("v2"))

	// An expired value is absent for Update.
	if err := s.Update(ctx, "ut:new", put([]byte("again"), 0, &cur, &found)); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if found || cur != nil {
		t.Fatalf("Update saw an expired value: %q, %v", cur, found)
	}
	wantValue(t, s, "ut:new", []byte("again"))
}

// increment is an UpdateFunc adding one to a decimal counter.
func increment(cur []byte, found bool) ([]byte, time.Duration, error) {
	n := 0
	if found {
		var err error
		if n, err = strconv.Atoi(string(cur)); err != nil {
			return nil, 0, fmt.Errorf("counter %q: %w", cur, err)
		}
	}
	return []byte(strconv.Itoa(n + 1)), 0, nil
}

func testUpdateConcurrentCounter(t *testing.T, s kv.Store) {
	const workers = 20
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			errs <- s.Update(ctx, "counter", increment)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	wantValue(t, s, "counter", []byte(strconv.Itoa(workers)))
}

func testUpdateCapacityRace(t *testing.T, s kv.Store) {
	const (
		workers = 20
		seats   = 5
	)
	errFull := errors.New("full")
	take := func(cur []byte, found bool) ([]byte, time.Duration, error) {
		n := 0
		if found {
			var err error
			if n, err = strconv.Atoi(string(cur)); err != nil {
				return nil, 0, fmt.Errorf("seats %q: %w", cur, err)
			}
		}
		if n >= seats {
			return nil, 0, errFull
		}
		return []byte(strconv.Itoa(n + 1)), 0, nil
	}
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			errs <- s.Update(ctx, "seats", take)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	ok, full := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case err == errFull:
			full++
		default:
			t.Errorf("Update: %v", err)
		}
	}
	if ok != seats || full != workers-seats {
		t.Fatalf("%d took a seat and %d saw full; want %d and %d", ok, full, seats, workers-seats)
	}
	wantValue(t, s, "seats", []byte(strconv.Itoa(seats)))
}

func testDelete(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	mustSet(t, s, "del:a", []byte("a"), 0)
	mustSet(t, s, "del:b", []byte("b"), 0)
	mustSet(t, s, "del:keep", []byte("keep"), 0)
	wantIncr(t, s, "del:counter", time.Hour, 1)
	wantIncr(t, s, "del:counter", time.Hour, 2)
	wantIncr(t, s, "del:counter:keep", time.Hour, 1)
	for _, m := range []string{"x", "y"} {
		if err := s.AddMember(ctx, "del:set", m); err != nil {
			t.Fatalf("AddMember: %v", err)
		}
	}
	if err := s.AddMember(ctx, "del:set:keep", "z"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}

	if err := s.Delete(ctx, "del:a", "del:absent", "del:b", "del:counter", "del:set"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantAbsent(t, s, "del:a")
	wantAbsent(t, s, "del:b")
	wantValue(t, s, "del:keep", []byte("keep"))
	wantIncr(t, s, "del:counter", time.Hour, 1) // restarted
	wantIncr(t, s, "del:counter:keep", time.Hour, 2)
	wantMembers(t, s, "del:set")
	wantMembers(t, s, "del:set:keep", "z")
	wantKeys(t, s, "del:", "del:keep")

	if err := s.Delete(ctx); err != nil {
		t.Fatalf("Delete(): %v", err)
	}
	if err := s.Delete(ctx, "del:absent", "del:absent2"); err != nil {
		t.Fatalf("Delete of absent keys: %v", err)
	}
}

func testTouch(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	if err := s.Touch(ctx, "touch:absent", time.Hour); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Touch on absent key = %v, want kv.ErrNotFound", err)
	}
	if err := s.Touch(ctx, "touch:absent", 0); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Touch(0) on absent key = %v, want kv.ErrNotFound", err)
	}
	wantAbsent(t, s, "touch:absent") // Touch did not create it

	start := time.Now()
	mustSet(t, s, "touch:extend", []byte("e"), ttl)
	mustSet(t, s, "touch:persist", []byte("p"), ttl)
	mustSet(t, s, "touch:shorten", []byte("s"), 0)
	mustSet(t, s, "touch:expired", []byte("x"), ttl)
	if err := s.Touch(ctx, "touch:extend", time.Hour); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	if err := s.Touch(ctx, "touch:persist", 0); err != nil {
		t.Fatalf("Touch(0): %v", err)
	}
	if err := s.Touch(ctx, "touch:shorten", ttl); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	waitGone(t, s, "touch:shorten", start)
	waitGone(t, s, "touch:expired", start)
	sleepUntil(start, ttl+500*time.Millisecond)
	wantValue(t, s, "touch:extend", []byte("e"))
	wantValue(t, s, "touch:persist", []byte("p"))
	if err := s.Touch(ctx, "touch:expired", time.Hour); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Touch on expired key = %v, want kv.ErrNotFound", err)
	}
	wantAbsent(t, s, "touch:expired")
}

func testIncr(t *testing.T, s kv.Store) {
	for i := int64(1); i <= 5; i++ {
		wantIncr(t, s, "incr:a", time.Hour, i)
	}
	wantIncr(t, s, "incr:b", time.Hour, 1)
	wantIncr(t, s, "incr:a", time.Hour, 6)
	wantIncr(t, s, "incr:nottl", 0, 1)
	wantIncr(t, s, "incr:nottl", 0, 2)
	// Counters are not values.
	wantAbsent(t, s, "incr:a")
	wantKeys(t, s, "incr:")

	t.Run("concurrent", func(t *testing.T) {
		const workers, each = 10, 10
		ctx := ctxFor(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[int64]bool{}
		for range workers {
			wg.Go(func() {
				for range each {
					n, err := s.Incr(ctx, "incr:conc", time.Hour)
					if err != nil {
						t.Errorf("Incr: %v", err)
						return
					}
					mu.Lock()
					seen[n] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for i := int64(1); i <= workers*each; i++ {
			if !seen[i] {
				t.Fatalf("no Incr returned %d; counts must be unique and dense", i)
			}
		}
		wantIncr(t, s, "incr:conc", time.Hour, workers*each+1)
	})
}

func testIncrFixedWindow(t *testing.T, s kv.Store) {
	wantIncr(t, s, "window", ttl, 1)
	t0 := time.Now() // the counter expires by t0+ttl
	sleepUntil(t0, 900*time.Millisecond)
	// If this increment extended the window, the counter would live until
	// at least t0+900ms+ttl.
	wantIncr(t, s, "window", ttl, 2)
	sleepUntil(t0, ttl+300*time.Millisecond)
	wantIncr(t, s, "window", ttl, 1)
	// The new window has a new expiry: observe it end too.
	t1 := time.Now()
	for {
		n, err := s.Incr(ctxFor(t), "window", ttl)
		if err != nil {
			t.Fatalf("Incr: %v", err)
		}
		if n == 1 {
			break
		}
		if time.Since(t1) > ttl+expiryGrace {
			t.Fatalf("counter restarted at %v still counting (%d) after %v", t1, n, time.Since(t1))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func testSets(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	wantMembers(t, s, "set:absent")
	if err := s.RemoveMember(ctx, "set:absent", "x"); err != nil {
		t.Fatalf("RemoveMember on absent set: %v", err)
	}

	for _, m := range []string{"pear", "apple", "zebra", "apple", "mango", "pear", "Apple"} {
		if err := s.AddMember(ctx, "set:fruit", m); err != nil {
			t.Fatalf("AddMember(%q): %v", m, err)
		}
	}
	wantMembers(t, s, "set:fruit", "Apple", "apple", "mango", "pear", "zebra")
	wantMembers(t, s, "set:fruitbowl") // a set is not another's prefix

	if err := s.RemoveMember(ctx, "set:fruit", "mango"); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if err := s.RemoveMember(ctx, "set:fruit", "not a member"); err != nil {
		t.Fatalf("RemoveMember of a non-member: %v", err)
	}
	wantMembers(t, s, "set:fruit", "Apple", "apple", "pear", "zebra")

	for _, m := range []string{"Apple", "apple", "pear", "zebra"} {
		if err := s.RemoveMember(ctx, "set:fruit", m); err != nil {
			t.Fatalf("RemoveMember(%q): %v", m, err)
		}
	}
	wantMembers(t, s, "set:fruit")
	// The set is gone, so it can start again.
	if err := s.AddMember(ctx, "set:fruit", "kiwi"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	wantMembers(t, s, "set:fruit", "kiwi")

	odd := []string{"", "a b", "with:colon", "ünïcødé", "日本", "tab\there", "*?[]"}
	for _, m := range odd {
		if err := s.AddMember(ctx, "set:odd", m); err != nil {
			t.Fatalf("AddMember(%q): %v", m, err)
		}
	}
	want := slices.Clone(odd)
	slices.Sort(want)
	wantMembers(t, s, "set:odd", want...)

	// Sets are not values.
	wantAbsent(t, s, "set:fruit")
	wantKeys(t, s, "set:")

	if err := s.Delete(ctx, "set:odd"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMembers(t, s, "set:odd")
	wantMembers(t, s, "set:fruit", "kiwi")
}

func testKeys(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	for _, k := range []string{"user:2", "user:10", "user:1", "users", "use", "other:1", "user:1:x"} {
		mustSet(t, s, k, []byte(k), 0)
	}
	wantIncr(t, s, "user:counter", time.Hour, 1)
	if err := s.AddMember(ctx, "user:set", "m"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	// Sorted bytewise: ':' sorts after '0'.
	wantKeys(t, s, "user:", "user:1", "user:10", "user:1:x", "user:2")
	wantKeys(t, s, "user", "user:1", "user:10", "user:1:x", "user:2", "users")
	wantKeys(t, s, "user:1", "user:1", "user:10", "user:1:x")
	wantKeys(t, s, "", "other:1", "use", "user:1", "user:10", "user:1:x", "user:2", "users")
	wantKeys(t, s, "nothing:")
	wantKeys(t, s, "user:1:x:")

	// Characters special to glob patterns are matched literally.
	for _, k := range []string{"g*1", "g?2", "g[3]", `g\4`, "g^5", "gx", "g-6"} {
		mustSet(t, s, k, []byte(k), 0)
	}
	wantKeys(t, s, "g*", "g*1")
	wantKeys(t, s, "g?", "g?2")
	wantKeys(t, s, "g[", "g[3]")
	wantKeys(t, s, `g\`, `g\4`)
	wantKeys(t, s, "g^", "g^5")
	wantKeys(t, s, "g-", "g-6")

	if err := s.Delete(ctx, "user:1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantKeys(t, s, "user:", "user:10", "user:1:x", "user:2")
}

func testKeysExcludeExpired(t *testing.T, s kv.Store) {
	start := time.Now()
	mustSet(t, s, "k:live", []byte("1"), 0)
	mustSet(t, s, "k:long", []byte("2"), time.Hour)
	mustSet(t, s, "k:short", []byte("3"), ttl)
	wantKeys(t, s, "k:", "k:live", "k:long", "k:short")
	waitGone(t, s, "k:short", start)
	wantKeys(t, s, "k:", "k:live", "k:long")
}

func testOddKeys(t *testing.T, s kv.Store) {
	ctx := ctxFor(t)
	keys := []string{
		"a:b:c:d",
		":leading:colon",
		"trailing:colon:",
		"with space",
		"  ",
		"ünïcødé:キー:键",
		"emoji:🔑",
		"tab\tand\nnewline",
		"quote\"'`",
		"slash/back\\slash",
		"glob*?[]{}",
		"percent%s%d",
		"nul\x00byte",
	}
	for i, k := range keys {
		mustSet(t, s, k, []byte(strconv.Itoa(i)), 0)
	}
	for i, k := range keys {
		wantValue(t, s, k, []byte(strconv.Itoa(i)))
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	wantKeys(t, s, "", want...)
	wantKeys(t, s, "ünïcødé:", "ünïcødé:キー:键")

	for _, k := range keys {
		wantIncr(t, s, k, time.Hour, 1)
		if err := s.AddMember(ctx, k, k); err != nil {
			t.Fatalf("AddMember(%q): %v", k, err)
		}
		wantMembers(t, s, k, k)
		if err := s.Touch(ctx, k, time.Hour); err != nil {
			t.Fatalf("Touch(%q): %v", k, err)
		}
		if err := s.Update(ctx, k, func(cur []byte, found bool) ([]byte, time.Duration, error) {
			return append(cur, '!'), 0, nil
		}); err != nil {
			t.Fatalf("Update(%q): %v", k, err)
		}
	}
	for i, k := range keys {
		wantValue(t, s, k, []byte(strconv.Itoa(i)+"!"))
	}
	if err := s.Delete(ctx, keys...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, k := range keys {
		wantAbsent(t, s, k)
		wantMembers(t, s, k)
	}
	wantKeys(t, s, "")
}

func testCancelledContext(t *testing.T, s kv.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Set(ctx, "cancel", []byte("x"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set with cancelled context = %v, want context.Canceled", err)
	}
	wantAbsent(t, s, "cancel")
	if _, err := s.Get(ctx, "cancel"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with cancelled context = %v, want context.Canceled", err)
	}
	err := s.Update(ctx, "cancel", func([]byte, bool) ([]byte, time.Duration, error) {
		return []byte("x"), 0, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with cancelled context = %v, want context.Canceled", err)
	}
	wantAbsent(t, s, "cancel")
	if _, err := s.Incr(ctx, "cancel", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Incr with cancelled context = %v, want context.Canceled", err)
	}
}
