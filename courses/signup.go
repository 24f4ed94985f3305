package courses

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// PlaceStatus is where a person stands on a course's roster.
type PlaceStatus string

// The statuses; the zero value means not signed up.
const (
	StatusNone    PlaceStatus = ""
	StatusBooked  PlaceStatus = "booked"
	StatusWaiting PlaceStatus = "waiting"
)

// Place is a person's place on a course's roster.
type Place struct {
	Status PlaceStatus
	// Position is the 1-based position on the waiting list (0 unless
	// waiting).
	Position int
	// Since is when the person got the seat or joined the waiting list.
	Since time.Time
}

// Entry is one person on a roster.
type Entry struct {
	Account string    `json:"account"`
	Since   time.Time `json:"since"`
}

// Roster is who signed up for a course.
type Roster struct {
	Seats int
	// Booked in the order the seats were taken; Waiting first in line
	// first.
	Booked, Waiting []Entry
}

func indexOf(es []Entry, account string) int {
	return slices.IndexFunc(es, func(e Entry) bool { return e.Account == account })
}

func (r *record) place(account string) Place {
	if i := indexOf(r.Booked, account); i >= 0 {
		return Place{Status: StatusBooked, Since: r.Booked[i].Since}
	}
	if i := indexOf(r.Waiting, account); i >= 0 {
		return Place{Status: StatusWaiting, Position: i + 1, Since: r.Waiting[i].Since}
	}
	return Place{}
}

// fill moves people from the waiting list to free seats, first in line
// first, unless the course is cancelled, and returns who moved up.
func (r *record) fill(now time.Time) []string {
	if r.Cancelled {
		return nil
	}
	var moved []string
	for len(r.Booked) < r.Seats && len(r.Waiting) > 0 {
		e := r.Waiting[0]
		r.Waiting = r.Waiting[1:]
		moved = append(moved, e.Account)
		r.Booked = append(r.Booked, Entry{Account: e.Account, Since: now})
	}
	if len(r.Waiting) == 0 {
		r.Waiting = nil
	}
	return moved
}

// remove takes account off the roster and fills a freed seat; it reports
// whether the account was on it and who moved up.
func (r *record) remove(account string, now time.Time) (bool, []string) {
	if i := indexOf(r.Booked, account); i >= 0 {
		r.Booked = slices.Delete(r.Booked, i, i+1)
		if len(r.Booked) == 0 {
			r.Booked = nil
		}
		return true, r.fill(now)
	}
	if i := indexOf(r.Waiting, account); i >= 0 {
		r.Waiting = slices.Delete(r.Waiting, i, i+1)
		if len(r.Waiting) == 0 {
			r.Waiting = nil
		}
		return true, nil
	}
	return false, nil
}

func checkAccount(accountID string) error {
	if !validID(accountID) {
		return inputErr("account", "account_invalid")
	}
	return nil
}

// SignUp signs accountID up for course courseID: a free seat is booked,
// otherwise the person joins the end of the waiting list. Signing up again
// returns the current place and changes nothing. A new sign-up fails with
// ErrClosed when the course is cancelled or its first session has started,
// with ErrFull when the waiting list is full, and with ErrNotFound.
func (s *Service) SignUp(ctx context.Context, courseID, accountID string) (Place, error) {
	if err := checkAccount(accountID); err != nil {
		return Place{}, err
	}
	if !validID(courseID) {
		return Place{}, ErrNotFound
	}
	// The index first, so that it always covers the roster (see the
	// package comment).
	if err := s.store.AddMember(ctx, signupsKey(accountID), courseID); err != nil {
		return Place{}, fmt.Errorf("courses: indexing sign-up: %w", err)
	}
	now := s.stamp()
	var place Place
	_, err := s.modify(ctx, courseID, func(r *record) error {
		if place = r.place(accountID); place.Status != StatusNone {
			return errUnchanged
		}
		if !r.SignUpOpen(now) {
			return ErrClosed
		}
		r.fill(now) // keeps "nobody waits while a seat is free" even for old data
		switch {
		case len(r.Booked) < r.Seats:
			r.Booked = append(r.Booked, Entry{Account: accountID, Since: now})
		case len(r.Waiting) >= MaxWaiting:
			return ErrFull
		default:
			r.Waiting = append(r.Waiting, Entry{Account: accountID, Since: now})
		}
		place = r.place(accountID)
		return nil
	})
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrFull) || errors.Is(err, ErrNotFound) {
		// Certainly not on the roster: drop the index entry again. Should
		// that fail, the stale entry is harmless (CoursesOf checks
		// rosters). After other errors the write may have happened, so
		// the entry stays.
		_ = s.store.RemoveMember(ctx, signupsKey(accountID), courseID)
	}
	if err != nil {
		return Place{}, err
	}
	// Again after the roster: a cancellation by the same person running
	// at the same time may have removed the entry in between.
	if err := s.store.AddMember(ctx, signupsKey(accountID), courseID); err != nil {
		return Place{}, fmt.Errorf("courses: indexing sign-up: %w", err)
	}
	return place, nil
}

