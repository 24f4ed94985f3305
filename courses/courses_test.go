package courses

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

const trainer = "trainer1"

// t0 is "now" in the tests unless a test moves its clock.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sample is a valid on-site course of two sessions in April 2026 with
// seats seats.
func sample(t *testing.T, seats int) CourseMeta {
	t.Helper()
	return CourseMeta{
		Title:       map[string]string{"de": "Gesundheit im Jobcenter", "en": "Health at the job centre"},
		Description: map[string]string{"de": "Gespräche über Gesundheit führen; mit Übungen."},
		Format:      FormatOnsite,
		Address:     "Jobcenter Mitte\nRaum 3.14\nMusterstraße 1, 10115 Berlin",
		Sessions: []Session{
			{Start: utc(t, "2026-04-14T07:00:00Z"), End: utc(t, "2026-04-14T14:00:00Z")},
			{Start: utc(t, "2026-04-07T07:00:00Z"), End: utc(t, "2026-04-07T14:00:00Z")},
		},
		Seats:    seats,
		Trainer:  trainer,
		Language: "de",
	}
}

// clock is a fake clock; tests move it only while no service call runs.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newService(store kv.Store, c *clock) *Service {
	return New(store, Options{
		Now:       c.Now,
		IsTrainer: func(_ context.Context, id string) (bool, error) { return id == trainer || id == "trainer2", nil },
	})
}

func inputCode(err error) (string, string) {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Field, ie.Code
	}
	return "", ""
}

func TestValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name        string
		edit        func(m *CourseMeta)
		field, code string
	}{
		{"no title", func(m *CourseMeta) { m.Title = map[string]string{"de": "  "} }, "title", "title_required"},
		{"nil title", func(m *CourseMeta) { m.Title = nil }, "title", "title_required"},
		{"title language", func(m *CourseMeta) { m.Title["fr"] = "Santé" }, "title", "text_language_invalid"},
		{"title too long", func(m *CourseMeta) { m.Title["en"] = long(MaxTitleLen + 1) }, "title_en", "title_too_long"},
		{"title with line break", func(m *CourseMeta) { m.Title["en"] = "a\nb" }, "title_en", "title_invalid"},
		{"title control char", func(m *CourseMeta) { m.Title["en"] = "a\x07b" }, "title_en", "title_invalid"},
		{"title bad utf-8", func(m *CourseMeta) { m.Title["en"] = "a\xffb" }, "title_en", "title_invalid"},
		{"description too long", func(m *CourseMeta) { m.Description["de"] = long(MaxDescriptionLen + 1) }, "description_de", "description_too_long"},
		{"description language", func(m *CourseMeta) { m.Description["xx"] = "x" }, "description", "text_language_invalid"},
		{"language", func(m *CourseMeta) { m.Language = "fr" }, "language", "course_language_invalid"},
		{"no language", func(m *CourseMeta) { m.Language = "" }, "language", "course_language_invalid"},
		{"format", func(m *CourseMeta) { m.Format = "hybrid" }, "format", "format_invalid"},
		{"no format", func(m *CourseMeta) { m.Format = "" }, "format", "format_invalid"},
		{"onsite without address", func(m *CourseMeta) { m.Address = " \n " }, "address", "address_required"},
		{"address too long", func(m *CourseMeta) { m.Address = long(MaxAddressLen + 1) }, "address", "address_too_long"},
		{"address too many lines", func(m *CourseMeta) { m.Address = strings.Repeat("a\n", MaxAddressLines) + "a" }, "address", "address_too_long"},
		{"address control char", func(m *CourseMeta) { m.Address = "a\x00b" }, "address", "address_invalid"},
		{"http url", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "http://meet.example/room" }, "online_url", "online_url_invalid"},
		{"javascript url", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "javascript:alert(1)" }, "online_url", "online_url_invalid"},
		{"url without host", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "https:///room" }, "online_url", "online_url_invalid"},
		{"url with user", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "https://me:pw@meet.example/" }, "online_url", "online_url_invalid"},
		{"url with space", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "https://meet.example/a b" }, "online_url", "online_url_invalid"},
		{"url too long", func(m *CourseMeta) { m.Format, m.OnlineURL = FormatOnline, "https://meet.example/"+long(MaxURLLen) }, "online_url", "online_url_invalid"},
		{"no sessions", func(m *CourseMeta) { m.Sessions = nil }, "sessions", "sessions_required"},
		{"too many sessions", func(m *CourseMeta) {
			m.Sessions = nil
			for i := range MaxSessions + 1 {
				st := t0.Add(time.Duration(i) * 24 * time.Hour)
				m.Sessions = append(m.Sessions, Session{Start: st, End: st.Add(time.Hour)})
			}
		}, "sessions", "sessions_too_many"},
		{"zero session", func(m *CourseMeta) { m.Sessions[1] = Session{} }, "session_1", "session_invalid"},
		{"end before start", func(m *CourseMeta) { m.Sessions[1].End = m.Sessions[1].Start.Add(-time.Minute) }, "session_1", "session_end_before_start"},
		{"end equals start", func(m *CourseMeta) { m.Sessions[0].End = m.Sessions[0].Start }, "session_0", "session_end_before_start"},
		{"session too long", func(m *CourseMeta) { m.Sessions[0].End = m.Sessions[0].Start.Add(MaxSessionLength + time.Second) }, "session_0", "session_too_long"},
		{"sessions overlap", func(m *CourseMeta) {
			m.Sessions[0] = Session{Start: m.Sessions[1].Start.Add(time.Hour), End: m.Sessions[1].End.Add(time.Hour)}
		}, "session_0", "sessions_overlap"},
		{"no seats", func(m *CourseMeta) { m.Seats = 0 }, "seats", "seats_invalid"},
		{"negative seats", func(m *CourseMeta) { m.Seats = -3 }, "seats", "seats_invalid"},
		{"too many seats", func(m *CourseMeta) { m.Seats = MaxSeats + 1 }, "seats", "seats_invalid"},
		{"unknown trainer", func(m *CourseMeta) { m.Trainer = "someone" }, "trainer", "trainer_invalid"},
		{"trainer id with colon", func(m *CourseMeta) { m.Trainer = "a:b" }, "trainer", "trainer_invalid"},
	}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store, &clock{t0})
		valid, err := s.Create(ctx, sample(t, 5))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				m := sample(t, 5)
				tc.edit(&m)
				_, err := s.Create(ctx, m)
				if f, c := inputCode(err); f != tc.field || c != tc.code {
					t.Fatalf("Create: %v, want %s/%s", err, tc.field, tc.code)
				}
				_, err = s.Update(ctx, valid.ID, m)
				if f, c := inputCode(err); f != tc.field || c != tc.code {
					t.Fatalf("Update: %v, want %s/%s", err, tc.field, tc.code)
				}
			})
		}
		all, err := s.List(ctx, ListOptions{})
		if err != nil || len(all) != 1 {
			t.Fatalf("invalid input was stored: %d courses, %v", len(all), err)
		}
		if got, _ := s.Get(ctx, valid.ID); !got.Updated.Equal(valid.Updated) || got.Seats != 5 {
			t.Fatalf("a refused update changed the course: %+v", got)
		}
	})
}

