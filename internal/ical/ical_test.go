package ical

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`a,b;c\d`, `a\,b\;c\\d`},
		{"one\r\ntwo\nthree", `one\ntwo\nthree`},
		{"bell\x07tab\tdel\x7f", "belltab\tdel"},
		{"يوغا، الصباح؛", "يوغا، الصباح؛"}, // Arabic comma and semicolon are not ASCII: kept
	} {
		if got := EscapeText(tc.in); got != tc.want {
			t.Errorf("EscapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLineFolding(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"short", "SUMMARY:x"},
		{"exactly 75", "X:" + strings.Repeat("a", 73)},
		{"ascii", "DESCRIPTION:" + strings.Repeat("abcdefghij", 30)},
		{"arabic", "SUMMARY;LANGUAGE=ar:" + strings.Repeat("استرخاء ", 30)},
		{"four-byte", "SUMMARY:" + strings.Repeat("😀", 50)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w Writer
			w.Line(tc.in)
			out := w.String()
			if !strings.HasSuffix(out, "\r\n") {
				t.Fatalf("no CRLF at the end: %q", out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
			var unfolded strings.Builder
			for i, l := range lines {
				if len(l) > MaxLine {
					t.Errorf("line %d has %d octets", i, len(l))
				}
				if !utf8.ValidString(l) {
					t.Errorf("line %d splits a character: %q", i, l)
				}
				if i > 0 {
					if !strings.HasPrefix(l, " ") {
						t.Fatalf("continuation line %d without leading space: %q", i, l)
					}
					l = l[1:]
				}
				unfolded.WriteString(l)
			}
			if unfolded.String() != tc.in {
				t.Fatalf("unfolding does not give the input back:\n%q\n%q", unfolded.String(), tc.in)
			}
			if len(tc.in) <= MaxLine && len(lines) != 1 {
				t.Fatalf("a line of %d octets was folded", len(tc.in))
			}
		})
	}
}

func TestUTC(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	if got := UTC(time.Date(2026, 6, 1, 10, 30, 5, 999, berlin)); got != "20260601T083005Z" {
		t.Fatal(got)
	}
}
