package courses

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portalo/internal/langtext"
	"portalo/store/kv"
)

// Format says how a course is held.
type Format string

// The formats.
const (
	FormatOnline Format = "online"
	FormatOnsite Format = "onsite"
)

// Formats are the known formats, in the order a form lists them.
var Formats = []Format{FormatOnsite, FormatOnline}

// ValidFormat reports whether f is one of Formats.
func ValidFormat(f Format) bool { return slices.Contains(Formats, f) }

// Languages are the languages a course can be held and described in:
// those portalo speaks (langtext.Languages).
var Languages = langtext.Languages

// ValidLanguage reports whether code is one of Languages.
func ValidLanguage(code string) bool { return langtext.Valid(code) }

// Limits on a course.
const (
	MaxTitleLen       = 120  // runes
	MaxDescriptionLen = 4000 // runes
	MaxAddressLen     = 300  // runes
	MaxAddressLines   = 6
	MaxURLLen         = 2000 // bytes
	MaxSessions       = 50
	MaxSessionLength  = 12 * time.Hour
	MinSeats          = 1
	MaxSeats          = 1000
	// MaxWaiting bounds a course's waiting list; SignUp returns ErrFull
	// beyond it.
	MaxWaiting = 500
)

// Session is one date of a course. Start and End are stored in UTC; the
// web shows them in Europe/Berlin.
type Session struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// CourseMeta is what an editor says about a course.
type CourseMeta struct {
	// Title and Description are keyed by language code (Languages); at
	// least one title is required.
	Title       map[string]string `json:"title"`
	Description map[string]string `json:"description,omitempty"`
	Format      Format            `json:"format"`
	// Address is where an on-site course takes place (several lines
	// allowed); required for FormatOnsite and dropped for FormatOnline.
	Address string `json:"address,omitempty"`
	// OnlineURL is where an online course takes place (https only,
	// optional); the web shows it only to booked people. It is dropped for
	// FormatOnsite.
	OnlineURL string `json:"online_url,omitempty"`
	// Sessions are the course's dates, at least one, sorted by start and
	// not overlapping.
	Sessions []Session `json:"sessions"`
	// Seats is how many people can book the course.
	Seats int `json:"seats"`
	// Trainer is the account leading the course, if any.
	Trainer string `json:"trainer,omitempty"`
	// Language is the language the course is held in.
	Language string `json:"language"`
}

