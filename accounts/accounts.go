package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"

	"portalo/store/kv"
)

// Role is what an account may do beyond participating.
type Role string

// The roles. Every account is a participant; the others are granted.
const (
	RoleParticipant Role = "participant"
	RoleMultiplier  Role = "multiplier"
	RoleTrainer     Role = "trainer"
	RoleEditor      Role = "editor"
	RoleAdmin       Role = "admin"
)

// GrantableRoles are the roles an admin can give or take away, in the order
// an admin page shows them.
var GrantableRoles = []Role{RoleMultiplier, RoleTrainer, RoleEditor, RoleAdmin}

// ValidRole reports whether r is one of the grantable roles.
func ValidRole(r Role) bool { return slices.Contains(GrantableRoles, r) }

// Limits on what a person can enter.
const (
	MinPseudonymLen = 3
	MaxPseudonymLen = 32
	MinPasswordLen  = 8
	MaxPasswordLen  = 256
	MaxEmailLen     = 254
)

// Account is one registered person.
type Account struct {
	ID        string `json:"id"`
	Pseudonym string `json:"pseudonym"`
	Email     string `json:"email,omitempty"`
	// Roles holds the granted roles (never RoleParticipant, which every
	// account has), sorted.
	Roles []Role `json:"roles,omitempty"`
	// MultiplierRequested is set while a request for the multiplier role
	// waits for an admin.
	MultiplierRequested bool      `json:"multiplier_requested,omitempty"`
	Language            string    `json:"language,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	PasswordHash        string    `json:"password_hash"`
}

// Has reports whether the account holds role r. Every account is a
// participant.
func (a Account) Has(r Role) bool {
	return r == RoleParticipant || slices.Contains(a.Roles, r)
}

// Session is a server-side login. The token that identifies it lives only in
// the person's cookie; the store keeps a hash of it.
type Session struct {
	AccountID string    `json:"account_id"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
}

// Options tune a Service. Zero values take the defaults.
type Options struct {
	// Hash sets the argon2id cost (DefaultHashParams).
	Hash HashParams
	// IdleTimeout ends a session that was not used for this long
	// (14 days); every use extends it.
	IdleTimeout time.Duration
	// MaxSessionAge ends a session this long after login, used or not
	// (60 days).
	MaxSessionAge time.Duration
	// LoginAttemptsPerAccount and LoginAttemptsPerClient limit login
	// attempts per LimitWindow (10 and 100 per 15 minutes). Clients share
	// addresses in job centres and public Wi-Fi, so the client limit is
	// generous; the account limit stops guessing one password.
	LoginAttemptsPerAccount int64
	LoginAttemptsPerClient  int64
	// RegistrationsPerClient limits new accounts per client per hour (20).
	RegistrationsPerClient int64
	LimitWindow            time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// BeforeDelete run, in order, before an account is deleted; other
	// features remove what they keep about the person there. An error
	// stops the deletion before anything is removed.
	BeforeDelete []func(ctx context.Context, accountID string) error
}

// Service manages accounts and sessions on a kv.Store.
type Service struct {
	store kv.Store
	opt   Options
	// dummyHash is compared against when a pseudonym is unknown so that a
	// login takes the same time whether the account exists or not.
	dummyHash string
	// secret keys the hashes of rate-limit subjects; it is shared by all
	// nodes through the store.
	secret []byte
}

