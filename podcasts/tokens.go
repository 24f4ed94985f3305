package podcasts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"portalo/store/kv"
)

// A private feed token is tokenBytes random bytes in unpadded base64url,
// so tokenLen characters of [A-Za-z0-9_-], safe in a URL path.
const (
	tokenBytes = 32
	tokenLen   = 43
)

// Keys of the tokens: the account's current token (its hash and when it
// was issued), and the hash pointing back to the account.
func tokenAccountKey(accountID string) string { return "podcast-token-account:" + accountID }
func tokenHashKey(hash string) string         { return "podcast-token-hash:" + hash }

// tokenRecord is an account's current token.
type tokenRecord struct {
	Hash   string    `json:"hash"` // hex SHA-256 of the token
	Issued time.Time `json:"issued"`
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormed reports whether token can be one IssueFeedToken made.
func wellFormed(token string) bool {
	if len(token) != tokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(token)
	return err == nil && len(b) == tokenBytes
}

// IssueFeedToken makes a new private feed token for the account and
// returns it; it is shown to the person once and only its hash is kept.
// Any earlier token of the account stops working at once. When two calls
// for the same account run at the same time, only the token of the one
// that finishes last works.
func (s *Service) IssueFeedToken(ctx context.Context, accountID string) (string, error) {
	if !validID(accountID) {
		return "", inputErr("account_id", "account_invalid")
	}
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("podcasts: reading random bytes: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	rec := tokenRecord{Hash: hashToken(token), Issued: s.stamp()}
	// The hash key comes first: it resolves only once the account's record
	// names the hash, so a failure after it leaves nothing that works.
	if err := s.store.Set(ctx, tokenHashKey(rec.Hash), []byte(accountID), 0); err != nil {
		return "", fmt.Errorf("podcasts: storing feed token: %w", err)
	}
	next, err := json.Marshal(rec)
	if err != nil {
		return "", fmt.Errorf("podcasts: encoding feed token: %w", err)
	}
	var old string
	err = s.store.Update(ctx, tokenAccountKey(accountID), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		old = ""
		if found {
			var r tokenRecord
			if json.Unmarshal(cur, &r) == nil {
				old = r.Hash
			}
		}
		return next, 0, nil
	})
	if err != nil {
		_ = s.store.Delete(ctx, tokenHashKey(rec.Hash)) // never resolves anyway
		return "", fmt.Errorf("podcasts: storing feed token: %w", err)
	}
	if old != "" && old != rec.Hash {
		if err := s.store.Delete(ctx, tokenHashKey(old)); err != nil {
			// The old token is refused already (the record no longer names
			// it); only its key is left behind.
			return token, fmt.Errorf("podcasts: removing the replaced feed token: %w", err)
		}
	}
	return token, nil
}

// RevokeFeedToken makes the account's private feed token stop working; an
// account without one is not an error. It suits
// accounts.Options.BeforeDelete.
func (s *Service) RevokeFeedToken(ctx context.Context, accountID string) error {
	if !validID(accountID) {
		return nil
	}
	var old string
	err := s.store.Update(ctx, tokenAccountKey(accountID), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		old = ""
		if !found {
			return nil, 0, errKeep
		}
		var r tokenRecord
		if json.Unmarshal(cur, &r) == nil {
			old = r.Hash
		}
		return nil, 0, nil
	})
	if errors.Is(err, errKeep) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("podcasts: revoking feed token: %w", err)
	}
	if old != "" {
		if err := s.store.Delete(ctx, tokenHashKey(old)); err != nil {
			return fmt.Errorf("podcasts: removing the revoked feed token: %w", err)
		}
	}
	return nil
}

// FeedTokenAccount returns the account whose current private feed token
// is token, or ErrNotFound for a token that is malformed, unknown,
// replaced or revoked. Errors never contain the token.
func (s *Service) FeedTokenAccount(ctx context.Context, token string) (string, error) {
	if !wellFormed(token) {
		return "", ErrNotFound
	}
	hash := hashToken(token)
	acc, err := s.store.Get(ctx, tokenHashKey(hash))
	if errors.Is(err, kv.ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("podcasts: resolving feed token: %w", err)
	}
	accountID := string(acc)
	rec, found, err := s.tokenRecord(ctx, accountID)
	if err != nil {
		return "", err
	}
	if !found || subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hash)) != 1 {
		return "", ErrNotFound
	}
	return accountID, nil
}

// HasFeedToken reports whether the account has a private feed token and
// when it was issued.
func (s *Service) HasFeedToken(ctx context.Context, accountID string) (bool, time.Time, error) {
	if !validID(accountID) {
		return false, time.Time{}, nil
	}
	rec, found, err := s.tokenRecord(ctx, accountID)
	if err != nil || !found {
		return false, time.Time{}, err
	}
	return true, rec.Issued, nil
}

func (s *Service) tokenRecord(ctx context.Context, accountID string) (tokenRecord, bool, error) {
	if !validID(accountID) {
		return tokenRecord{}, false, nil
	}
	b, err := s.store.Get(ctx, tokenAccountKey(accountID))
	if errors.Is(err, kv.ErrNotFound) {
		return tokenRecord{}, false, nil
	}
	if err != nil {
		return tokenRecord{}, false, fmt.Errorf("podcasts: reading feed token of %s: %w", accountID, err)
	}
	var rec tokenRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return tokenRecord{}, false, fmt.Errorf("podcasts: decoding feed token of %s: %w", accountID, err)
	}
	return rec, true, nil
}