// TestNormalize: what a valid course is stored as.
func TestNormalize(t *testing.T) {
	ctx := context.Background()
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		s := newService(store, &clock{t0})
		berlin := time.FixedZone("CEST", 2*3600)
		cases := []struct {
			name  string
			edit  func(m *CourseMeta)
			check func(t *testing.T, c Course)
		}{
			{"sessions sorted, UTC, whole seconds", func(m *CourseMeta) {
				m.Sessions[0].Start = time.Date(2026, 4, 14, 9, 0, 0, 500, berlin)
			}, func(t *testing.T, c Course) {
				if c.Sessions[0].Start != utc(t, "2026-04-07T07:00:00Z") || c.Sessions[1].Start != utc(t, "2026-04-14T07:00:00Z") {
					t.Fatalf("sessions: %v", c.Sessions)
				}
				if c.Start() != c.Sessions[0].Start || c.End() != utc(t, "2026-04-14T14:00:00Z") {
					t.Fatalf("Start %v End %v", c.Start(), c.End())
				}
			}},
			{"texts trimmed, empty dropped", func(m *CourseMeta) {
				m.Title = map[string]string{"de": "  Kurs  ", "en": " "}
				m.Description = map[string]string{"de": "a\r\nb ", "tr": ""}
				m.Address = "  Straße 1\r\nBerlin  "
			}, func(t *testing.T, c Course) {
				if len(c.Title) != 1 || c.Title["de"] != "Kurs" || len(c.Description) != 1 || c.Description["de"] != "a\nb" || c.Address != "Straße 1\nBerlin" {
					t.Fatalf("%q %q %q", c.Title, c.Description, c.Address)
				}
			}},
			{"online drops the address", func(m *CourseMeta) {
				m.Format, m.OnlineURL = FormatOnline, " https://meet.example/room?id=1 "
			}, func(t *testing.T, c Course) {
				if c.Address != "" || c.OnlineURL != "https://meet.example/room?id=1" {
					t.Fatalf("%q %q", c.Address, c.OnlineURL)
				}
			}},
			{"online without URL", func(m *CourseMeta) { m.Format, m.Address = FormatOnline, "" }, func(t *testing.T, c Course) {
				if c.Format != FormatOnline || c.OnlineURL != "" {
					t.Fatalf("%+v", c)
				}
			}},
			{"onsite drops the URL", func(m *CourseMeta) { m.OnlineURL = "https://meet.example/" }, func(t *testing.T, c Course) {
				if c.OnlineURL != "" {
					t.Fatalf("%q", c.OnlineURL)
				}
			}},
			{"no trainer is fine", func(m *CourseMeta) { m.Trainer = " " }, func(t *testing.T, c Course) {
				if c.Trainer != "" {
					t.Fatalf("%q", c.Trainer)
				}
			}},
			{"session of exactly 12 h and bounds of seats", func(m *CourseMeta) {
				m.Sessions = []Session{{Start: t0.Add(24 * time.Hour), End: t0.Add(36 * time.Hour)}}
				m.Seats = MaxSeats
			}, func(t *testing.T, c Course) {
				if len(c.Sessions) != 1 || c.Seats != MaxSeats {
					t.Fatalf("%+v", c)
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				m := sample(t, 5)
				tc.edit(&m)
				c, err := s.Create(ctx, m)
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				got, err := s.Get(ctx, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, got)
			})
		}
	})
}

