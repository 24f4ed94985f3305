package catalog

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned when an item does not exist.
	ErrNotFound = errors.New("catalog: item not found")
	// ErrConflict is matched (errors.Is) by a *ConflictError.
	ErrConflict = errors.New("catalog: the item was changed meanwhile")
	// ErrNotReady is matched (errors.Is) by a *NotReadyError.
	ErrNotReady = errors.New("catalog: the item cannot be published yet")
	// ErrBusy is returned when another write to the same item held its
	// lock for longer than Options.LockWait.
	ErrBusy = errors.New("catalog: the item is being changed elsewhere, try again")
)

// InputError says which field of a request is wrong and why. Code is a
// stable machine-readable reason ("title_required", "slug_taken", ...) that
// the web layer turns into a message in the person's language. Field is
// the field's name, with the language appended for per-language texts
// ("title_de") and for versions and subtitles ("versions_tr").
type InputError struct {
	Field string
	Code  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("catalog: invalid %s: %s", e.Field, e.Code)
}

func inputErr(field, code string) error { return &InputError{Field: field, Code: code} }

// ConflictError is returned by Update when the item's revision is no longer
// the one the editor started from: someone else saved it meanwhile. The web
// layer shows the current state and lets the editor apply the change again.
type ConflictError struct {
	ID       string
	Expected int // the revision the caller gave
	Current  int // the revision in the store
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("catalog: item %s is at revision %d, not %d: it was changed meanwhile", e.ID, e.Current, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// NotReadyError is returned by Publish when the item cannot be shown yet.
// Code is one of:
//
//	processing        the processing step is still running
//	no_files          no language version has a file
//	file_incomplete   File Key is not complete yet
//	file_missing      File Key is listed but not in the object store
//	poster_missing    the poster Key is not in the object store
//	subtitle_missing  the subtitle Key (of Language) is not in the object store
//	chapters_missing  the chapters file Key is not in the object store
type NotReadyError struct {
	ID       string
	Code     string
	Language string // the version or subtitle concerned, if any
	Key      string // the object concerned, if any
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("catalog: item %s cannot be published: %s", e.ID, e.Code)
	if e.Language != "" {
		msg += " (" + e.Language + ")"
	}
	if e.Key != "" {
		msg += ": " + e.Key
	}
	return msg
}

// Is makes errors.Is(err, ErrNotReady) true.
func (e *NotReadyError) Is(target error) bool { return target == ErrNotReady }

// passThrough reports whether err is one of the package's own answers,
// which callers match and which are returned unwrapped.
func passThrough(err error) bool {
	var ie *InputError
	return errors.As(err, &ie) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict) ||
		errors.Is(err, ErrNotReady) || errors.Is(err, ErrBusy)
}
