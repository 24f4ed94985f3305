package workshops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"portalo/store/kv"
)

// Date is a calendar date without a time zone ("2026-03-29" in JSON).
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads a date written as 2006-01-02.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("workshops: invalid date %q", s)
	}
	return DateOf(t), nil
}

func (d Date) noon() time.Time { return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC) }

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is a real date in a sensible range.
func (d Date) Valid() bool { return DateOf(d.noon()) == d && d.Year >= 2000 && d.Year <= 2200 }

// AddDays returns the date n days after d.
func (d Date) AddDays(n int) Date { return DateOf(d.noon().AddDate(0, 0, n)) }

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday { return d.noon().Weekday() }

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.noon().Before(o.noon()) }

// String returns d as 2006-01-02, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalText writes d as 2006-01-02.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads 2006-01-02; an empty text is the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// TimeOfDay is a wall-clock time in Berlin ("10:00" in JSON).
type TimeOfDay struct {
	Hour, Minute int
}

// ParseTimeOfDay reads a time written as 15:04.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return TimeOfDay{}, fmt.Errorf("workshops: invalid time %q", s)
	}
	return TimeOfDay{t.Hour(), t.Minute()}, nil
}

// Valid reports whether t is a time of day.
func (t TimeOfDay) Valid() bool { return t.Hour >= 0 && t.Hour < 24 && t.Minute >= 0 && t.Minute < 60 }

// Before reports whether t is earlier in the day than o.
func (t TimeOfDay) Before(o TimeOfDay) bool {
	return t.Hour < o.Hour || t.Hour == o.Hour && t.Minute < o.Minute
}

// IsZero reports whether t is midnight (the zero value).
func (t TimeOfDay) IsZero() bool { return t == TimeOfDay{} }

// String returns t as 15:04.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// MarshalText writes t as 15:04.
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads 15:04.
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// RoomState is what a trainer changed about one occurrence's room.
type RoomState struct {
	// EndedAt is when the trainer ended the room early.
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Extension is how long the trainer extended the room.
	Extension time.Duration `json:"extension"`
}

// Occurrence is one date of a workshop.
type Occurrence struct {
	Workshop Workshop
	// Date is the regular date of the recurrence this occurrence stands
	// for (its RECURRENCE-ID), also when it was moved.
	Date Date
	// Start and End are in Berlin time; a moved occurrence has its new
	// time.
	Start, End time.Time
	Cancelled  bool
	Moved      bool
	Room       RoomState
}

// Window is when a room is open: from Opens (inclusive) to Closes
// (exclusive).
type Window struct {
	Opens, Closes time.Time
}

// Contains reports whether the room is open at t.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Opens) && t.Before(w.Closes) }

// RoomWindow returns when the room of occ is open: from RoomOpensBefore the
// start to the end, plus the trainer's extensions, or until the trainer
// ended it. A cancelled occurrence has no open room.
func RoomWindow(occ Occurrence) Window {
	if occ.Cancelled {
		return Window{}
	}
	w := Window{Opens: occ.Start.Add(-RoomOpensBefore), Closes: occ.End.Add(occ.Room.Extension)}
	if e := occ.Room.EndedAt; !e.IsZero() && e.Before(w.Closes) {
		w.Closes = e
		if w.Closes.Before(w.Opens) {
			w.Closes = w.Opens
		}
	}
	return w
}

// Filter narrows Occurrences; empty fields match everything.
type Filter struct {
	Topic    Topic
	Language string
}

func (f Filter) match(w Workshop) bool {
	return (f.Topic == "" || w.Topic == f.Topic) && (f.Language == "" || w.Language == f.Language)
}

// occurrences returns w's occurrences that overlap [from, to), without
// their room state, unsorted.
func (w Workshop) occurrences(from, to time.Time) []Occurrence {
	var out []Occurrence
	add := func(o Occurrence) {
		if o.End.After(from) && o.Start.Before(to) {
			out = append(out, o)
		}
	}
	// A regular occurrence ends at most MaxDuration after its day began,
	// so starting a day early catches every one that overlaps.
	first, last := DateOf(from.In(Berlin)).AddDays(-1), DateOf(to.In(Berlin))
	d := first.AddDays((int(w.Weekday) - int(first.Weekday()) + 7) % 7)
	for ; !last.Before(d); d = d.AddDays(7) {
		if !w.Scheduled(d) {
			continue
		}
		if _, changed := w.Exceptions[d]; changed {
			continue
		}
		o := Occurrence{Workshop: w, Date: d}
		o.Start, o.End = startOn(d, w.Start, w.Duration)
		add(o)
	}
	for d, ex := range w.Exceptions {
		if !w.Scheduled(d) {
			continue
		}
		o := Occurrence{Workshop: w, Date: d, Cancelled: ex.Cancelled, Moved: !ex.Cancelled}
		if ex.Cancelled {
			o.Start, o.End = startOn(d, w.Start, w.Duration)
		} else {
			o.Start, o.End = startOn(ex.Date, ex.Start, ex.Duration)
		}
		add(o)
	}
	return out
}

