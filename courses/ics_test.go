package courses

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/emersion/go-ical"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// checkLines checks the framing of an iCalendar object: CRLF after every
// line, no line over 75 octets, no character split by folding, BEGIN and
// END balanced; it returns the unfolded lines.
func checkLines(t *testing.T, b []byte) []string {
	t.Helper()
	s := string(b)
	if !strings.HasSuffix(s, "\r\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\r") {
		t.Fatal("lines do not all end with CRLF")
	}
	var unfolded []string
	for _, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("line of %d octets: %q", len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Fatalf("folding split a character: %q", l)
		}
		if strings.HasPrefix(l, " ") {
			if len(unfolded) == 0 {
				t.Fatal("continuation line first")
			}
			unfolded[len(unfolded)-1] += l[1:]
			continue
		}
		unfolded = append(unfolded, l)
	}
	var stack []string
	for _, l := range unfolded {
		switch {
		case strings.HasPrefix(l, "BEGIN:"):
			stack = append(stack, strings.TrimPrefix(l, "BEGIN:"))
		case strings.HasPrefix(l, "END:"):
			if len(stack) == 0 || stack[len(stack)-1] != strings.TrimPrefix(l, "END:") {
				t.Fatalf("unbalanced %s (open: %v)", l, stack)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 || unfolded[0] != "BEGIN:VCALENDAR" {
		t.Fatalf("unbalanced BEGIN/END: %v", stack)
	}
	return unfolded
}

func parseICS(t *testing.T, b []byte) *ical.Calendar {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("decoding: %v\n%s", err, b)
	}
	return cal
}

// icsCourse is a stored course as the tests see it.
func icsCourse() Course {
	start := time.Date(2026, 4, 7, 7, 0, 0, 0, time.UTC)
	return Course{
		ID: "abc123",
		CourseMeta: CourseMeta{
			Title:       map[string]string{"de": "Gesundheit; im Jobcenter, mit \\ Übungen", "en": "Health at the job centre"},
			Description: map[string]string{"de": "Erster Tag: Grundlagen,\nzweiter Tag; Praxis.\r\nMit Pause \\ Mittag."},
			Format:      FormatOnsite,
			Address:     "Jobcenter Mitte\nRaum 3.14\nMusterstraße 1, 10115 Berlin",
			Sessions: []Session{
				{Start: start, End: start.Add(7 * time.Hour)},
				{Start: start.Add(7 * 24 * time.Hour), End: start.Add(7*24*time.Hour + 3*time.Hour)},
			},
			Seats:    12,
			Trainer:  trainer,
			Language: "de",
		},
		Created:  time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Updated:  time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC),
		Revision: 2,
	}
}