func TestCRUD(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t0}
		s := newService(store, c)

		early := sample(t, 5)
		early.Sessions = []Session{{Start: utc(t, "2026-03-10T08:00:00Z"), End: utc(t, "2026-03-10T12:00:00Z")}}
		a, err := s.Create(ctx, sample(t, 5)) // April
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Create(ctx, early) // March
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == "" || a.ID == b.ID || !a.Created.Equal(t0) || !a.Updated.Equal(t0) || a.Cancelled {
			t.Fatalf("created: %+v", a)
		}
		got, err := s.Get(ctx, a.ID)
		if err != nil || got.Title["en"] != "Health at the job centre" || got.Seats != 5 || got.Trainer != trainer || len(got.Sessions) != 2 {
			t.Fatalf("Get: %+v, %v", got, err)
		}

		for _, tc := range []struct {
			from time.Time
			want []string
		}{
			{time.Time{}, []string{b.ID, a.ID}},
			{utc(t, "2026-03-10T11:59:59Z"), []string{b.ID, a.ID}},
			{utc(t, "2026-03-10T12:00:00Z"), []string{a.ID}}, // ends exactly then: not after
			{utc(t, "2026-04-10T00:00:00Z"), []string{a.ID}}, // its last session is still to come
			{utc(t, "2026-05-01T00:00:00Z"), nil},
		} {
			list, err := s.List(ctx, ListOptions{From: tc.from})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Errorf("List from %v: %v, want %v", tc.from, ids, tc.want)
			}
		}

		c.now = t0.Add(time.Hour)
		m := sample(t, 8)
		m.Title = map[string]string{"tr": "Sağlık"}
		m.Trainer = "trainer2"
		up, err := s.Update(ctx, a.ID, m)
		if err != nil {
			t.Fatal(err)
		}
		if up.ID != a.ID || !up.Created.Equal(t0) || !up.Updated.Equal(c.now) || up.Seats != 8 || up.Title["tr"] != "Sağlık" || up.Title["de"] != "" {
			t.Fatalf("updated: %+v", up)
		}
		if got, _ := s.Get(ctx, a.ID); got.Seats != 8 || got.Trainer != "trainer2" {
			t.Fatalf("update not stored: %+v", got)
		}

		c.now = t0.Add(2 * time.Hour)
		cancelled, err := s.Cancel(ctx, a.ID)
		if err != nil || !cancelled.Cancelled || !cancelled.Updated.Equal(c.now) {
			t.Fatalf("Cancel: %+v, %v", cancelled, err)
		}
		c.now = t0.Add(3 * time.Hour)
		again, err := s.Cancel(ctx, a.ID)
		if err != nil || !again.Cancelled || !again.Updated.Equal(cancelled.Updated) {
			t.Fatalf("second Cancel changed something: %+v, %v", again, err)
		}
		// Editing a cancelled course keeps it cancelled.
		if up, err := s.Update(ctx, a.ID, sample(t, 8)); err != nil || !up.Cancelled {
			t.Fatalf("update of a cancelled course: %+v, %v", up, err)
		}

		if err := s.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"Get":    func() error { _, err := s.Get(ctx, a.ID); return err }(),
			"Update": func() error { _, err := s.Update(ctx, a.ID, sample(t, 5)); return err }(),
			"Cancel": func() error { _, err := s.Cancel(ctx, a.ID); return err }(),
			"Delete": s.Delete(ctx, a.ID),
			"Roster": func() error { _, err := s.Roster(ctx, a.ID); return err }(),
			"PlaceOf": func() error {
				_, err := s.PlaceOf(ctx, a.ID, "p1")
				return err
			}(),
			"SignUp":       func() error { _, err := s.SignUp(ctx, a.ID, "p1"); return err }(),
			"CancelSignUp": func() error { _, err := s.CancelSignUp(ctx, a.ID, "p1"); return err }(),
			"Get bad ID":   func() error { _, err := s.Get(ctx, "../x:y"); return err }(),
			"Get empty ID": func() error { _, err := s.Get(ctx, ""); return err }(),
		} {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s of a deleted course: %v, want ErrNotFound", name, err)
			}
		}
		if list, _ := s.List(ctx, ListOptions{}); len(list) != 1 || list[0].ID != b.ID {
			t.Fatalf("after delete: %+v", list)
		}
	})
}

func TestTitleFallback(t *testing.T) {
	c := Course{CourseMeta: CourseMeta{
		Title:       map[string]string{"tr": "Sağlık", "ru": "Здоровье"},
		Description: map[string]string{"en": "About health"},
		Language:    "ru",
	}}
	for _, tc := range []struct{ lang, title, titleLang, desc, descLang string }{
		{"tr", "Sağlık", "tr", "About health", "en"},
		{"de", "Здоровье", "ru", "About health", "en"},
		{"", "Здоровье", "ru", "About health", "en"},
	} {
		title, tl := c.TitleIn(tc.lang)
		desc, dl := c.DescriptionIn(tc.lang)
		if title != tc.title || tl != tc.titleLang || desc != tc.desc || dl != tc.descLang {
			t.Errorf("%q: %q/%s %q/%s", tc.lang, title, tl, desc, dl)
		}
	}
}
