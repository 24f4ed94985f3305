package courses

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"portalo/internal/ical"
)

// ICS returns course c as an iCalendar object (RFC 5545, METHOD:PUBLISH)
// with one event per session. Each event's UID is stable per course and
// session index; start and end are in UTC; SUMMARY and DESCRIPTION are in
// lang where the course has them (see TitleIn), LOCATION is the address or
// "Online", URL is courseURL (the course's page). The online URL is never
// included: it is only for booked people. DTSTAMP is the course's last
// change, so the output depends only on its inputs; SEQUENCE is its
// Revision, so that calendar apps take an update or a cancellation over
// the entry they have.
func ICS(c Course, lang, courseURL string) []byte {
	prodLang := lang
	if !ValidLanguage(prodLang) {
		prodLang = "de"
	}
	title, titleLang := c.TitleIn(lang)
	desc, descLang := c.DescriptionIn(lang)
	location := "Online"
	if c.Format == FormatOnsite && c.Address != "" {
		location = c.Address
	}
	status := "CONFIRMED"
	if c.Cancelled {
		status = "CANCELLED"
	}
	courseURL = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return -1
		}
		return r
	}, courseURL)

	var w ical.Writer
	w.Line("BEGIN:VCALENDAR")
	w.Line("VERSION:2.0")
	w.Line("PRODID:-//portalo//courses//" + strings.ToUpper(prodLang))
	w.Line("CALSCALE:GREGORIAN")
	w.Line("METHOD:PUBLISH")
	if title != "" {
		w.Line("X-WR-CALNAME:" + ical.EscapeText(title))
	}
	for i, s := range c.Sessions {
		summary := title
		if len(c.Sessions) > 1 {
			summary = fmt.Sprintf("%s (%d/%d)", title, i+1, len(c.Sessions))
		}
		w.Line("BEGIN:VEVENT")
		w.Line(fmt.Sprintf("UID:course-%s-%d@portalo", ical.EscapeText(c.ID), i+1))
		w.Line("DTSTAMP:" + ical.UTC(c.Updated))
		w.Line("SEQUENCE:" + strconv.Itoa(max(c.Revision, 0)))
		w.Line("DTSTART:" + ical.UTC(s.Start))
		w.Line("DTEND:" + ical.UTC(s.End))
		w.Line("SUMMARY" + langParam(titleLang) + ":" + ical.EscapeText(summary))
		if desc != "" {
			w.Line("DESCRIPTION" + langParam(descLang) + ":" + ical.EscapeText(desc))
		}
		w.Line("LOCATION:" + ical.EscapeText(location))
		if courseURL != "" {
			w.Line("URL:" + courseURL)
		}
		w.Line("STATUS:" + status)
		w.Line("END:VEVENT")
	}
	w.Line("END:VCALENDAR")
	return w.Bytes()
}

func langParam(lang string) string {
	if lang == "" {
		return ""
	}
	return ";LANGUAGE=" + lang
}