func TestICS(t *testing.T) {
	c := icsCourse()
	b := ICS(c, "de", "https://portalo.example/courses/abc123")
	checkLines(t, b)
	cal := parseICS(t, b)
	for prop, want := range map[string]string{
		ical.PropVersion: "2.0", ical.PropProductID: "-//portalo//courses//DE", ical.PropMethod: "PUBLISH",
	} {
		if p := cal.Props.Get(prop); p == nil || p.Value != want {
			t.Errorf("%s = %v, want %q", prop, p, want)
		}
	}
	ev := cal.Events()
	if len(ev) != len(c.Sessions) {
		t.Fatalf("%d events for %d sessions", len(ev), len(c.Sessions))
	}
	uids := map[string]bool{}
	for i, e := range ev {
		uid, _ := e.Props.Text(ical.PropUID)
		uids[uid] = true
		for prop, want := range map[string]string{
			ical.PropDateTimeStart: c.Sessions[i].Start.Format("20060102T150405Z"),
			ical.PropDateTimeEnd:   c.Sessions[i].End.Format("20060102T150405Z"),
			ical.PropDateTimeStamp: "20260302T103000Z",
			ical.PropSequence:      "2",
			ical.PropURL:           "https://portalo.example/courses/abc123",
			ical.PropStatus:        "CONFIRMED",
		} {
			if p := e.Props.Get(prop); p == nil || p.Value != want {
				t.Errorf("event %d: %s = %v, want %q", i, prop, p, want)
			}
		}
		start, err := e.DateTimeStart(time.UTC)
		if err != nil || !start.Equal(c.Sessions[i].Start) {
			t.Errorf("event %d start %v, %v", i, start, err)
		}
		// Escaped texts read back unchanged.
		title, _ := e.Props.Text(ical.PropSummary)
		if want := c.Title["de"] + []string{" (1/2)", " (2/2)"}[i]; title != want {
			t.Errorf("event %d SUMMARY %q, want %q", i, title, want)
		}
		if lang := e.Props.Get(ical.PropSummary).Params.Get("LANGUAGE"); lang != "de" {
			t.Errorf("SUMMARY LANGUAGE %q", lang)
		}
		desc, _ := e.Props.Text(ical.PropDescription)
		if want := strings.ReplaceAll(c.Description["de"], "\r\n", "\n"); desc != want {
			t.Errorf("event %d DESCRIPTION %q, want %q", i, desc, want)
		}
		loc, _ := e.Props.Text(ical.PropLocation)
		if loc != c.Address {
			t.Errorf("event %d LOCATION %q", i, loc)
		}
	}
	if len(uids) != len(ev) || !uids["course-abc123-1@portalo"] || !uids["course-abc123-2@portalo"] {
		t.Fatalf("UIDs: %v", uids)
	}
	// The raw escaping of ; , \ and line breaks.
	for _, want := range []string{
		`Gesundheit\; im Jobcenter\, mit \\ Übungen (1/2)`,
		`Grundlagen\,\nzweiter Tag\; Praxis.\nMit Pause \\ Mittag.`,
		`LOCATION:Jobcenter Mitte\nRaum 3.14\nMusterstraße 1\, 10115 Berlin`,
	} {
		if !strings.Contains(strings.Join(checkLines(t, b), "\n"), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Deterministic.
	if !bytes.Equal(b, ICS(c, "de", "https://portalo.example/courses/abc123")) {
		t.Fatal("two runs differ")
	}
}

func TestICSVariants(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(c *Course)
		lang  string
		url   string
		check func(t *testing.T, b []byte, ev []ical.Event)
	}{
		{"online: no address, no meeting URL", func(c *Course) {
			c.Format, c.Address, c.OnlineURL = FormatOnline, "", "https://meet.example/secret-room"
		}, "de", "https://portalo.example/c", func(t *testing.T, b []byte, ev []ical.Event) {
			if loc, _ := ev[0].Props.Text(ical.PropLocation); loc != "Online" {
				t.Errorf("LOCATION %q", loc)
			}
			if bytes.Contains(b, []byte("secret-room")) {
				t.Error("the meeting URL is in the calendar entry")
			}
		}},
		{"cancelled", func(c *Course) { c.Cancelled = true }, "de", "", func(t *testing.T, b []byte, ev []ical.Event) {
			for _, e := range ev {
				if s, _ := e.Props.Text(ical.PropStatus); s != "CANCELLED" {
					t.Errorf("STATUS %q", s)
				}
				if e.Props.Get(ical.PropURL) != nil {
					t.Error("URL without a course URL")
				}
			}
		}},
		{"one session: no numbering; English", func(c *Course) { c.Sessions = c.Sessions[:1] }, "en", "https://x", func(t *testing.T, b []byte, ev []ical.Event) {
			if len(ev) != 1 {
				t.Fatalf("%d events", len(ev))
			}
			if s, _ := ev[0].Props.Text(ical.PropSummary); s != "Health at the job centre" {
				t.Errorf("SUMMARY %q", s)
			}
			// The description falls back to German.
			if ev[0].Props.Get(ical.PropDescription).Params.Get("LANGUAGE") != "de" {
				t.Error("DESCRIPTION LANGUAGE not de")
			}
			if !bytes.Contains(b, []byte("PRODID:-//portalo//courses//EN\r\n")) {
				t.Error("PRODID")
			}
		}},
		{"unknown language falls back", func(c *Course) {}, "x;y", "https://x/\r\nINJECTED:1", func(t *testing.T, b []byte, ev []ical.Event) {
			if !bytes.Contains(b, []byte("PRODID:-//portalo//courses//DE\r\n")) || bytes.Contains(b, []byte("\r\nINJECTED")) {
				t.Errorf("unsafe output:\n%s", b)
			}
			if s, _ := ev[0].Props.Text(ical.PropSummary); !strings.HasPrefix(s, "Gesundheit") {
				t.Errorf("SUMMARY %q", s)
			}
		}},
		{"Arabic title and description folded", func(c *Course) {
			c.Title = map[string]string{"ar": strings.Repeat("الصحة في مركز العمل، ", 5)}
			c.Description = map[string]string{"ar": strings.Repeat("تمارين التنفس والاسترخاء؛ للجميع\n", 8)}
			c.Language = "ar"
		}, "ar", "https://x", func(t *testing.T, b []byte, ev []ical.Event) {
			folded := 0
			for _, l := range strings.Split(string(b), "\r\n") {
				if strings.HasPrefix(l, " ") {
					folded++
				}
			}
			if folded < 10 {
				t.Errorf("only %d continuation lines", folded)
			}
			want := strings.Repeat("الصحة في مركز العمل، ", 5)
			want = strings.TrimSpace(want) // the stored title is trimmed; here it is not
			if s, _ := ev[0].Props.Text(ical.PropSummary); !strings.HasPrefix(s, want) {
				t.Errorf("Arabic SUMMARY not read back: %q", s)
			}
			if d, _ := ev[1].Props.Text(ical.PropDescription); d != strings.Repeat("تمارين التنفس والاسترخاء؛ للجميع\n", 8) {
				t.Errorf("Arabic DESCRIPTION not read back: %q", d)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := icsCourse()
			tc.edit(&c)
			b := ICS(c, tc.lang, tc.url)
			checkLines(t, b)
			ev := parseICS(t, b).Events()
			if len(ev) != len(c.Sessions) {
				t.Fatalf("%d events for %d sessions", len(ev), len(c.Sessions))
			}
			tc.check(t, b, ev)
		})
	}
}

// TestICSGolden compares the whole output with testdata; run with -update
// to rewrite it after a deliberate change.
func TestICSGolden(t *testing.T) {
	c := icsCourse()
	c.Title["ar"] = strings.Repeat("الصحة في مركز العمل ", 4)
	for _, tc := range []struct{ lang, file string }{
		{"de", "course.de.ics"},
		{"ar", "course.ar.ics"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			got := ICS(c, tc.lang, "https://portalo.example/courses/abc123")
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("output differs from %s (run with -update after a deliberate change):\n%s", path, got)
			}
		})
	}
}