// New returns a Service storing its state in store.
func New(ctx context.Context, store kv.Store, opt Options) (*Service, error) {
	if opt.Hash == (HashParams{}) {
		opt.Hash = DefaultHashParams
	}
	if opt.IdleTimeout <= 0 {
		opt.IdleTimeout = 14 * 24 * time.Hour
	}
	if opt.MaxSessionAge <= 0 {
		opt.MaxSessionAge = 60 * 24 * time.Hour
	}
	if opt.LoginAttemptsPerAccount <= 0 {
		opt.LoginAttemptsPerAccount = 10
	}
	if opt.LoginAttemptsPerClient <= 0 {
		opt.LoginAttemptsPerClient = 100
	}
	if opt.RegistrationsPerClient <= 0 {
		opt.RegistrationsPerClient = 20
	}
	if opt.LimitWindow <= 0 {
		opt.LimitWindow = 15 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	dummy, err := hashPassword("portalo-dummy-password", opt.Hash)
	if err != nil {
		return nil, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("accounts: reading random bytes: %w", err)
	}
	if _, err := store.Create(ctx, clientSecretKey, fresh, 0); err != nil {
		return nil, fmt.Errorf("accounts: storing the rate-limit secret: %w", err)
	}
	secret, err := store.Get(ctx, clientSecretKey)
	if err != nil {
		return nil, fmt.Errorf("accounts: reading the rate-limit secret: %w", err)
	}
	return &Service{store: store, opt: opt, dummyHash: dummy, secret: secret}, nil
}

// Keys in the store.
func accountKey(id string) string         { return "account:" + id }
func pseudonymKey(norm string) string     { return "pseudonym:" + norm }
func sessionKey(hash string) string       { return "session:" + hash }
func accountSessionsKey(id string) string { return "account-sessions:" + id }

const clientSecretKey = "secret:client-key"

// Registration is what a person enters to register.
type Registration struct {
	Pseudonym string
	Password  string
	// Email is optional.
	Email string
	// WantsMultiplier asks an admin for the multiplier role.
	WantsMultiplier bool
	Language        string
}

// NormalizePseudonym applies the PRECIS nickname profile (RFC 8266) and
// checks the length: it returns the pseudonym as it will be shown and the
// key under which it must be unique (case and width folded, so "Anna" and
// "ANNA" cannot both exist).
func NormalizePseudonym(s string) (display, key string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_required"}
	}
	if len(s) > 4*MaxPseudonymLen {
		return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_length"}
	}
	display, err = precis.Nickname.String(s)
	if err != nil {
		return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_invalid"}
	}
	if n := utf8.RuneCountInString(display); n < MinPseudonymLen || n > MaxPseudonymLen {
		return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_length"}
	}
	for _, r := range display {
		if r == '@' || r == '/' || r == '<' || r == '>' {
			return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_invalid"}
		}
	}
	key, err = precis.Nickname.CompareKey(display)
	if err != nil {
		return "", "", &InputError{Field: "pseudonym", Code: "pseudonym_invalid"}
	}
	return display, key, nil
}

func validatePassword(p string) error {
	switch {
	case p == "":
		return &InputError{Field: "password", Code: "password_required"}
	case utf8.RuneCountInString(p) < MinPasswordLen:
		return &InputError{Field: "password", Code: "password_too_short"}
	case len(p) > MaxPasswordLen:
		return &InputError{Field: "password", Code: "password_too_long"}
	}
	return nil
}

func normalizeEmail(e string) (string, error) {
	e = strings.TrimSpace(e)
	if e == "" {
		return "", nil
	}
	if len(e) > MaxEmailLen {
		return "", &InputError{Field: "email", Code: "email_invalid"}
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", &InputError{Field: "email", Code: "email_invalid"}
	}
	return e, nil
}

func newID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("accounts: reading random bytes: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// Register creates an account. client identifies the requesting client (its
// IP address); it is only used, hashed, for the rate limit.
func (s *Service) Register(ctx context.Context, reg Registration, client string) (Account, error) {
	if err := s.limit(ctx, "register", client, s.opt.RegistrationsPerClient, time.Hour); err != nil {
		return Account{}, err
	}
	return s.create(ctx, reg, nil)
}

// CreateAdmin creates an account with the admin role (for `portalo admin
// create`), not rate limited.
func (s *Service) CreateAdmin(ctx context.Context, pseudonym, password string) (Account, error) {
	return s.create(ctx, Registration{Pseudonym: pseudonym, Password: password}, []Role{RoleAdmin})
}

func (s *Service) create(ctx context.Context, reg Registration, roles []Role) (Account, error) {
	display, normKey, err := NormalizePseudonym(reg.Pseudonym)
	if err != nil {
		return Account{}, err
	}
	if err := validatePassword(reg.Password); err != nil {
		return Account{}, err
	}
	email, err := normalizeEmail(reg.Email)
	if err != nil {
		return Account{}, err
	}
	id, err := newID(12)
	if err != nil {
		return Account{}, err
	}
	hash, err := hashPassword(reg.Password, s.opt.Hash)
	if err != nil {
		return Account{}, err
	}
	a := Account{
		ID:                  id,
		Pseudonym:           display,
		Email:               email,
		Roles:               roles,
		MultiplierRequested: reg.WantsMultiplier,
		Language:            reg.Language,
		CreatedAt:           s.opt.Now().UTC().Truncate(time.Second),
		PasswordHash:        hash,
	}
	// The pseudonym index is claimed first: of two concurrent
	// registrations of one pseudonym only one wins.
	ok, err := s.store.Create(ctx, pseudonymKey(normKey), []byte(id), 0)
	if err != nil {
		return Account{}, fmt.Errorf("accounts: claiming pseudonym: %w", err)
	}
	if !ok {
		return Account{}, &InputError{Field: "pseudonym", Code: "pseudonym_taken"}
	}
	if err := s.put(ctx, a); err != nil {
		// Release the pseudonym so that nothing is left half-written.
		_ = s.store.Delete(context.WithoutCancel(ctx), pseudonymKey(normKey))
		return Account{}, err
	}
	return a, nil
}

func (s *Service) put(ctx context.Context, a Account) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("accounts: encoding account: %w", err)
	}
	if err := s.store.Set(ctx, accountKey(a.ID), b, 0); err != nil {
		return fmt.Errorf("accounts: storing account: %w", err)
	}
	return nil
}