// Course is a stored course.
type Course struct {
	ID string `json:"id"`
	CourseMeta
	// Cancelled courses take no more sign-ups.
	Cancelled bool      `json:"cancelled,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// Revision counts the changes of the course's definition: every
	// Update and Cancel adds one (sign-ups do not). It is the SEQUENCE of
	// the calendar entries (ICS), without which calendar apps ignore a
	// change. Courses stored before it existed load as 0.
	Revision int `json:"revision,omitempty"`
}

// TitleIn returns the title in lang, falling back to the language the
// course is held in, then to the order of Languages; it also returns the
// language of the text it returns.
func (c Course) TitleIn(lang string) (string, string) {
	return langtext.Pick(c.Title, lang, c.Language)
}

// DescriptionIn is TitleIn for the description ("" when there is none).
func (c Course) DescriptionIn(lang string) (string, string) {
	return langtext.Pick(c.Description, lang, c.Language)
}

// Start is the start of the first session (zero without sessions).
func (c Course) Start() time.Time {
	if len(c.Sessions) == 0 {
		return time.Time{}
	}
	return c.Sessions[0].Start
}

// End is the end of the last session (zero without sessions).
func (c Course) End() time.Time {
	if len(c.Sessions) == 0 {
		return time.Time{}
	}
	return c.Sessions[len(c.Sessions)-1].End
}

// SignUpOpen reports whether the course takes sign-ups at now: it is not
// cancelled and its first session has not started.
func (c Course) SignUpOpen(now time.Time) bool {
	return !c.Cancelled && len(c.Sessions) > 0 && now.Before(c.Start())
}

// InputError says which field of a request is wrong and why. Code is a
// stable machine-readable reason ("title_required", "seats_invalid", ...)
// that the web layer turns into a message in the person's language.
type InputError struct {
	Field string
	Code  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("courses: invalid %s: %s", e.Field, e.Code)
}

var (
	// ErrNotFound is returned when a course does not exist.
	ErrNotFound = errors.New("courses: not found")
	// ErrClosed is returned by SignUp when the course is cancelled or its
	// first session has started.
	ErrClosed = errors.New("courses: sign-up closed")
	// ErrFull is returned by SignUp when all seats are booked and the
	// waiting list holds MaxWaiting people.
	ErrFull = errors.New("courses: course and waiting list are full")
)

// Options tune a Service. Zero values take the defaults.
type Options struct {
	// IsTrainer reports whether an account may be named as a course's
	// trainer; nil accepts every valid ID.
	IsTrainer func(ctx context.Context, accountID string) (bool, error)
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service manages courses on a kv.Store.
type Service struct {
	store kv.Store
	opt   Options
}

// New returns a Service storing its state in store.
func New(store kv.Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{store: store, opt: opt}
}

// Keys in the store; see the package comment.
const coursePrefix = "course:"

func courseKey(id string) string         { return coursePrefix + id }
func signupsKey(accountID string) string { return "course-signups:" + accountID }

// validID keeps IDs (of courses and accounts) from reaching into other
// keys.
func validID(id string) bool { return id != "" && len(id) <= 64 && !strings.ContainsAny(id, ":/ ") }

func inputErr(field, code string) error { return &InputError{Field: field, Code: code} }

func isInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func (s *Service) stamp() time.Time { return s.opt.Now().UTC().Truncate(time.Second) }

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("courses: reading random bytes: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// normalize checks a course's definition and returns it cleaned up: texts
// trimmed with empty ones dropped, the field of the other format cleared,
// sessions in UTC and sorted.
func (s *Service) normalize(ctx context.Context, m CourseMeta) (CourseMeta, error) {
	var p *langtext.Problem
	if m.Title, p = langtext.Clean(m.Title, langtext.Rules{Field: "title", MaxRunes: MaxTitleLen, OneLine: true, Required: true}); p != nil {
		return CourseMeta{}, inputErr(p.Field, p.Code)
	}
	if m.Description, p = langtext.Clean(m.Description, langtext.Rules{Field: "description", MaxRunes: MaxDescriptionLen}); p != nil {
		return CourseMeta{}, inputErr(p.Field, p.Code)
	}
	if !ValidLanguage(m.Language) {
		return CourseMeta{}, inputErr("language", "course_language_invalid")
	}

	switch m.Format {
	case FormatOnsite:
		m.OnlineURL = ""
		m.Address = strings.TrimSpace(strings.ReplaceAll(m.Address, "\r\n", "\n"))
		switch {
		case m.Address == "":
			return CourseMeta{}, inputErr("address", "address_required")
		case !langtext.OK(m.Address):
			return CourseMeta{}, inputErr("address", "address_invalid")
		case utf8.RuneCountInString(m.Address) > MaxAddressLen || strings.Count(m.Address, "\n") >= MaxAddressLines:
			return CourseMeta{}, inputErr("address", "address_too_long")
		}
	case FormatOnline:
		m.Address = ""
		m.OnlineURL = strings.TrimSpace(m.OnlineURL)
		if m.OnlineURL != "" && !validURL(m.OnlineURL) {
			return CourseMeta{}, inputErr("online_url", "online_url_invalid")
		}
	default:
		return CourseMeta{}, inputErr("format", "format_invalid")
	}

	var err error
	if m.Sessions, err = normalizeSessions(m.Sessions); err != nil {
		return CourseMeta{}, err
	}
	if m.Seats < MinSeats || m.Seats > MaxSeats {
		return CourseMeta{}, inputErr("seats", "seats_invalid")
	}

	m.Trainer = strings.TrimSpace(m.Trainer)
	if m.Trainer == "" {
		return m, nil
	}
	if !validID(m.Trainer) {
		return CourseMeta{}, inputErr("trainer", "trainer_invalid")
	}
	if s.opt.IsTrainer != nil {
		ok, err := s.opt.IsTrainer(ctx, m.Trainer)
		if err != nil {
			return CourseMeta{}, fmt.Errorf("courses: checking trainer: %w", err)
		}
		if !ok {
			return CourseMeta{}, inputErr("trainer", "trainer_invalid")
		}
	}
	return m, nil
}

// validURL accepts absolute https URLs with a host and without user
// information or white space.
func validURL(s string) bool {
	if len(s) > MaxURLLen || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.Hostname() != "" && u.User == nil && u.Opaque == ""
}

// normalizeSessions checks the sessions and returns them in UTC (to the
// second), sorted by start. The field of an error names the session by its
// index in the input ("session_2").
func normalizeSessions(in []Session) ([]Session, error) {
	switch {
	case len(in) == 0:
		return nil, inputErr("sessions", "sessions_required")
	case len(in) > MaxSessions:
		return nil, inputErr("sessions", "sessions_too_many")
	}
	type indexed struct {
		Session
		i int
	}
	all := make([]indexed, len(in))
	for i, ss := range in {
		field := fmt.Sprintf("session_%d", i)
		if ss.Start.IsZero() || ss.End.IsZero() {
			return nil, inputErr(field, "session_invalid")
		}
		ss = Session{Start: ss.Start.UTC().Truncate(time.Second), End: ss.End.UTC().Truncate(time.Second)}
		if !ss.End.After(ss.Start) {
			return nil, inputErr(field, "session_end_before_start")
		}
		if ss.End.Sub(ss.Start) > MaxSessionLength {
			return nil, inputErr(field, "session_too_long")
		}
		all[i] = indexed{ss, i}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Start.Before(all[b].Start) })
	out := make([]Session, len(all))
	for k, ss := range all {
		if k > 0 && ss.Start.Before(all[k-1].End) {
			return nil, inputErr(fmt.Sprintf("session_%d", ss.i), "sessions_overlap")
		}
		out[k] = ss.Session
	}
	return out, nil
}

// record is the stored value of a course: the course and its roster.
type record struct {
	Course
	// Booked holds at most Seats entries, in the order the seats were
	// taken; Waiting the waiting list, first in line first.
	Booked  []Entry `json:"booked,omitempty"`
	Waiting []Entry `json:"waiting,omitempty"`
}

func decode(b []byte) (record, error) {
	var r record
	err := json.Unmarshal(b, &r)
	return r, err
}

// errUnchanged aborts an update that has nothing to write.
var errUnchanged = errors.New("courses: unchanged")

// modify applies fn to the stored record of course id atomically and
// returns the record as it is afterwards. fn may return errUnchanged to
// leave the record as it is.
func (s *Service) modify(ctx context.Context, id string, fn func(*record) error) (record, error) {
	if !validID(id) {
		return record{}, ErrNotFound
	}
	var out record
	err := s.store.Update(ctx, courseKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		r, err := decode(cur)
		if err != nil {
			return nil, 0, fmt.Errorf("courses: decoding %s: %w", id, err)
		}
		if err := fn(&r); err != nil {
			out = r
			return nil, 0, err
		}
		b, err := json.Marshal(r)
		if err != nil {
			return nil, 0, fmt.Errorf("courses: encoding: %w", err)
		}
		out = r
		return b, 0, nil
	})
	switch {
	case err == nil, errors.Is(err, errUnchanged):
		return out, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrClosed), errors.Is(err, ErrFull), isInput(err):
		return record{}, err
	}
	return record{}, fmt.Errorf("courses: updating %s: %w", id, err)
}

// load returns the stored record of course id, or ErrNotFound.
func (s *Service) load(ctx context.Context, id string) (record, error) {
	if !validID(id) {
		return record{}, ErrNotFound
	}
	b, err := s.store.Get(ctx, courseKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return record{}, ErrNotFound
	}
	if err != nil {
		return record{}, fmt.Errorf("courses: reading %s: %w", id, err)
	}
	r, err := decode(b)
	if err != nil {
		return record{}, fmt.Errorf("courses: decoding %s: %w", id, err)
	}
	return r, nil
}

// all returns every stored record (those deleted meanwhile left out).
func (s *Service) all(ctx context.Context) ([]record, error) {
	keys, err := s.store.Keys(ctx, coursePrefix)
	if err != nil {
		return nil, fmt.Errorf("courses: listing: %w", err)
	}
	out := make([]record, 0, len(keys))
	for _, k := range keys {
		r, err := s.load(ctx, strings.TrimPrefix(k, coursePrefix))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Create validates and stores a new course and returns it with its ID.
func (s *Service) Create(ctx context.Context, m CourseMeta) (Course, error) {
	m, err := s.normalize(ctx, m)
	if err != nil {
		return Course{}, err
	}
	r := record{Course: Course{CourseMeta: m}}
	if r.ID, err = randomID(10); err != nil {
		return Course{}, err
	}
	r.Created = s.stamp()
	r.Updated = r.Created
	b, err := json.Marshal(r)
	if err != nil {
		return Course{}, fmt.Errorf("courses: encoding: %w", err)
	}
	ok, err := s.store.Create(ctx, courseKey(r.ID), b, 0)
	if err != nil {
		return Course{}, fmt.Errorf("courses: storing: %w", err)
	}
	if !ok {
		return Course{}, fmt.Errorf("courses: ID %s already taken", r.ID)
	}
	return r.Course, nil
}

// Update replaces the definition of course id; its roster, Cancelled and
// Created are kept. Lowering the seats below the number booked is refused
// (InputError "seats_below_booked"); raising them moves people up from the
// waiting list in order.
func (s *Service) Update(ctx context.Context, id string, m CourseMeta) (Course, error) {
	if !validID(id) {
		return Course{}, ErrNotFound
	}
	m, err := s.normalize(ctx, m)
	if err != nil {
		return Course{}, err
	}
	now := s.stamp()
	r, err := s.modify(ctx, id, func(r *record) error {
		if m.Seats < len(r.Booked) {
			return inputErr("seats", "seats_below_booked")
		}
		r.CourseMeta = m
		r.Updated = now
		r.Revision++
		r.fill(now)
		return nil
	})
	return r.Course, err
}

// Get returns the course with id, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Course, error) {
	r, err := s.load(ctx, id)
	return r.Course, err
}

// ListOptions filter List.
type ListOptions struct {
	// From keeps only courses whose last session ends after it; zero
	// keeps all.
	From time.Time
}

// List returns the courses sorted by their first session, then ID.
func (s *Service) List(ctx context.Context, opt ListOptions) ([]Course, error) {
	recs, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Course, 0, len(recs))
	for _, r := range recs {
		if opt.From.IsZero() || r.End().After(opt.From) {
			out = append(out, r.Course)
		}
	}
	sortCourses(out)
	return out, nil
}

func sortCourses(cs []Course) {
	sort.SliceStable(cs, func(i, j int) bool {
		if a, b := cs[i].Start(), cs[j].Start(); !a.Equal(b) {
			return a.Before(b)
		}
		return cs[i].ID < cs[j].ID
	})
}

// Cancel cancels course id: it takes no more sign-ups, keeps its roster
// and is marked cancelled in its calendar entry. Cancelling again changes
// nothing.
func (s *Service) Cancel(ctx context.Context, id string) (Course, error) {
	now := s.stamp()
	r, err := s.modify(ctx, id, func(r *record) error {
		if r.Cancelled {
			return errUnchanged
		}
		r.Cancelled = true
		r.Updated = now
		r.Revision++
		return nil
	})
	return r.Course, err
}

// Delete removes course id with its roster, and it from the index of each
// person on the roster.
func (s *Service) Delete(ctx context.Context, id string) error {
	r, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, courseKey(id)); err != nil {
		return fmt.Errorf("courses: deleting %s: %w", id, err)
	}
	for _, e := range slices.Concat(r.Booked, r.Waiting) {
		if err := s.store.RemoveMember(ctx, signupsKey(e.Account), id); err != nil {
			return fmt.Errorf("courses: removing %s from an index: %w", id, err)
		}
	}
	return nil
}
