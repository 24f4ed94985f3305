package accounts

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned when an account or session does not exist.
	ErrNotFound = errors.New("accounts: not found")
	// ErrInvalidCredentials is returned by Login for an unknown pseudonym or
	// a wrong password; the two are deliberately indistinguishable.
	ErrInvalidCredentials = errors.New("accounts: invalid pseudonym or password")
	// ErrNoSession is returned for a missing, expired or revoked session.
	ErrNoSession = errors.New("accounts: no valid session")
	// ErrLastAdmin is returned when a change would leave portalo without
	// any admin.
	ErrLastAdmin = errors.New("accounts: the last admin cannot lose the admin role or be deleted")
)

// InputError says which field of a request is wrong and why. Code is a
// stable machine-readable reason ("pseudonym_taken", "password_too_short",
// ...) that the web layer turns into a message in the person's language.
type InputError struct {
	Field string
	Code  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("accounts: invalid %s: %s", e.Field, e.Code)
}

// RateLimitedError is returned when too many attempts were made; the caller
// may try again after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("accounts: too many attempts, retry after %s", e.RetryAfter.Round(time.Second))
}