// sequences returns the SEQUENCE of every event of the course's calendar.
func sequences(t *testing.T, c Course) []string {
	t.Helper()
	b := ICS(c, "de", "https://portalo.example/courses/"+c.ID)
	checkLines(t, b)
	var out []string
	for _, e := range parseICS(t, b).Events() {
		p := e.Props.Get(ical.PropSequence)
		if p == nil {
			t.Fatalf("event without SEQUENCE:\n%s", b)
		}
		out = append(out, p.Value)
	}
	return out
}

// TestICSSequence: every change of a course's definition (Update, Cancel)
// raises the SEQUENCE of its calendar entries, so that calendar apps take
// it over; what changes nothing (a sign-up, a refused update, cancelling
// again) leaves it.
func TestICSSequence(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t0}
		s := newService(store, c)
		a, err := s.Create(ctx, sample(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		// A course as stored before the revision existed has none.
		raw, err := store.Get(ctx, courseKey(a.ID))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(`"revision"`)) {
			t.Fatalf("a new course stores a revision: %s", raw)
		}
		steps := []struct {
			name string
			do   func() (Course, error)
			want int
		}{
			{"created", func() (Course, error) { return s.Get(ctx, a.ID) }, 0},
			{"moved by an hour", func() (Course, error) {
				m := sample(t, 1)
				for i := range m.Sessions {
					m.Sessions[i].Start = m.Sessions[i].Start.Add(time.Hour)
					m.Sessions[i].End = m.Sessions[i].End.Add(time.Hour)
				}
				return s.Update(ctx, a.ID, m)
			}, 1},
			{"a sign-up", func() (Course, error) {
				if _, err := s.SignUp(ctx, a.ID, "p1"); err != nil {
					return Course{}, err
				}
				return s.Get(ctx, a.ID)
			}, 1},
			{"a refused update", func() (Course, error) {
				if _, err := s.Update(ctx, a.ID, sample(t, 0)); err == nil {
					t.Error("an update with 0 seats was taken")
				}
				return s.Get(ctx, a.ID)
			}, 1},
			{"renamed", func() (Course, error) {
				m := sample(t, 2)
				m.Title = map[string]string{"de": "Gesundheit im Jobcenter (neu)"}
				return s.Update(ctx, a.ID, m)
			}, 2},
			{"cancelled", func() (Course, error) { return s.Cancel(ctx, a.ID) }, 3},
			{"cancelled again", func() (Course, error) { return s.Cancel(ctx, a.ID) }, 3},
		}
		for _, st := range steps {
			c.now = c.now.Add(time.Minute)
			got, err := st.do()
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			stored, err := s.Get(ctx, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Revision != st.want || stored.Revision != st.want {
				t.Fatalf("%s: revision %d (stored %d), want %d", st.name, got.Revision, stored.Revision, st.want)
			}
			for i, seq := range sequences(t, stored) {
				if seq != strconv.Itoa(st.want) {
					t.Errorf("%s: event %d SEQUENCE %s, want %d", st.name, i, seq, st.want)
				}
			}
		}
	})
}