func sortOccurrences(occs []Occurrence) {
	sort.SliceStable(occs, func(i, j int) bool {
		a, b := occs[i], occs[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		return a.Workshop.ID < b.Workshop.ID
	})
}

// Occurrences returns the occurrences of all workshops matching f that
// overlap [from, to), sorted by start. Cancelled ones are included and
// flagged; moved ones are at their new time.
func (s *Service) Occurrences(ctx context.Context, from, to time.Time, f Filter) ([]Occurrence, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Occurrence
	for _, w := range all {
		if f.match(w) {
			out = append(out, w.occurrences(from, to)...)
		}
	}
	for i := range out {
		if out[i].Room, err = s.roomState(ctx, out[i].Workshop.ID, out[i].Date); err != nil {
			return nil, err
		}
	}
	sortOccurrences(out)
	return out, nil
}

func (s *Service) roomState(ctx context.Context, id string, d Date) (RoomState, error) {
	b, err := s.store.Get(ctx, roomKey(id, d))
	if errors.Is(err, kv.ErrNotFound) {
		return RoomState{}, nil
	}
	if err != nil {
		return RoomState{}, fmt.Errorf("workshops: reading room state: %w", err)
	}
	var rs RoomState
	if err := json.Unmarshal(b, &rs); err != nil {
		return RoomState{}, fmt.Errorf("workshops: decoding room state: %w", err)
	}
	return rs, nil
}

// lookBack is how far before now an occurrence may have started and still
// have an open room.
const lookBack = MaxDuration*time.Minute + MaxExtension + time.Hour

// OpenOccurrence returns the occurrence of a workshop whose room is open at
// now, and whether there is one. It returns ErrNotFound for an unknown
// workshop.
func (s *Service) OpenOccurrence(ctx context.Context, workshopID string, now time.Time) (Occurrence, bool, error) {
	w, err := s.Get(ctx, workshopID)
	if err != nil {
		return Occurrence{}, false, err
	}
	occs := w.occurrences(now.Add(-lookBack), now.Add(RoomOpensBefore+time.Minute))
	sortOccurrences(occs)
	for _, o := range occs {
		if o.Cancelled {
			continue
		}
		if o.Room, err = s.roomState(ctx, w.ID, o.Date); err != nil {
			return Occurrence{}, false, err
		}
		if RoomWindow(o).Contains(now) {
			return o, true, nil
		}
	}
	return Occurrence{}, false, nil
}

// EndRoom ends the room of the workshop that is open at now; it closes at
// now. It returns ErrRoomNotOpen when none is open.
func (s *Service) EndRoom(ctx context.Context, workshopID string, now time.Time) (Occurrence, error) {
	return s.changeRoom(ctx, workshopID, now, func(rs *RoomState) error {
		rs.EndedAt = now.UTC()
		return nil
	})
}

// ExtendRoom keeps the room of the workshop that is open at now open for
// ExtendStep longer, up to MaxExtension in all. It returns ErrRoomNotOpen
// when none is open.
func (s *Service) ExtendRoom(ctx context.Context, workshopID string, now time.Time) (Occurrence, error) {
	return s.changeRoom(ctx, workshopID, now, func(rs *RoomState) error {
		if rs.Extension+ExtendStep > MaxExtension {
			return inputErr("extension", "extension_limit")
		}
		rs.Extension += ExtendStep
		return nil
	})
}

func (s *Service) changeRoom(ctx context.Context, workshopID string, now time.Time, fn func(*RoomState) error) (Occurrence, error) {
	occ, ok, err := s.OpenOccurrence(ctx, workshopID, now)
	if err != nil {
		return Occurrence{}, err
	}
	if !ok {
		return Occurrence{}, ErrRoomNotOpen
	}
	err = s.store.Update(ctx, roomKey(workshopID, occ.Date), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		var rs RoomState
		if found {
			if err := json.Unmarshal(cur, &rs); err != nil {
				return nil, 0, fmt.Errorf("workshops: decoding room state: %w", err)
			}
		}
		// Someone else may have ended it since OpenOccurrence looked.
		o := occ
		o.Room = rs
		if !RoomWindow(o).Contains(now) {
			return nil, 0, ErrRoomNotOpen
		}
		if err := fn(&rs); err != nil {
			return nil, 0, err
		}
		b, err := json.Marshal(rs)
		if err != nil {
			return nil, 0, err
		}
		occ.Room = rs
		return b, s.opt.RoomStateTTL, nil
	})
	if err != nil {
		if errors.Is(err, ErrRoomNotOpen) || isInput(err) {
			return Occurrence{}, err
		}
		return Occurrence{}, fmt.Errorf("workshops: changing room state: %w", err)
	}
	return occ, nil
}
