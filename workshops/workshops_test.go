package workshops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	icaltext "portalo/internal/ical"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/emersion/go-ical"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

const trainer = "trainer1"

func newService(store kv.Store) *Service {
	return New(store, Options{
		IsTrainer: func(_ context.Context, id string) (bool, error) { return id == trainer, nil },
	})
}

func date(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sample is a valid workshop: Sundays 10:00 Berlin time from 1 March 2026.
func sample(t *testing.T) Workshop {
	return Workshop{
		Title:       map[string]string{"de": "Yoga am Morgen", "en": "Morning yoga", "ar": "يوغا الصباح"},
		Description: map[string]string{"de": "Sanfte Übungen; für alle, ohne Vorkenntnisse."},
		Topic:       TopicMovement,
		Language:    "de",
		TrainerID:   trainer,
		Weekday:     time.Sunday,
		Start:       TimeOfDay{10, 0},
		StartsOn:    date(t, "2026-03-01"),
	}
}

func starts(occs []Occurrence) []string {
	var out []string
	for _, o := range occs {
		out = append(out, o.Start.UTC().Format(time.RFC3339))
	}
	return out
}

func TestRecurrenceAcrossDST(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		w, err := s.Create(ctx, sample(t))
		if err != nil {
			t.Fatal(err)
		}
		if w.Duration != DefaultDuration || w.ID == "" || w.CreatedAt.IsZero() {
			t.Fatalf("defaults not filled in: %+v", w)
		}
		// 10:00 Berlin is 09:00 UTC in winter and 08:00 UTC in summer; the
		// clocks change on the last Sundays of March and October.
		cases := []struct {
			from, to string
			want     []string
		}{
			{"2026-03-21T00:00:00Z", "2026-04-01T00:00:00Z", []string{"2026-03-22T09:00:00Z", "2026-03-29T08:00:00Z"}},
			{"2026-10-17T00:00:00Z", "2026-10-26T00:00:00Z", []string{"2026-10-18T08:00:00Z", "2026-10-25T09:00:00Z"}},
			{"2027-03-20T00:00:00Z", "2027-03-29T00:00:00Z", []string{"2027-03-21T09:00:00Z", "2027-03-28T08:00:00Z"}},
			{"2027-10-23T00:00:00Z", "2027-11-01T00:00:00Z", []string{"2027-10-24T08:00:00Z", "2027-10-31T09:00:00Z"}},
			// Before StartsOn nothing.
			{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", nil},
		}
		for _, tc := range cases {
			occs, err := s.Occurrences(ctx, utc(t, tc.from), utc(t, tc.to), Filter{})
			if err != nil {
				t.Fatal(err)
			}
			if got := starts(occs); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s–%s: got %v, want %v", tc.from, tc.to, got, tc.want)
			}
			for _, o := range occs {
				if b := o.Start.In(Berlin); b.Hour() != 10 || b.Minute() != 0 || o.End.Sub(o.Start) != time.Hour {
					t.Errorf("occurrence at %s Berlin, %s long", b, o.End.Sub(o.Start))
				}
			}
		}
	})
}

