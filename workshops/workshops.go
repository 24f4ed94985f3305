// Package workshops owns the live workshops' definitions and their weekly
// schedule: what a workshop is about, in which language it is held and by
// which trainer, when it recurs (in Berlin time, across daylight saving
// changes), which dates are cancelled or moved, when the room of an
// occurrence is open (including a trainer ending it early or extending it),
// and the schedule as an iCalendar (RFC 5545) feed.
//
// It stores its state in a kv.Store and knows nothing of HTTP; whether an
// account may edit workshops is the caller's business, and whether an
// account is a trainer is asked through Options.IsTrainer.
package workshops

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Berlin also on machines without zoneinfo

	"portalo/internal/langtext"
	"portalo/store/kv"
)

// Berlin is the time zone every workshop is scheduled in.
var Berlin = mustLoadBerlin()

func mustLoadBerlin() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic("workshops: loading Europe/Berlin: " + err.Error())
	}
	return loc
}

// Topic is what a workshop is about.
type Topic string

// The topics.
const (
	TopicMovement   Topic = "movement"
	TopicRelaxation Topic = "relaxation"
	TopicNutrition  Topic = "nutrition"
)

// Topics are the known topics, in the order a page lists them. A new topic
// is added here (and given a label in the web layer).
var Topics = []Topic{TopicMovement, TopicRelaxation, TopicNutrition}

// ValidTopic reports whether t is one of Topics.
func ValidTopic(t Topic) bool { return slices.Contains(Topics, t) }

// Languages are the languages a workshop can be held and described in:
// those portalo speaks (langtext.Languages).
var Languages = langtext.Languages

// ValidLanguage reports whether code is one of Languages.
func ValidLanguage(code string) bool { return langtext.Valid(code) }

// Limits on a workshop.
const (
	MaxTitleLen       = 120  // runes
	MaxDescriptionLen = 2000 // runes
	DefaultDuration   = 60   // minutes
	MinDuration       = 15   // minutes
	MaxDuration       = 240  // minutes
	// RoomOpensBefore is how long before the start a room opens.
	RoomOpensBefore = 15 * time.Minute
	// ExtendStep is how much one extension adds to a room's time.
	ExtendStep = 15 * time.Minute
	// MaxExtension bounds the extensions of one occurrence.
	MaxExtension = 60 * time.Minute
)

// Exception changes one date of a workshop's weekly recurrence: it is
// cancelled, or moved to another date, start time or duration.
type Exception struct {
	Cancelled bool `json:"cancelled,omitempty"`
	// Date, Start and Duration (minutes) are where a moved date went.
	Date     Date      `json:"date,omitzero"`
	Start    TimeOfDay `json:"start,omitzero"`
	Duration int       `json:"duration_minutes,omitempty"`
}

