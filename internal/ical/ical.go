// Package ical owns the text rules of iCalendar (RFC 5545) that every
// calendar feed of portalo follows: content lines folded at 75 octets
// without splitting a UTF-8 character and ended by CRLF, TEXT values
// escaped, and the date-time formats. What goes into a calendar is the
// business of the packages that write one (workshops, courses).
package ical

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"
)

// Date-time layouts (RFC 5545 3.3.5) for time.Format: LocalFormat for a
// floating or TZID-qualified time, UTCFormat for a time in UTC (format
// t.UTC() with it, or use UTC).
const (
	LocalFormat = "20060102T150405"
	UTCFormat   = "20060102T150405Z"
)

// UTC formats t as a UTC date-time, e.g. "20260301T090000Z".
func UTC(t time.Time) string { return t.UTC().Format(UTCFormat) }

// MaxLine is the longest a content line may be, in octets, without its
// CRLF (RFC 5545 3.1).
const MaxLine = 75

// EscapeText escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon
// and comma get a backslash, line breaks become \n; tabs are kept and
// other control characters, which a content line may not hold, are
// dropped.
func EscapeText(s string) string {
	var b strings.Builder
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			// not allowed in a content line
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Writer collects content lines, each folded at MaxLine octets (never
// inside a UTF-8 sequence) and ended by CRLF. Its zero value is ready to
// use; Bytes returns what was written.
type Writer struct {
	bytes.Buffer
}

// Line writes one content line. s must not contain line breaks (escape
// TEXT values with EscapeText).
func (w *Writer) Line(s string) {
	limit := MaxLine
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.WriteString(s[:cut])
		w.WriteString("\r\n ")
		s = s[cut:]
		// A continuation line starts with a space, which counts.
		limit = MaxLine - 1
	}
	w.WriteString(s)
	w.WriteString("\r\n")
}
