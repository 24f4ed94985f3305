package workshops

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	"portalo/internal/ical"
)

// calendarNames name the feed in each language (X-WR-CALNAME).
var calendarNames = map[string]string{
	"de": "portalo – Live-Workshops",
	"en": "portalo – live workshops",
	"tr": "portalo – Canlı atölyeler",
	"ru": "portalo – онлайн-семинары",
	"ar": "portalo – ورش عمل مباشرة",
}

// berlinTimezone describes Europe/Berlin with the EU rules in force since
// 1996: summer time from the last Sunday of March, 02:00, to the last
// Sunday of October, 03:00.
var berlinTimezone = []string{
	"BEGIN:VTIMEZONE",
	"TZID:Europe/Berlin",
	"X-LIC-LOCATION:Europe/Berlin",
	"BEGIN:DAYLIGHT",
	"TZOFFSETFROM:+0100",
	"TZOFFSETTO:+0200",
	"TZNAME:CEST",
	"DTSTART:19700329T020000",
	"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
	"END:DAYLIGHT",
	"BEGIN:STANDARD",
	"TZOFFSETFROM:+0200",
	"TZOFFSETTO:+0100",
	"TZNAME:CET",
	"DTSTART:19701025T030000",
	"RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
	"END:STANDARD",
	"END:VTIMEZONE",
}

var icsDays = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// ICS returns the workshops as an iCalendar feed (RFC 5545): one weekly
// recurring event per workshop in Europe/Berlin time, cancelled and moved
// dates excluded from the rule, and each moved date as an event of its own
// with the same UID and a RECURRENCE-ID. Texts are in lang where the
// workshop has them. baseURL (without a trailing slash) is where the
// schedule page lives. The output depends only on its inputs (DTSTAMP is
// the workshop's last change), so it can be compared and cached.
func ICS(workshops []Workshop, lang string, baseURL string) []byte {
	ws := append([]Workshop(nil), workshops...)
	sort.Slice(ws, func(i, j int) bool { return ws[i].ID < ws[j].ID })
	name := calendarNames[lang]
	if name == "" {
		name = calendarNames["de"]
	}
	var b ical.Writer
	b.Line("BEGIN:VCALENDAR")
	b.Line("VERSION:2.0")
	b.Line("PRODID:-//portalo//workshops//" + strings.ToUpper(cmp.Or(lang, "de")))
	b.Line("CALSCALE:GREGORIAN")
	b.Line("METHOD:PUBLISH")
	b.Line("X-WR-CALNAME:" + ical.EscapeText(name))
	b.Line("X-WR-TIMEZONE:Europe/Berlin")
	for _, l := range berlinTimezone {
		b.Line(l)
	}
	url := strings.TrimRight(baseURL, "/") + "/workshops"
	for _, w := range ws {
		first := w.FirstDate()
		if first.IsZero() {
			continue
		}
		title, titleLang := w.TitleIn(lang)
		desc, descLang := w.DescriptionIn(lang)
		common := func(start time.Time, minutes int) {
			b.Line("DTSTART;TZID=Europe/Berlin:" + start.In(Berlin).Format(ical.LocalFormat))
			b.Line(fmt.Sprintf("DURATION:PT%dM", minutes))
			b.Line("SUMMARY;LANGUAGE=" + titleLang + ":" + ical.EscapeText(title))
			if desc != "" {
				b.Line("DESCRIPTION;LANGUAGE=" + descLang + ":" + ical.EscapeText(desc))
			}
			b.Line("CATEGORIES:" + ical.EscapeText(string(w.Topic)))
			b.Line("URL:" + url)
		}
		uid := "UID:" + ical.EscapeText(w.ID) + "@portalo"
		stamp := "DTSTAMP:" + ical.UTC(w.UpdatedAt)

		b.Line("BEGIN:VEVENT")
		b.Line(uid)
		b.Line(stamp)
		start, _ := startOn(first, w.Start, w.Duration)
		common(start, w.Duration)
		rule := "RRULE:FREQ=WEEKLY;BYDAY=" + icsDays[w.Weekday]
		if !w.Until.IsZero() {
			// With a TZID start, UNTIL must be in UTC (RFC 5545 3.3.10):
			// the end of the last day in Berlin.
			end := time.Date(w.Until.Year, w.Until.Month, w.Until.Day, 23, 59, 59, 0, Berlin)
			rule += ";UNTIL=" + ical.UTC(end)
		}
		b.Line(rule)
		for _, d := range exceptionDates(w) {
			t, _ := startOn(d, w.Start, w.Duration)
			b.Line("EXDATE;TZID=Europe/Berlin:" + t.Format(ical.LocalFormat))
		}
		b.Line("END:VEVENT")

		for _, d := range exceptionDates(w) {
			ex := w.Exceptions[d]
			if ex.Cancelled {
				continue
			}
			orig, _ := startOn(d, w.Start, w.Duration)
			moved, _ := startOn(ex.Date, ex.Start, ex.Duration)
			b.Line("BEGIN:VEVENT")
			b.Line(uid)
			b.Line(stamp)
			b.Line("RECURRENCE-ID;TZID=Europe/Berlin:" + orig.Format(ical.LocalFormat))
			common(moved, ex.Duration)
			b.Line("END:VEVENT")
		}
	}
	b.Line("END:VCALENDAR")
	return b.Bytes()
}

// exceptionDates returns the regular dates of w that are cancelled or
// moved, sorted.
func exceptionDates(w Workshop) []Date {
	var out []Date
	for d := range w.Exceptions {
		if w.Scheduled(d) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}