// Workshop is one weekly workshop.
type Workshop struct {
	ID string `json:"id"`
	// Title and Description are keyed by language code; at least one title
	// is required.
	Title       map[string]string `json:"title"`
	Description map[string]string `json:"description,omitempty"`
	Topic       Topic             `json:"topic"`
	// Language is the language the workshop is held in.
	Language string `json:"language"`
	// TrainerID is the account that leads the workshop. It is empty when
	// that account was deleted (see UnassignTrainer): the workshop still
	// takes place and admins moderate its rooms until an editor chooses
	// another trainer.
	TrainerID string `json:"trainer_id"`
	// Weekday (0 = Sunday) and Start (Berlin time) say when it recurs;
	// Duration is in minutes.
	Weekday  time.Weekday `json:"weekday"`
	Start    TimeOfDay    `json:"start"`
	Duration int          `json:"duration_minutes"`
	// StartsOn is the first date it may take place; Until, if set, the
	// last.
	StartsOn Date `json:"starts_on"`
	Until    Date `json:"until,omitzero"`
	// Exceptions are keyed by the regular date they change.
	Exceptions map[Date]Exception `json:"exceptions,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
}

// TitleIn returns the title in lang, falling back to the language the
// workshop is held in, then to the default order of Languages; it also
// returns the language of the text it returns.
func (w Workshop) TitleIn(lang string) (string, string) {
	return langtext.Pick(w.Title, lang, w.Language)
}

// DescriptionIn is TitleIn for the description.
func (w Workshop) DescriptionIn(lang string) (string, string) {
	return langtext.Pick(w.Description, lang, w.Language)
}

// Scheduled reports whether d is a regular date of the weekly recurrence
// (before exceptions).
func (w Workshop) Scheduled(d Date) bool {
	return !d.IsZero() && d.Weekday() == w.Weekday && !d.Before(w.StartsOn) && (w.Until.IsZero() || !w.Until.Before(d))
}

// FirstDate returns the first regular date, or the zero Date when there is
// none.
func (w Workshop) FirstDate() Date {
	d := w.StartsOn.AddDays((int(w.Weekday) - int(w.StartsOn.Weekday()) + 7) % 7)
	if !w.Scheduled(d) {
		return Date{}
	}
	return d
}

// startOn returns the start and end of the workshop held on d at start for
// minutes, in Berlin time.
func startOn(d Date, start TimeOfDay, minutes int) (time.Time, time.Time) {
	t := time.Date(d.Year, d.Month, d.Day, start.Hour, start.Minute, 0, 0, Berlin)
	return t, t.Add(time.Duration(minutes) * time.Minute)
}

// InputError says which field of a request is wrong and why. Code is a
// stable machine-readable reason ("title_required", "duration_invalid", ...)
// that the web layer turns into a message in the person's language.
type InputError struct {
	Field string
	Code  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("workshops: invalid %s: %s", e.Field, e.Code)
}

var (
	// ErrNotFound is returned when a workshop does not exist.
	ErrNotFound = errors.New("workshops: not found")
	// ErrRoomNotOpen is returned when a room is to be ended or extended
	// while none of the workshop's rooms is open.
	ErrRoomNotOpen = errors.New("workshops: no room of this workshop is open")
)

// Options tune a Service. Zero values take the defaults.
type Options struct {
	// IsTrainer reports whether an account may lead workshops; nil accepts
	// every non-empty ID.
	IsTrainer func(ctx context.Context, accountID string) (bool, error)
	// Now is the clock (time.Now).
	Now func() time.Time
	// RoomStateTTL is how long an occurrence's room overrides are kept
	// (14 days).
	RoomStateTTL time.Duration
}

// Service manages workshops on a kv.Store.
type Service struct {
	store kv.Store
	opt   Options
}

// New returns a Service storing its state in store.
func New(store kv.Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.RoomStateTTL <= 0 {
		opt.RoomStateTTL = 14 * 24 * time.Hour
	}
	return &Service{store: store, opt: opt}
}

// Keys in the store.
func workshopKey(id string) string     { return "workshop:" + id }
func roomPrefix(id string) string      { return "workshop-room:" + id + ":" }
func roomKey(id string, d Date) string { return roomPrefix(id) + d.String() }

// validID keeps IDs from reaching into other keys.
func validID(id string) bool { return id != "" && len(id) <= 64 && !strings.ContainsAny(id, ":/ ") }

func inputErr(field, code string) error { return &InputError{Field: field, Code: code} }

func validDuration(minutes int) bool { return minutes >= MinDuration && minutes <= MaxDuration }

func (s *Service) stamp() time.Time { return s.opt.Now().UTC().Truncate(time.Second) }

func decode(b []byte) (Workshop, error) {
	var w Workshop
	err := json.Unmarshal(b, &w)
	return w, err
}

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("workshops: reading random bytes: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// normalize checks a workshop's definition and returns it cleaned up (texts
// trimmed, empty ones dropped, the default duration filled in). An empty
// trainer is refused only when requireTrainer is set.
func (s *Service) normalize(ctx context.Context, w Workshop, requireTrainer bool) (Workshop, error) {
	var p *langtext.Problem
	if w.Title, p = langtext.Clean(w.Title, langtext.Rules{Field: "title", MaxRunes: MaxTitleLen, OneLine: true, Required: true}); p != nil {
		return Workshop{}, inputErr(p.Field, p.Code)
	}
	if w.Description, p = langtext.Clean(w.Description, langtext.Rules{Field: "description", MaxRunes: MaxDescriptionLen}); p != nil {
		return Workshop{}, inputErr(p.Field, p.Code)
	}
	switch {
	case !ValidTopic(w.Topic):
		return Workshop{}, inputErr("topic", "topic_invalid")
	case !ValidLanguage(w.Language):
		return Workshop{}, inputErr("language", "workshop_language_invalid")
	case w.Weekday < time.Sunday || w.Weekday > time.Saturday:
		return Workshop{}, inputErr("weekday", "weekday_invalid")
	case !w.Start.Valid():
		return Workshop{}, inputErr("start", "start_invalid")
	}
	if w.Duration == 0 {
		w.Duration = DefaultDuration
	}
	if !validDuration(w.Duration) {
		return Workshop{}, inputErr("duration", "duration_invalid")
	}
	if w.StartsOn.IsZero() {
		return Workshop{}, inputErr("starts_on", "starts_on_required")
	}
	if !w.StartsOn.Valid() {
		return Workshop{}, inputErr("starts_on", "date_invalid")
	}
	if !w.Until.IsZero() && (!w.Until.Valid() || w.FirstDate().IsZero()) {
		return Workshop{}, inputErr("until", "until_before_start")
	}
	w.TrainerID = strings.TrimSpace(w.TrainerID)
	if w.TrainerID == "" {
		if requireTrainer {
			return Workshop{}, inputErr("trainer_id", "trainer_required")
		}
		return w, nil
	}
	if s.opt.IsTrainer != nil {
		ok, err := s.opt.IsTrainer(ctx, w.TrainerID)
		if err != nil {
			return Workshop{}, fmt.Errorf("workshops: checking trainer: %w", err)
		}
		if !ok {
			return Workshop{}, inputErr("trainer_id", "trainer_invalid")
		}
	}
	return w, nil
}

// Create validates and stores a new workshop and returns it with its ID.
// Exceptions given are ignored; dates are changed with CancelDate and
// MoveDate.
func (s *Service) Create(ctx context.Context, w Workshop) (Workshop, error) {
	w, err := s.normalize(ctx, w, true)
	if err != nil {
		return Workshop{}, err
	}
	if w.ID, err = randomID(10); err != nil {
		return Workshop{}, err
	}
	w.Exceptions = nil
	w.CreatedAt = s.stamp()
	w.UpdatedAt = w.CreatedAt
	b, err := json.Marshal(w)
	if err != nil {
		return Workshop{}, fmt.Errorf("workshops: encoding: %w", err)
	}
	ok, err := s.store.Create(ctx, workshopKey(w.ID), b, 0)
	if err != nil {
		return Workshop{}, fmt.Errorf("workshops: storing: %w", err)
	}
	if !ok {
		return Workshop{}, fmt.Errorf("workshops: ID %s already taken", w.ID)
	}
	return w, nil
}

// Update replaces the definition of the workshop w.ID. Its exceptions are
// kept as long as their dates are still regular dates; CreatedAt is kept.
// A trainer is required, except that a workshop that has none (its
// trainer's account was deleted) may be edited without choosing one yet.
func (s *Service) Update(ctx context.Context, w Workshop) (Workshop, error) {
	if !validID(w.ID) {
		return Workshop{}, ErrNotFound
	}
	w, err := s.normalize(ctx, w, false)
	if err != nil {
		return Workshop{}, err
	}
	now := s.stamp()
	return s.modify(ctx, w.ID, func(cur *Workshop) error {
		if w.TrainerID == "" && cur.TrainerID != "" {
			return inputErr("trainer_id", "trainer_required")
		}
		next := w
		next.CreatedAt = cur.CreatedAt
		next.UpdatedAt = now
		next.Exceptions = nil
		for d, ex := range cur.Exceptions {
			if next.Scheduled(d) {
				if next.Exceptions == nil {
					next.Exceptions = map[Date]Exception{}
				}
				next.Exceptions[d] = ex
			}
		}
		*cur = next
		return nil
	})
}

// modify applies fn to the stored workshop atomically.
func (s *Service) modify(ctx context.Context, id string, fn func(*Workshop) error) (Workshop, error) {
	if !validID(id) {
		return Workshop{}, ErrNotFound
	}
	var out Workshop
	err := s.store.Update(ctx, workshopKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		w, err := decode(cur)
		if err != nil {
			return nil, 0, fmt.Errorf("workshops: decoding %s: %w", id, err)
		}
		if err := fn(&w); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(w)
		if err != nil {
			return nil, 0, fmt.Errorf("workshops: encoding: %w", err)
		}
		out = w
		return b, 0, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !isInput(err) {
		return Workshop{}, fmt.Errorf("workshops: updating %s: %w", id, err)
	}
	return out, err
}

func isInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Delete removes a workshop and its rooms' state.
func (s *Service) Delete(ctx context.Context, id string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	keys, err := s.store.Keys(ctx, roomPrefix(id))
	if err != nil {
		return fmt.Errorf("workshops: listing room state of %s: %w", id, err)
	}
	if err := s.store.Delete(ctx, append(keys, workshopKey(id))...); err != nil {
		return fmt.Errorf("workshops: deleting %s: %w", id, err)
	}
	return nil
}

// Get returns the workshop with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Workshop, error) {
	if !validID(id) {
		return Workshop{}, ErrNotFound
	}
	b, err := s.store.Get(ctx, workshopKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Workshop{}, ErrNotFound
	}
	if err != nil {
		return Workshop{}, fmt.Errorf("workshops: reading %s: %w", id, err)
	}
	w, err := decode(b)
	if err != nil {
		return Workshop{}, fmt.Errorf("workshops: decoding %s: %w", id, err)
	}
	return w, nil
}

// List returns all workshops in the order of the week (Monday first), then
// by start time and ID.
func (s *Service) List(ctx context.Context) ([]Workshop, error) {
	keys, err := s.store.Keys(ctx, "workshop:")
	if err != nil {
		return nil, fmt.Errorf("workshops: listing: %w", err)
	}
	out := make([]Workshop, 0, len(keys))
	for _, k := range keys {
		w, err := s.Get(ctx, strings.TrimPrefix(k, "workshop:"))
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if da, db := (a.Weekday+6)%7, (b.Weekday+6)%7; da != db {
			return da < db
		}
		if a.Start != b.Start {
			return a.Start.Before(b.Start)
		}
		return a.ID < b.ID
	})
	return out, nil
}

// UnassignTrainer removes the account accountID as trainer from every
// workshop that names it. The workshops keep their schedule and then have
// no trainer (admins still join their rooms as moderators) until an editor
// chooses another one. It suits accounts.Options.BeforeDelete: an error
// stops the deletion of the account, and running it again is harmless.
func (s *Service) UnassignTrainer(ctx context.Context, accountID string) error {
	if accountID == "" {
		return nil
	}
	all, err := s.List(ctx)
	if err != nil {
		return err
	}
	now := s.stamp()
	for _, w := range all {
		if w.TrainerID != accountID {
			continue
		}
		_, err := s.modify(ctx, w.ID, func(cur *Workshop) error {
			if cur.TrainerID == accountID { // it may have changed since List
				cur.TrainerID = ""
				cur.UpdatedAt = now
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) { // deleted meanwhile: nothing to do
			return err
		}
	}
	return nil
}

// CancelDate cancels the workshop on the regular date d (undoing a move of
// that date).
func (s *Service) CancelDate(ctx context.Context, id string, d Date) (Workshop, error) {
	now := s.stamp()
	return s.modify(ctx, id, func(w *Workshop) error {
		if !w.Scheduled(d) {
			return inputErr("date", "date_not_scheduled")
		}
		w.setException(d, Exception{Cancelled: true})
		w.UpdatedAt = now
		return nil
	})
}

// Move says where a date goes.
type Move struct {
	Date  Date      `json:"date"`
	Start TimeOfDay `json:"start"`
	// Duration in minutes; 0 keeps the workshop's duration.
	Duration int `json:"duration_minutes,omitempty"`
}

// MoveDate moves the workshop of the regular date d to another date, start
// time or duration.
func (s *Service) MoveDate(ctx context.Context, id string, d Date, to Move) (Workshop, error) {
	switch {
	case to.Date.IsZero() || !to.Date.Valid():
		return Workshop{}, inputErr("date", "date_invalid")
	case !to.Start.Valid():
		return Workshop{}, inputErr("start", "start_invalid")
	case to.Duration != 0 && !validDuration(to.Duration):
		return Workshop{}, inputErr("duration", "duration_invalid")
	}
	now := s.stamp()
	return s.modify(ctx, id, func(w *Workshop) error {
		if !w.Scheduled(d) {
			return inputErr("date", "date_not_scheduled")
		}
		w.setException(d, Exception{Date: to.Date, Start: to.Start, Duration: cmp.Or(to.Duration, w.Duration)})
		w.UpdatedAt = now
		return nil
	})
}

// RestoreDate undoes a cancellation or move of the regular date d.
func (s *Service) RestoreDate(ctx context.Context, id string, d Date) (Workshop, error) {
	now := s.stamp()
	return s.modify(ctx, id, func(w *Workshop) error {
		if !w.Scheduled(d) {
			return inputErr("date", "date_not_scheduled")
		}
		if _, ok := w.Exceptions[d]; ok {
			delete(w.Exceptions, d)
			if len(w.Exceptions) == 0 {
				w.Exceptions = nil
			}
			w.UpdatedAt = now
		}
		return nil
	})
}

func (w *Workshop) setException(d Date, ex Exception) {
	if w.Exceptions == nil {
		w.Exceptions = map[Date]Exception{}
	}
	w.Exceptions[d] = ex
}