func TestUntilAndExceptions(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		in := sample(t)
		in.Until = date(t, "2026-04-19")
		w, err := s.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelDate(ctx, w.ID, date(t, "2026-03-29")); err != nil {
			t.Fatal(err)
		}
		// The 5 April workshop moves to Monday 6 April, 18:30, 90 minutes.
		if _, err := s.MoveDate(ctx, w.ID, date(t, "2026-04-05"), Move{Date: date(t, "2026-04-06"), Start: TimeOfDay{18, 30}, Duration: 90}); err != nil {
			t.Fatal(err)
		}
		// Not a regular date: a Monday, after Until, before StartsOn.
		for _, d := range []string{"2026-03-30", "2026-04-26", "2026-02-22"} {
			var ie *InputError
			if _, err := s.CancelDate(ctx, w.ID, date(t, d)); !errors.As(err, &ie) || ie.Code != "date_not_scheduled" {
				t.Errorf("cancel %s: %v", d, err)
			}
		}
		if _, err := s.CancelDate(ctx, "nope", date(t, "2026-03-29")); !errors.Is(err, ErrNotFound) {
			t.Errorf("cancel on unknown workshop: %v", err)
		}
		occs, err := s.Occurrences(ctx, utc(t, "2026-03-20T00:00:00Z"), utc(t, "2026-05-01T00:00:00Z"), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			date, start      string
			cancelled, moved bool
			minutes          int
		}
		var got []row
		for _, o := range occs {
			got = append(got, row{o.Date.String(), o.Start.In(Berlin).Format("2006-01-02 15:04"), o.Cancelled, o.Moved, int(o.End.Sub(o.Start).Minutes())})
		}
		want := []row{
			{"2026-03-22", "2026-03-22 10:00", false, false, 60},
			{"2026-03-29", "2026-03-29 10:00", true, false, 60},
			{"2026-04-05", "2026-04-06 18:30", false, true, 90},
			{"2026-04-12", "2026-04-12 10:00", false, false, 60},
			{"2026-04-19", "2026-04-19 10:00", false, false, 60},
		}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("occurrence %d: got %+v, want %+v", i, got[i], want[i])
			}
		}

		// Restoring brings the regular date back; an update keeps the
		// exceptions whose dates are still regular.
		if _, err := s.RestoreDate(ctx, w.ID, date(t, "2026-03-29")); err != nil {
			t.Fatal(err)
		}
		w2, err := s.Get(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(w2.Exceptions) != 1 || !w2.Exceptions[date(t, "2026-04-05")].Start.Valid() {
			t.Fatalf("exceptions after restore: %+v", w2.Exceptions)
		}
		w2.Title["en"] = "Yoga in the morning"
		w3, err := s.Update(ctx, w2)
		if err != nil {
			t.Fatal(err)
		}
		if len(w3.Exceptions) != 1 || !w3.CreatedAt.Equal(w.CreatedAt) || w3.Title["en"] != "Yoga in the morning" {
			t.Fatalf("after update: %+v", w3)
		}
		w3.Weekday = time.Saturday
		if w3, err = s.Update(ctx, w3); err != nil || len(w3.Exceptions) != 0 {
			t.Fatalf("exceptions not dropped when the weekday changed: %v %+v", err, w3.Exceptions)
		}
		if err := s.Delete(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, w.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		if err := s.Delete(ctx, w.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestFilters(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		mk := func(title string, topic Topic, lang string, wd time.Weekday) {
			w := sample(t)
			w.Title = map[string]string{lang: title}
			w.Topic, w.Language, w.Weekday = topic, lang, wd
			if _, err := s.Create(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		mk("Yoga", TopicMovement, "de", time.Monday)
		mk("Relax", TopicRelaxation, "en", time.Tuesday)
		mk("Beslenme", TopicNutrition, "tr", time.Wednesday)
		mk("Пилатес", TopicMovement, "ru", time.Thursday)
		from, to := utc(t, "2026-03-02T00:00:00Z"), utc(t, "2026-03-09T00:00:00Z")
		cases := []struct {
			f    Filter
			want string
		}{
			{Filter{}, "Yoga Relax Beslenme Пилатес"},
			{Filter{Topic: TopicMovement}, "Yoga Пилатес"},
			{Filter{Language: "tr"}, "Beslenme"},
			{Filter{Topic: TopicMovement, Language: "ru"}, "Пилатес"},
			{Filter{Topic: TopicNutrition, Language: "de"}, ""},
		}
		for _, tc := range cases {
			occs, err := s.Occurrences(ctx, from, to, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var titles []string
			for _, o := range occs {
				title, _ := o.Workshop.TitleIn("de")
				titles = append(titles, title)
			}
			if got := strings.Join(titles, " "); got != tc.want {
				t.Errorf("%+v: got %q, want %q", tc.f, got, tc.want)
			}
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 4 || list[0].Weekday != time.Monday {
			t.Fatalf("list: %v %d", err, len(list))
		}
	})
}

func TestRoomWindow(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		w, err := s.Create(ctx, sample(t))
		if err != nil {
			t.Fatal(err)
		}
		// Sunday 29 March 2026, the first day of summer time: 10:00 Berlin
		// is 08:00 UTC.
		at := func(s string) time.Time { return utc(t, "2026-03-29T"+s+"Z") }
		open := func(now time.Time) bool {
			t.Helper()
			_, ok, err := s.OpenOccurrence(ctx, w.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for _, tc := range []struct {
			at   string
			want bool
		}{
			{"07:44:59", false}, {"07:45:00", true}, {"08:30:00", true}, {"08:59:59", true}, {"09:00:00", false},
		} {
			if got := open(at(tc.at)); got != tc.want {
				t.Errorf("open at %s UTC: %v, want %v", tc.at, got, tc.want)
			}
		}
		if _, err := s.ExtendRoom(ctx, w.ID, at("07:00:00")); !errors.Is(err, ErrRoomNotOpen) {
			t.Fatalf("extend a closed room: %v", err)
		}
		// Extended four times by 15 minutes, then no more.
		for i := 1; i <= 4; i++ {
			occ, err := s.ExtendRoom(ctx, w.ID, at("08:50:00"))
			if err != nil {
				t.Fatal(err)
			}
			if occ.Room.Extension != time.Duration(i)*ExtendStep {
				t.Fatalf("extension %d: %s", i, occ.Room.Extension)
			}
		}
		var ie *InputError
		if _, err := s.ExtendRoom(ctx, w.ID, at("08:50:00")); !errors.As(err, &ie) || ie.Code != "extension_limit" {
			t.Fatalf("fifth extension: %v", err)
		}
		if !open(at("09:59:59")) || open(at("10:00:00")) {
			t.Fatal("extended room does not close an hour later")
		}
		occ, err := s.EndRoom(ctx, w.ID, at("09:10:00"))
		if err != nil {
			t.Fatal(err)
		}
		if win := RoomWindow(occ); !win.Closes.Equal(at("09:10:00")) || !win.Opens.Equal(at("07:45:00")) {
			t.Fatalf("window after ending early: %+v", win)
		}
		if open(at("09:10:00")) || !open(at("09:09:59")) {
			t.Fatal("the room did not close when the trainer ended it")
		}
		if _, err := s.EndRoom(ctx, w.ID, at("09:20:00")); !errors.Is(err, ErrRoomNotOpen) {
			t.Fatalf("end an ended room: %v", err)
		}
		// The state is per occurrence: next week's room is untouched, and
		// Occurrences reports the state too.
		if !open(utc(t, "2026-04-05T08:59:00Z")) || open(utc(t, "2026-04-05T09:00:00Z")) {
			t.Fatal("next week's room is affected")
		}
		occs, err := s.Occurrences(ctx, at("00:00:00"), at("23:00:00"), Filter{})
		if err != nil || len(occs) != 1 || occs[0].Room.EndedAt.IsZero() || occs[0].Room.Extension != MaxExtension {
			t.Fatalf("occurrences with room state: %v %+v", err, occs)
		}
		// A cancelled occurrence has no room.
		if _, err := s.CancelDate(ctx, w.ID, date(t, "2026-04-12")); err != nil {
			t.Fatal(err)
		}
		if open(utc(t, "2026-04-12T08:30:00Z")) {
			t.Fatal("a cancelled occurrence's room is open")
		}
		// A moved occurrence's room is open at the new time only.
		if _, err := s.MoveDate(ctx, w.ID, date(t, "2026-04-19"), Move{Date: date(t, "2026-04-19"), Start: TimeOfDay{16, 0}}); err != nil {
			t.Fatal(err)
		}
		if open(utc(t, "2026-04-19T08:30:00Z")) || !open(utc(t, "2026-04-19T14:30:00Z")) {
			t.Fatal("moved occurrence's room at the wrong time")
		}
		if err := s.Delete(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if keys, _ := store.Keys(ctx, "workshop-room:"); len(keys) != 0 {
			t.Fatalf("room state left after delete: %v", keys)
		}
	})
}

func TestValidation(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		cases := []struct {
			name   string
			change func(*Workshop)
			field  string
			code   string
		}{
			{"no title", func(w *Workshop) { w.Title = nil }, "title", "title_required"},
			{"blank titles", func(w *Workshop) { w.Title = map[string]string{"de": "  ", "en": ""} }, "title", "title_required"},
			{"title too long", func(w *Workshop) { w.Title["ru"] = strings.Repeat("ж", MaxTitleLen+1) }, "title_ru", "title_too_long"},
			{"title with newline", func(w *Workshop) { w.Title["de"] = "Yoga\nam Morgen" }, "title_de", "title_invalid"},
			{"title language", func(w *Workshop) { w.Title["fr"] = "Yoga" }, "title", "text_language_invalid"},
			{"description too long", func(w *Workshop) { w.Description["ar"] = strings.Repeat("ب", MaxDescriptionLen+1) }, "description_ar", "description_too_long"},
			{"control character", func(w *Workshop) { w.Description["de"] = "a\x00b" }, "description_de", "description_invalid"},
			{"topic", func(w *Workshop) { w.Topic = "dance" }, "topic", "topic_invalid"},
			{"no topic", func(w *Workshop) { w.Topic = "" }, "topic", "topic_invalid"},
			{"language", func(w *Workshop) { w.Language = "fr" }, "language", "workshop_language_invalid"},
			{"weekday", func(w *Workshop) { w.Weekday = 7 }, "weekday", "weekday_invalid"},
			{"start", func(w *Workshop) { w.Start = TimeOfDay{24, 0} }, "start", "start_invalid"},
			{"too short", func(w *Workshop) { w.Duration = 10 }, "duration", "duration_invalid"},
			{"too long", func(w *Workshop) { w.Duration = 241 }, "duration", "duration_invalid"},
			{"no first date", func(w *Workshop) { w.StartsOn = Date{} }, "starts_on", "starts_on_required"},
			{"impossible date", func(w *Workshop) { w.StartsOn = Date{2026, 2, 30} }, "starts_on", "date_invalid"},
			{"until before start", func(w *Workshop) { w.Until = date(t, "2026-02-01") }, "until", "until_before_start"},
			{"until before first date", func(w *Workshop) { w.StartsOn, w.Until = date(t, "2026-03-02"), date(t, "2026-03-07") }, "until", "until_before_start"},
			{"no trainer", func(w *Workshop) { w.TrainerID = " " }, "trainer_id", "trainer_required"},
			{"not a trainer", func(w *Workshop) { w.TrainerID = "participant" }, "trainer_id", "trainer_invalid"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := sample(t)
				tc.change(&w)
				_, err := s.Create(ctx, w)
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field != tc.field || ie.Code != tc.code {
					t.Fatalf("got %v, want %s/%s", err, tc.field, tc.code)
				}
			})
		}
		// The limits themselves are allowed.
		w := sample(t)
		w.Title["ru"] = strings.Repeat("ж", MaxTitleLen)
		w.Description["ar"] = strings.Repeat("ب", MaxDescriptionLen)
		w.Duration, w.Until = MaxDuration, date(t, "2026-03-08")
		if _, err := s.Create(ctx, w); err != nil {
			t.Fatal(err)
		}
		moves := []struct {
			m    Move
			code string
		}{
			{Move{Start: TimeOfDay{9, 0}}, "date_invalid"},
			{Move{Date: date(t, "2026-03-09"), Start: TimeOfDay{9, 60}}, "start_invalid"},
			{Move{Date: date(t, "2026-03-09"), Start: TimeOfDay{9, 0}, Duration: 5}, "duration_invalid"},
		}
		for _, tc := range moves {
			var ie *InputError
			if _, err := s.MoveDate(ctx, "x", date(t, "2026-03-08"), tc.m); !errors.As(err, &ie) || ie.Code != tc.code {
				t.Errorf("move %+v: %v, want %s", tc.m, err, tc.code)
			}
		}
		if _, err := s.Update(ctx, Workshop{ID: "missing"}); err == nil {
			t.Fatal("update of an invalid, missing workshop succeeded")
		}
		ok := sample(t)
		ok.ID = "missing"
		if _, err := s.Update(ctx, ok); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a missing workshop: %v", err)
		}
	})
}

// parseICS decodes a feed with go-ical, a parser written elsewhere.
func parseICS(t *testing.T, b []byte) *ical.Calendar {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(b)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot read the feed: %v\n%s", err, b)
	}
	return cal
}

func TestICS(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		in := sample(t)
		in.Until = date(t, "2026-11-08")
		in.Description["de"] = "Zeile 1\nZeile 2, mit Komma; Semikolon und \\ Backslash"
		w, err := s.Create(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CancelDate(ctx, w.ID, date(t, "2026-03-29")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MoveDate(ctx, w.ID, date(t, "2026-10-25"), Move{Date: date(t, "2026-10-26"), Start: TimeOfDay{17, 0}, Duration: 45}); err != nil {
			t.Fatal(err)
		}
		other := sample(t)
		other.Title = map[string]string{"ru": "Расслабление"}
		other.Topic, other.Language, other.Weekday, other.Start = TopicRelaxation, "ru", time.Wednesday, TimeOfDay{18, 15}
		if _, err := s.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		all, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		feed := ICS(all, "en", "https://portalo.example")
		if !bytes.Equal(feed, ICS(all, "en", "https://portalo.example")) {
			t.Fatal("the feed is not deterministic")
		}
		for i, l := range strings.Split(strings.TrimSuffix(string(feed), "\r\n"), "\r\n") {
			if strings.ContainsAny(l, "\r\n") || len(l) > 75 || !utf8.ValidString(l) {
				t.Fatalf("line %d is not a proper content line: %q", i+1, l)
			}
		}
		cal := parseICS(t, feed)
		for _, p := range []string{"PRODID", "VERSION", "CALSCALE", "METHOD", "X-WR-CALNAME"} {
			if cal.Props.Get(p) == nil {
				t.Errorf("calendar lacks %s", p)
			}
		}
		if v := cal.Props.Get("VERSION").Value; v != "2.0" {
			t.Errorf("VERSION %s", v)
		}
		var tz *ical.Component
		for _, c := range cal.Children {
			if c.Name == ical.CompTimezone {
				tz = c
			}
		}
		if tz == nil || tz.Props.Get(ical.PropTimezoneID).Value != "Europe/Berlin" || len(tz.Children) != 2 {
			t.Fatalf("VTIMEZONE missing or incomplete: %+v", tz)
		}
		events := cal.Events()
		if len(events) != 3 {
			t.Fatalf("%d events, want 3 (two workshops, one moved date)", len(events))
		}
		var master, moved *ical.Event
		for i, e := range events {
			uid, _ := e.Props.Text(ical.PropUID)
			if uid != w.ID+"@portalo" {
				continue
			}
			if e.Props.Get(ical.PropRecurrenceID) != nil {
				moved = &events[i]
			} else {
				master = &events[i]
			}
		}
		if master == nil || moved == nil {
			t.Fatal("workshop or its moved date missing")
		}
		if title, _ := master.Props.Text(ical.PropSummary); title != "Morning yoga" {
			t.Errorf("SUMMARY %q", title)
		}
		// The description only exists in German: the fallback, unescaped
		// back to the original.
		if desc, _ := master.Props.Text(ical.PropDescription); desc != in.Description["de"] {
			t.Errorf("DESCRIPTION %q", desc)
		}
		if u := master.Props.Get(ical.PropURL); u == nil || u.Value != "https://portalo.example/workshops" {
			t.Errorf("URL %+v", u)
		}
		if d, err := master.Props.Get(ical.PropDuration).Duration(); err != nil || d != time.Hour {
			t.Errorf("DURATION %s %v", d, err)
		}
		start := master.Props.Get(ical.PropDateTimeStart)
		if start.Params.Get(ical.ParamTimezoneID) != "Europe/Berlin" || start.Value != "20260301T100000" {
			t.Errorf("DTSTART %+v", start)
		}
		rule := master.Props.Get(ical.PropRecurrenceRule).Value
		if rule != "FREQ=WEEKLY;BYDAY=SU;UNTIL=20261108T225959Z" {
			t.Errorf("RRULE %s", rule)
		}
		var exdates []string
		for _, p := range master.Props.Values(ical.PropExceptionDates) {
			exdates = append(exdates, p.Params.Get(ical.ParamTimezoneID)+":"+p.Value)
		}
		if got := strings.Join(exdates, " "); got != "Europe/Berlin:20260329T100000 Europe/Berlin:20261025T100000" {
			t.Errorf("EXDATE %s", got)
		}
		rid := moved.Props.Get(ical.PropRecurrenceID)
		if rid.Params.Get(ical.ParamTimezoneID) != "Europe/Berlin" || rid.Value != "20261025T100000" {
			t.Errorf("RECURRENCE-ID %+v", rid)
		}
		if st, err := moved.DateTimeStart(nil); err != nil || !st.Equal(utc(t, "2026-10-26T16:00:00Z")) {
			t.Errorf("moved DTSTART %s %v", st, err)
		}
		if d, _ := moved.Props.Get(ical.PropDuration).Duration(); d != 45*time.Minute {
			t.Errorf("moved DURATION %s", d)
		}

		// Expanding the rule gives 10:00 Berlin time on every Sunday, across
		// both changes of the clocks, without the cancelled and moved dates.
		set, err := master.RecurrenceSet(nil)
		if err != nil || set == nil {
			t.Fatalf("recurrence set: %v", err)
		}
		got := set.Between(utc(t, "2026-03-20T00:00:00Z"), utc(t, "2026-04-10T00:00:00Z"), true)
		want := []time.Time{utc(t, "2026-03-22T09:00:00Z"), utc(t, "2026-04-05T08:00:00Z")}
		if !sameInstants(got, want) {
			t.Errorf("spring: got %v, want %v", got, want)
		}
		got = set.Between(utc(t, "2026-10-10T00:00:00Z"), utc(t, "2026-12-31T00:00:00Z"), true)
		want = []time.Time{utc(t, "2026-10-11T08:00:00Z"), utc(t, "2026-10-18T08:00:00Z"), utc(t, "2026-11-01T09:00:00Z"), utc(t, "2026-11-08T09:00:00Z")}
		if !sameInstants(got, want) {
			t.Errorf("autumn: got %v, want %v", got, want)
		}
		// The service agrees with the expanded feed.
		occs, err := s.Occurrences(ctx, utc(t, "2026-10-10T00:00:00Z"), utc(t, "2026-12-31T00:00:00Z"), Filter{Topic: TopicMovement})
		if err != nil {
			t.Fatal(err)
		}
		var live []time.Time
		for _, o := range occs {
			if !o.Moved && !o.Cancelled {
				live = append(live, o.Start)
			}
		}
		if !sameInstants(live, want) {
			t.Errorf("service: %v, feed: %v", live, want)
		}
	})
}

func sameInstants(a, b []time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func TestICSFoldingAndEscaping(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ar := strings.Repeat("تمارين التنفس والاسترخاء، للجميع؛ ", 12)
	ru := strings.Repeat("Дыхательные упражнения, расслабление; для всех. ", 10)
	w := Workshop{
		ID:          "abc",
		Title:       map[string]string{"ar": strings.Repeat("استرخاء ", 14), "ru": strings.Repeat("Расслабление ", 9)},
		Description: map[string]string{"ar": ar + "\n" + `\`, "ru": ru},
		Topic:       TopicRelaxation, Language: "ar", TrainerID: trainer,
		Weekday: time.Friday, Start: TimeOfDay{9, 30}, Duration: 60,
		StartsOn: Date{2026, 5, 1}, UpdatedAt: now,
	}
	for _, lang := range []string{"ar", "ru", "en", ""} {
		t.Run(cmpOr(lang, "none"), func(t *testing.T) {
			feed := ICS([]Workshop{w}, lang, "http://x")
			if !bytes.HasSuffix(feed, []byte("END:VCALENDAR\r\n")) || bytes.Contains(bytes.ReplaceAll(feed, []byte("\r\n"), nil), []byte("\n")) {
				t.Fatal("lines do not all end with CRLF")
			}
			folded := 0
			for _, l := range strings.Split(strings.TrimSuffix(string(feed), "\r\n"), "\r\n") {
				if len(l) > 75 {
					t.Fatalf("line of %d octets: %q", len(l), l)
				}
				if !utf8.ValidString(l) {
					t.Fatalf("folding split a character: %q", l)
				}
				if strings.HasPrefix(l, " ") {
					folded++
				}
			}
			if folded < 10 {
				t.Fatalf("only %d continuation lines", folded)
			}
			ev := parseICS(t, feed).Events()
			if len(ev) != 1 {
				t.Fatalf("%d events", len(ev))
			}
			wantLang := map[string]string{"ar": "ar", "ru": "ru", "en": "ar", "": "ar"}[lang]
			title, _ := ev[0].Props.Text(ical.PropSummary)
			desc, _ := ev[0].Props.Text(ical.PropDescription)
			if title != w.Title[wantLang] || desc != w.Description[wantLang] {
				t.Fatalf("texts in %s not read back unchanged:\n%q\n%q", wantLang, title, desc)
			}
			if p := ev[0].Props.Get(ical.PropSummary); p.Params.Get("LANGUAGE") != wantLang {
				t.Fatalf("SUMMARY LANGUAGE %q", p.Params.Get("LANGUAGE"))
			}
		})
	}
	if got := icaltext.EscapeText("a,b;c\\d\r\ne\x07f\tg"); got != `a\,b\;c\\d\ne`+"f\tg" {
		t.Fatalf("escapeText: %q", got)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestDatesAndTimes(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"2026-03-29", true}, {"2026-02-29", false}, {"2026-3-1", false}, {"", false}, {"29.03.2026", false},
	}
	for _, tc := range cases {
		if _, err := ParseDate(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseDate(%q): %v", tc.in, err)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{{"10:00", true}, {"23:59", true}, {"24:00", false}, {"9:5", false}, {"10:00:00", false}} {
		if _, err := ParseTimeOfDay(tc.in); (err == nil) != tc.ok {
			t.Errorf("ParseTimeOfDay(%q): %v", tc.in, err)
		}
	}
	d := Date{2026, 12, 31}
	if d.AddDays(1) != (Date{2027, 1, 1}) || d.Weekday() != time.Thursday || d.String() != "2026-12-31" {
		t.Fatalf("date arithmetic: %v %v %v", d.AddDays(1), d.Weekday(), d)
	}
	// Berlin is there even without the system's zoneinfo (time/tzdata).
	if Berlin.String() != "Europe/Berlin" {
		t.Fatal(Berlin)
	}
}

// TestUnassignTrainer: deleting a trainer's account (the BeforeDelete hook)
// leaves their workshops running without a trainer, touches no one else's,
// and can run again; such a workshop can be edited without a trainer until
// it gets another one, after which it cannot lose it again.
func TestUnassignTrainer(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clock := utc(t, "2026-03-02T08:00:00Z")
		s := New(store, Options{
			IsTrainer: func(_ context.Context, id string) (bool, error) { return id == trainer || id == "trainer2", nil },
			Now:       func() time.Time { return clock },
		})
		mk := func(trainerID, title string) Workshop {
			t.Helper()
			in := sample(t)
			in.TrainerID, in.Title = trainerID, map[string]string{"de": title}
			w, err := s.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		a, b, other := mk(trainer, "A"), mk(trainer, "B"), mk("trainer2", "C")
		if _, err := s.CancelDate(ctx, a.ID, date(t, "2026-03-08")); err != nil {
			t.Fatal(err)
		}
		before, err := s.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}

		clock = clock.Add(time.Hour)
		for _, id := range []string{"", "nobody", "trainer2:"} {
			if err := s.UnassignTrainer(ctx, id); err != nil {
				t.Fatalf("unassign %q: %v", id, err)
			}
		}
		if err := s.UnassignTrainer(ctx, trainer); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			id, trainer string
			updated     bool
		}{{a.ID, "", true}, {b.ID, "", true}, {other.ID, "trainer2", false}}
		for _, tc := range cases {
			got, err := s.Get(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if got.TrainerID != tc.trainer || got.UpdatedAt.Equal(clock) != tc.updated {
				t.Errorf("%s: trainer %q, updated %s", got.Title["de"], got.TrainerID, got.UpdatedAt)
			}
		}
		// Everything else about the workshop stays: schedule, exceptions.
		after, err := s.Get(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		after.TrainerID, after.UpdatedAt = before.TrainerID, before.UpdatedAt
		if ab, bb := mustJSON(t, after), mustJSON(t, before); ab != bb {
			t.Errorf("workshop changed beyond its trainer:\n%s\n%s", ab, bb)
		}
		occs, err := s.Occurrences(ctx, utc(t, "2026-03-07T00:00:00Z"), utc(t, "2026-03-16T00:00:00Z"), Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var gotOccs []string
		for _, o := range occs {
			gotOccs = append(gotOccs, fmt.Sprintf("%s %s %v", o.Workshop.Title["de"], o.Date, o.Cancelled))
		}
		slices.Sort(gotOccs) // same start: the order is by (random) ID
		want := "A 2026-03-08 true,A 2026-03-15 false,B 2026-03-08 false,B 2026-03-15 false,C 2026-03-08 false,C 2026-03-15 false"
		if strings.Join(gotOccs, ",") != want {
			t.Errorf("occurrences %v, want %s", gotOccs, want)
		}
		// Again: nothing left to do, nothing changes.
		clock = clock.Add(time.Hour)
		if err := s.UnassignTrainer(ctx, trainer); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, b.ID); got.UpdatedAt.Equal(clock) {
			t.Error("a second run rewrote a workshop")
		}

		// Editing a workshop without trainer keeps it without one; once it
		// has one again, it cannot be saved without.
		after.Title["en"] = "A in English"
		after.TrainerID = " "
		if got, err := s.Update(ctx, after); err != nil || got.TrainerID != "" || got.Title["en"] != "A in English" {
			t.Fatalf("edit without trainer: %v %+v", err, got)
		}
		var ie *InputError
		if _, err := s.Update(ctx, Workshop{ID: other.ID, Title: other.Title, Topic: other.Topic, Language: other.Language,
			Weekday: other.Weekday, Start: other.Start, StartsOn: other.StartsOn}); !errors.As(err, &ie) || ie.Code != "trainer_required" {
			t.Fatalf("dropping a trainer by an edit: %v", err)
		}
		after.TrainerID = "participant"
		if _, err := s.Update(ctx, after); !errors.As(err, &ie) || ie.Code != "trainer_invalid" {
			t.Fatalf("assigning a non-trainer: %v", err)
		}
		after.TrainerID = "trainer2"
		if got, err := s.Update(ctx, after); err != nil || got.TrainerID != "trainer2" {
			t.Fatalf("assigning a new trainer: %v %+v", err, got)
		}
		after.TrainerID = ""
		if _, err := s.Update(ctx, after); !errors.As(err, &ie) || ie.Code != "trainer_required" {
			t.Fatalf("dropping the new trainer: %v", err)
		}
		if got, _ := s.Get(ctx, other.ID); got.TrainerID != "trainer2" {
			t.Fatalf("refused edit changed the workshop: %+v", got)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