// Get returns the account with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Account, error) {
	b, err := s.store.Get(ctx, accountKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("accounts: reading account: %w", err)
	}
	var a Account
	if err := json.Unmarshal(b, &a); err != nil {
		return Account{}, fmt.Errorf("accounts: decoding account %s: %w", id, err)
	}
	return a, nil
}

// ByPseudonym returns the account with the given pseudonym (compared case-
// and width-insensitively), or ErrNotFound.
func (s *Service) ByPseudonym(ctx context.Context, pseudonym string) (Account, error) {
	_, normKey, err := NormalizePseudonym(pseudonym)
	if err != nil {
		return Account{}, ErrNotFound
	}
	id, err := s.store.Get(ctx, pseudonymKey(normKey))
	if errors.Is(err, kv.ErrNotFound) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("accounts: reading pseudonym index: %w", err)
	}
	return s.Get(ctx, string(id))
}

// List returns all accounts, oldest first.
func (s *Service) List(ctx context.Context) ([]Account, error) {
	keys, err := s.store.Keys(ctx, "account:")
	if err != nil {
		return nil, fmt.Errorf("accounts: listing: %w", err)
	}
	out := make([]Account, 0, len(keys))
	for _, k := range keys {
		a, err := s.Get(ctx, strings.TrimPrefix(k, "account:"))
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// modify applies fn to the stored account atomically.
func (s *Service) modify(ctx context.Context, id string, fn func(*Account) error) (Account, error) {
	var out Account
	err := s.store.Update(ctx, accountKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		var a Account
		if err := json.Unmarshal(cur, &a); err != nil {
			return nil, 0, fmt.Errorf("accounts: decoding account %s: %w", id, err)
		}
		if err := fn(&a); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(a)
		if err != nil {
			return nil, 0, err
		}
		out = a
		return b, 0, nil
	})
	return out, err
}

// RequestMultiplier asks an admin for the multiplier role.
func (s *Service) RequestMultiplier(ctx context.Context, id string) (Account, error) {
	return s.modify(ctx, id, func(a *Account) error {
		if !a.Has(RoleMultiplier) {
			a.MultiplierRequested = true
		}
		return nil
	})
}

// ApproveMultiplier grants the multiplier role and closes the request.
func (s *Service) ApproveMultiplier(ctx context.Context, id string) (Account, error) {
	return s.modify(ctx, id, func(a *Account) error {
		a.MultiplierRequested = false
		a.Roles = withRole(a.Roles, RoleMultiplier, true)
		return nil
	})
}

// DeclineMultiplier closes a multiplier request without granting the role.
func (s *Service) DeclineMultiplier(ctx context.Context, id string) (Account, error) {
	return s.modify(ctx, id, func(a *Account) error {
		a.MultiplierRequested = false
		return nil
	})
}

// SetRoles replaces the granted roles of an account. It refuses to remove
// the admin role from the last admin.
func (s *Service) SetRoles(ctx context.Context, id string, roles []Role) (Account, error) {
	var clean []Role
	for _, r := range roles {
		if !ValidRole(r) {
			return Account{}, &InputError{Field: "roles", Code: "role_invalid"}
		}
		clean = withRole(clean, r, true)
	}
	if !slices.Contains(clean, RoleAdmin) {
		if err := s.ensureOtherAdmin(ctx, id); err != nil {
			return Account{}, err
		}
	}
	return s.modify(ctx, id, func(a *Account) error {
		a.Roles = clean
		if slices.Contains(clean, RoleMultiplier) {
			a.MultiplierRequested = false
		}
		return nil
	})
}

// SetLanguage remembers the language an account prefers.
func (s *Service) SetLanguage(ctx context.Context, id, lang string) (Account, error) {
	return s.modify(ctx, id, func(a *Account) error {
		a.Language = lang
		return nil
	})
}

// ChangePassword sets a new password after checking the current one, and
// ends every other session.
func (s *Service) ChangePassword(ctx context.Context, id, current, next string) error {
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if ok, err := checkPassword(a.PasswordHash, current); err != nil || !ok {
		return &InputError{Field: "current_password", Code: "password_wrong"}
	}
	if err := validatePassword(next); err != nil {
		return err
	}
	hash, err := hashPassword(next, s.opt.Hash)
	if err != nil {
		return err
	}
	_, err = s.modify(ctx, id, func(a *Account) error {
		a.PasswordHash = hash
		return nil
	})
	return err
}

// ensureOtherAdmin returns ErrLastAdmin when id is the only admin.
func (s *Service) ensureOtherAdmin(ctx context.Context, id string) error {
	all, err := s.List(ctx)
	if err != nil {
		return err
	}
	for _, a := range all {
		if a.ID != id && a.Has(RoleAdmin) {
			return nil
		}
		if a.ID == id && !a.Has(RoleAdmin) {
			return nil // not an admin: nothing to protect
		}
	}
	return ErrLastAdmin
}

// HasAdmin reports whether any account holds the admin role.
func (s *Service) HasAdmin(ctx context.Context) (bool, error) {
	all, err := s.List(ctx)
	if err != nil {
		return false, err
	}
	for _, a := range all {
		if a.Has(RoleAdmin) {
			return true, nil
		}
	}
	return false, nil
}

func withRole(roles []Role, r Role, on bool) []Role {
	out := slices.DeleteFunc(slices.Clone(roles), func(x Role) bool { return x == r })
	if on {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Login checks a pseudonym and password and starts a session. It returns the
// session token for the person's cookie. client identifies the requesting
// client (its IP address) for the rate limit only.
func (s *Service) Login(ctx context.Context, pseudonym, password, client string) (Account, string, error) {
	if err := s.limit(ctx, "login-client", client, s.opt.LoginAttemptsPerClient, s.opt.LimitWindow); err != nil {
		return Account{}, "", err
	}
	_, normKey, err := NormalizePseudonym(pseudonym)
	if err != nil || len(password) > MaxPasswordLen {
		return Account{}, "", ErrInvalidCredentials
	}
	if err := s.limit(ctx, "login-account", normKey, s.opt.LoginAttemptsPerAccount, s.opt.LimitWindow); err != nil {
		return Account{}, "", err
	}
	a, err := s.ByPseudonym(ctx, pseudonym)
	if errors.Is(err, ErrNotFound) {
		_, _ = checkPassword(s.dummyHash, password)
		return Account{}, "", ErrInvalidCredentials
	}
	if err != nil {
		return Account{}, "", err
	}
	ok, err := checkPassword(a.PasswordHash, password)
	if err != nil {
		return Account{}, "", fmt.Errorf("accounts: checking password of %s: %w", a.ID, err)
	}
	if !ok {
		return Account{}, "", ErrInvalidCredentials
	}
	// A successful login clears the account's attempt counter.
	key, _ := s.limitKey("login-account", normKey, s.opt.LimitWindow)
	_ = s.store.Delete(ctx, key)
	token, err := s.startSession(ctx, a.ID)
	if err != nil {
		return Account{}, "", err
	}
	return a, token, nil
}

// StartSession starts a session for an account without a password, for
// flows that already proved who the person is (right after registration).
func (s *Service) StartSession(ctx context.Context, accountID string) (string, error) {
	return s.startSession(ctx, accountID)
}

func (s *Service) startSession(ctx context.Context, accountID string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("accounts: reading random bytes: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := s.opt.Now().UTC()
	b, err := json.Marshal(Session{AccountID: accountID, CreatedAt: now, LastSeen: now})
	if err != nil {
		return "", err
	}
	h := hashToken(token)
	if err := s.store.Set(ctx, sessionKey(h), b, s.opt.IdleTimeout); err != nil {
		return "", fmt.Errorf("accounts: storing session: %w", err)
	}
	if err := s.store.AddMember(ctx, accountSessionsKey(accountID), h); err != nil {
		return "", fmt.Errorf("accounts: indexing session: %w", err)
	}
	s.pruneSessions(ctx, accountID)
	return token, nil
}

// pruneSessions drops expired sessions from an account's session index.
func (s *Service) pruneSessions(ctx context.Context, accountID string) {
	members, err := s.store.Members(ctx, accountSessionsKey(accountID))
	if err != nil {
		return
	}
	for _, h := range members {
		if _, err := s.store.Get(ctx, sessionKey(h)); errors.Is(err, kv.ErrNotFound) {
			_ = s.store.RemoveMember(ctx, accountSessionsKey(accountID), h)
		}
	}
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// touchEvery limits how often a session's sliding expiry is written.
const touchEvery = time.Minute

// Authenticate returns the session and account for a token, extending the
// session's idle expiry. It returns ErrNoSession for an unknown, expired or
// revoked token.
func (s *Service) Authenticate(ctx context.Context, token string) (Session, Account, error) {
	if token == "" || len(token) > 64 {
		return Session{}, Account{}, ErrNoSession
	}
	key := sessionKey(hashToken(token))
	b, err := s.store.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return Session{}, Account{}, ErrNoSession
	}
	if err != nil {
		return Session{}, Account{}, fmt.Errorf("accounts: reading session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return Session{}, Account{}, ErrNoSession
	}
	now := s.opt.Now().UTC()
	if now.Sub(sess.CreatedAt) > s.opt.MaxSessionAge {
		_ = s.store.Delete(ctx, key)
		return Session{}, Account{}, ErrNoSession
	}
	a, err := s.Get(ctx, sess.AccountID)
	if errors.Is(err, ErrNotFound) {
		_ = s.store.Delete(ctx, key)
		return Session{}, Account{}, ErrNoSession
	}
	if err != nil {
		return Session{}, Account{}, err
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		// Update, not Set: a session revoked meanwhile stays revoked.
		err := s.store.Update(ctx, key, func(cur []byte, found bool) ([]byte, time.Duration, error) {
			if !found {
				return nil, 0, ErrNoSession
			}
			var cs Session
			if err := json.Unmarshal(cur, &cs); err != nil {
				return nil, 0, ErrNoSession
			}
			cs.LastSeen = now
			nb, err := json.Marshal(cs)
			return nb, s.opt.IdleTimeout, err
		})
		if errors.Is(err, ErrNoSession) {
			return Session{}, Account{}, ErrNoSession
		}
		if err != nil {
			return Session{}, Account{}, fmt.Errorf("accounts: extending session: %w", err)
		}
		sess.LastSeen = now
	}
	return sess, a, nil
}

// Logout ends the session of token.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	h := hashToken(token)
	b, err := s.store.Get(ctx, sessionKey(h))
	if errors.Is(err, kv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("accounts: reading session: %w", err)
	}
	if err := s.store.Delete(ctx, sessionKey(h)); err != nil {
		return fmt.Errorf("accounts: deleting session: %w", err)
	}
	var sess Session
	if json.Unmarshal(b, &sess) == nil {
		_ = s.store.RemoveMember(ctx, accountSessionsKey(sess.AccountID), h)
	}
	return nil
}

// LogoutEverywhere ends every session of an account.
func (s *Service) LogoutEverywhere(ctx context.Context, accountID string) error {
	members, err := s.store.Members(ctx, accountSessionsKey(accountID))
	if err != nil {
		return fmt.Errorf("accounts: listing sessions: %w", err)
	}
	keys := []string{accountSessionsKey(accountID)}
	for _, h := range members {
		keys = append(keys, sessionKey(h))
	}
	if err := s.store.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("accounts: deleting sessions: %w", err)
	}
	return nil
}

// SessionCount returns how many sessions an account has open.
func (s *Service) SessionCount(ctx context.Context, accountID string) (int, error) {
	s.pruneSessions(ctx, accountID)
	m, err := s.store.Members(ctx, accountSessionsKey(accountID))
	return len(m), err
}

// Export is everything portalo keeps about an account, for the person to
// download (GDPR art. 15 and 20). It never holds the password hash.
type Export struct {
	Account struct {
		ID                  string    `json:"id"`
		Pseudonym           string    `json:"pseudonym"`
		Email               string    `json:"email,omitempty"`
		Roles               []Role    `json:"roles"`
		MultiplierRequested bool      `json:"multiplier_requested"`
		Language            string    `json:"language,omitempty"`
		CreatedAt           time.Time `json:"created_at"`
	} `json:"account"`
	Sessions   []Session `json:"sessions"`
	ExportedAt time.Time `json:"exported_at"`
}

// Export returns what portalo keeps about the account.
func (s *Service) Export(ctx context.Context, id string) (Export, error) {
	a, err := s.Get(ctx, id)
	if err != nil {
		return Export{}, err
	}
	var e Export
	e.Account.ID = a.ID
	e.Account.Pseudonym = a.Pseudonym
	e.Account.Email = a.Email
	e.Account.Roles = append([]Role{RoleParticipant}, a.Roles...)
	e.Account.MultiplierRequested = a.MultiplierRequested
	e.Account.Language = a.Language
	e.Account.CreatedAt = a.CreatedAt
	e.Sessions = []Session{}
	members, err := s.store.Members(ctx, accountSessionsKey(id))
	if err != nil {
		return Export{}, fmt.Errorf("accounts: listing sessions: %w", err)
	}
	for _, h := range members {
		b, err := s.store.Get(ctx, sessionKey(h))
		if err != nil {
			continue
		}
		var sess Session
		if json.Unmarshal(b, &sess) == nil {
			e.Sessions = append(e.Sessions, sess)
		}
	}
	e.ExportedAt = s.opt.Now().UTC()
	return e, nil
}

// Delete removes an account and everything kept about it: the features'
// data (through Options.BeforeDelete), its sessions, its pseudonym and the
// account itself. The last admin cannot be deleted.
func (s *Service) Delete(ctx context.Context, id string) error {
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if a.Has(RoleAdmin) {
		if err := s.ensureOtherAdmin(ctx, id); err != nil {
			return err
		}
	}
	for _, hook := range s.opt.BeforeDelete {
		if err := hook(ctx, id); err != nil {
			return fmt.Errorf("accounts: removing data of %s: %w", id, err)
		}
	}
	if err := s.LogoutEverywhere(ctx, id); err != nil {
		return err
	}
	keys := []string{accountKey(id)}
	if _, normKey, err := NormalizePseudonym(a.Pseudonym); err == nil {
		limitKey, _ := s.limitKey("login-account", normKey, s.opt.LimitWindow)
		keys = append(keys, pseudonymKey(normKey), limitKey)
	}
	if err := s.store.Delete(ctx, keys...); err != nil {
		return fmt.Errorf("accounts: deleting account: %w", err)
	}
	return nil
}

// limit counts one attempt of kind by subject and returns a
// RateLimitedError once more than max happened in the current window.
func (s *Service) limit(ctx context.Context, kind, subject string, max int64, window time.Duration) error {
	if subject == "" {
		return nil
	}
	key, end := s.limitKey(kind, subject, window)
	n, err := s.store.Incr(ctx, key, window)
	if err != nil {
		return fmt.Errorf("accounts: counting attempts: %w", err)
	}
	if n > max {
		return &RateLimitedError{RetryAfter: end.Sub(s.opt.Now())}
	}
	return nil
}

// limitKey names the rate-limit counter of kind and subject for the current
// fixed window, and tells when that window ends. Subjects that could
// identify a person's network (client addresses) are keyed hashes, never
// stored raw.
func (s *Service) limitKey(kind, subject string, window time.Duration) (string, time.Time) {
	slot := s.opt.Now().UnixNano() / int64(window)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte(kind + "\x00" + subject))
	key := fmt.Sprintf("ratelimit:%s:%x:%d", kind, mac.Sum(nil)[:16], slot)
	return key, time.Unix(0, (slot+1)*int64(window))
}

// VerifyPassword checks an account's password, for actions that need it
// again (deleting the account). A wrong password is an InputError on the
// field "password" with the code "password_wrong".
func (s *Service) VerifyPassword(ctx context.Context, id, password string) error {
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if ok, err := checkPassword(a.PasswordHash, password); err != nil || !ok {
		return &InputError{Field: "password", Code: "password_wrong"}
	}
	return nil
}
