package podcasts

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

// storeHolds reports whether any key or value of the store contains s.
func storeHolds(t *testing.T, store kv.Store, s string) bool {
	t.Helper()
	ctx := context.Background()
	keys, err := store.Keys(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := store.Get(ctx, k)
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			t.Fatal(err)
		}
		if strings.Contains(k, s) || bytes.Contains(v, []byte(s)) {
			return true
		}
	}
	return false
}

func TestFeedTokenLifecycle(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		resolves := func(token, want string) {
			t.Helper()
			got, err := s.FeedTokenAccount(ctx, token)
			if want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("token resolved to %q, %v; want ErrNotFound", got, err)
				}
				return
			}
			if err != nil || got != want {
				t.Errorf("token resolved to %q, %v; want %q", got, err, want)
			}
		}

		if has, _, err := s.HasFeedToken(ctx, "acc1"); has || err != nil {
			t.Fatalf("HasFeedToken before issuing: %v, %v", has, err)
		}
		tok1, err := s.IssueFeedToken(ctx, "acc1")
		if err != nil {
			t.Fatal(err)
		}
		if len(tok1) != tokenLen || strings.Trim(tok1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("token %q is not %d URL-safe characters", tok1, tokenLen)
		}
		if storeHolds(t, store, tok1) {
			t.Fatal("the store holds the token itself")
		}
		has, issued, err := s.HasFeedToken(ctx, "acc1")
		if !has || issued.IsZero() || err != nil {
			t.Fatalf("HasFeedToken after issuing: %v, %v, %v", has, issued, err)
		}
		resolves(tok1, "acc1")

		// Another account's token is independent.
		other, err := s.IssueFeedToken(ctx, "acc2")
		if err != nil {
			t.Fatal(err)
		}
		resolves(other, "acc2")

		// Renewing replaces the token at once.
		tok2, err := s.IssueFeedToken(ctx, "acc1")
		if err != nil {
			t.Fatal(err)
		}
		if tok2 == tok1 {
			t.Fatal("renewed token equals the old one")
		}
		resolves(tok1, "")
		resolves(tok2, "acc1")
		if _, issued2, _ := s.HasFeedToken(ctx, "acc1"); !issued2.After(issued) {
			t.Errorf("issue time not renewed: %v, then %v", issued, issued2)
		}

		// Malformed and unknown tokens are refused without an error of
		// their own.
		changed := []byte(tok2)
		changed[5] ^= 1 // one bit off: another token, or not base64url at all
		unissued := strings.Repeat("A", tokenLen-1) + "Q"
		for _, bad := range []string{"", "x", tok2[:tokenLen-1], tok2 + "A", string(changed), unissued,
			strings.Repeat("+", tokenLen), strings.Repeat("/", tokenLen), strings.ToUpper(tok2), "acc1", "podcast-token-hash:" + tok2} {
			if bad == tok2 {
				continue
			}
			resolves(bad, "")
		}

		// Revoking: refused at once; revoking again is harmless.
		if err := s.RevokeFeedToken(ctx, "acc1"); err != nil {
			t.Fatal(err)
		}
		resolves(tok2, "")
		resolves(other, "acc2")
		if has, _, err := s.HasFeedToken(ctx, "acc1"); has || err != nil {
			t.Fatalf("HasFeedToken after revoking: %v, %v", has, err)
		}
		if err := s.RevokeFeedToken(ctx, "acc1"); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
		if err := s.RevokeFeedToken(ctx, "never-had-one"); err != nil {
			t.Fatalf("revoke without token: %v", err)
		}
		// Only acc2's token is left in the store.
		if keys, _ := store.Keys(ctx, "podcast-token-hash:"); len(keys) != 1 {
			t.Fatalf("hash keys left: %v", keys)
		}
		// A new token after revoking works.
		tok3, err := s.IssueFeedToken(ctx, "acc1")
		if err != nil {
			t.Fatal(err)
		}
		resolves(tok3, "acc1")
		resolves(tok2, "")

		for _, id := range []string{"", "a:b", "a b", strings.Repeat("a", 65)} {
			if _, err := s.IssueFeedToken(ctx, id); inputCode(err) != "account_id/account_invalid" {
				t.Errorf("IssueFeedToken(%q): %v", id, err)
			}
		}
	})
}

// TestFeedTokenConcurrency issues and revokes one account's token from
// several goroutines at once: afterwards at most the one token the account's
// record names resolves, and no other token's hash is left in the store.
func TestFeedTokenConcurrency(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		for round := range 5 {
			const n = 8
			var wg sync.WaitGroup
			tokens := make([]string, n)
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					if i%3 == 2 {
						errs[i] = s.RevokeFeedToken(ctx, "acc")
						return
					}
					tokens[i], errs[i] = s.IssueFeedToken(ctx, "acc")
				})
			}
			wg.Wait()
			working := 0
			for i, tok := range tokens {
				if errs[i] != nil {
					t.Fatalf("round %d, call %d: %v", round, i, errs[i])
				}
				if tok == "" {
					continue
				}
				acc, err := s.FeedTokenAccount(ctx, tok)
				switch {
				case err == nil && acc == "acc":
					working++
				case !errors.Is(err, ErrNotFound):
					t.Fatalf("resolving: %q, %v", acc, err)
				}
			}
			has, _, err := s.HasFeedToken(ctx, "acc")
			if err != nil {
				t.Fatal(err)
			}
			keys, err := store.Keys(ctx, "podcast-token-hash:")
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if has {
				want = 1
			}
			if working != want || len(keys) != want {
				t.Fatalf("round %d: has token %v, %d tokens resolve, %d hash keys", round, has, working, len(keys))
			}
		}
	})
}