// CancelSignUp takes accountID off the roster of course courseID. When it
// held a seat, the first person waiting gets it in the same step and is
// returned as promoted (unless the course is cancelled). Cancelling
// without being signed up changes nothing and is not an error.
func (s *Service) CancelSignUp(ctx context.Context, courseID, accountID string) (promoted string, err error) {
	if err := checkAccount(accountID); err != nil {
		return "", err
	}
	now := s.stamp()
	var moved []string
	_, err = s.modify(ctx, courseID, func(r *record) error {
		var was bool
		if was, moved = r.remove(accountID, now); !was {
			return errUnchanged
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	if uerr := s.unindex(ctx, courseID, accountID); uerr != nil {
		return "", uerr
	}
	if err != nil { // ErrNotFound
		return "", err
	}
	if len(moved) > 0 {
		promoted = moved[0]
	}
	return promoted, nil
}

// unindex removes courseID from accountID's index after the entry left
// the roster, and puts it back should a sign-up by the same person have
// come in meanwhile.
func (s *Service) unindex(ctx context.Context, courseID, accountID string) error {
	if !validID(courseID) {
		return nil
	}
	if err := s.store.RemoveMember(ctx, signupsKey(accountID), courseID); err != nil {
		return fmt.Errorf("courses: removing sign-up from the index: %w", err)
	}
	r, err := s.load(ctx, courseID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.place(accountID).Status != StatusNone {
		if err := s.store.AddMember(ctx, signupsKey(accountID), courseID); err != nil {
			return fmt.Errorf("courses: indexing sign-up: %w", err)
		}
	}
	return nil
}

// PlaceOf returns accountID's place on the roster of course courseID (the
// zero Place when not signed up), or ErrNotFound.
func (s *Service) PlaceOf(ctx context.Context, courseID, accountID string) (Place, error) {
	r, err := s.load(ctx, courseID)
	if err != nil {
		return Place{}, err
	}
	return r.place(accountID), nil
}

// Roster returns the seats and who booked or waits for course courseID,
// or ErrNotFound.
func (s *Service) Roster(ctx context.Context, courseID string) (Roster, error) {
	r, err := s.load(ctx, courseID)
	if err != nil {
		return Roster{}, err
	}
	return Roster{Seats: r.Seats, Booked: slices.Clone(r.Booked), Waiting: slices.Clone(r.Waiting)}, nil
}

// CoursesOf returns the IDs of the courses accountID booked or waits for,
// sorted by their first session (for the person's account page).
func (s *Service) CoursesOf(ctx context.Context, accountID string) ([]string, error) {
	if !validID(accountID) {
		return nil, nil
	}
	ids, err := s.store.Members(ctx, signupsKey(accountID))
	if err != nil {
		return nil, fmt.Errorf("courses: reading sign-ups: %w", err)
	}
	var found []Course
	for _, id := range ids {
		r, err := s.load(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // a stale index entry
		}
		if err != nil {
			return nil, err
		}
		if r.place(accountID).Status != StatusNone {
			found = append(found, r.Course)
		}
	}
	sortCourses(found)
	out := make([]string, len(found))
	for i, c := range found {
		out[i] = c.ID
	}
	return out, nil
}

// ForgetAccount removes accountID from every course: from each roster
// (freed seats go to the people waiting), as trainer (the course then has
// none), and its index. It suits accounts.Options.BeforeDelete: running it
// again is harmless.
func (s *Service) ForgetAccount(ctx context.Context, accountID string) error {
	if !validID(accountID) {
		return nil
	}
	recs, err := s.all(ctx)
	if err != nil {
		return err
	}
	now := s.stamp()
	for _, rec := range recs {
		if rec.place(accountID).Status == StatusNone && rec.Trainer != accountID {
			continue
		}
		_, err := s.modify(ctx, rec.ID, func(r *record) error {
			was, _ := r.remove(accountID, now)
			if r.Trainer == accountID { // it may have changed since all
				r.Trainer = ""
				r.Updated = now
				was = true
			}
			if !was {
				return errUnchanged
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) { // deleted meanwhile: nothing to do
			return err
		}
	}
	if err := s.store.Delete(ctx, signupsKey(accountID)); err != nil {
		return fmt.Errorf("courses: deleting the sign-up index: %w", err)
	}
	return nil
}
