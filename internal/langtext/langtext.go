// Package langtext owns the texts portalo keeps per language — titles and
// descriptions keyed by language code: the five languages portalo speaks,
// picking a text with fallbacks, and cleaning and checking what an editor
// wrote.
//
// It knows no domain's error type: Clean reports a Problem (field and
// code) that each domain package turns into its own error.
package langtext

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Languages are the languages portalo speaks, in the order of fallback.
var Languages = []string{"de", "en", "tr", "ru", "ar"}

// Valid reports whether code is one of Languages.
func Valid(code string) bool { return slices.Contains(Languages, code) }

// OK reports whether s is valid UTF-8 without control characters other
// than line breaks and tabs.
func OK(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\t'
	})
}

// OneLine reports whether s is OK and has neither line breaks nor tabs.
func OneLine(s string) bool { return OK(s) && !strings.ContainsAny(s, "\n\t") }

// Pick returns the first non-empty text of m in langs, then in the order
// of Languages, and the language it is in; "" and "" when m has none.
func Pick(m map[string]string, langs ...string) (text, lang string) {
	for _, order := range [][]string{langs, Languages} {
		for _, l := range order {
			if v := m[l]; v != "" {
				return v, l
			}
		}
	}
	return "", ""
}

// Problem says which field of a request is wrong and why: Field is the
// field ("title") or, for one language's text, field_lang ("title_de");
// Code is a stable reason ("title_too_long").
type Problem struct {
	Field string
	Code  string
}

// Rules say what the texts of one field may be.
type Rules struct {
	// Field names the field ("title", "description") in a Problem and
	// starts its codes (Field+"_invalid", Field+"_too_long",
	// Field+"_required").
	Field string
	// MaxRunes and MaxBytes bound each text, counted in runes or in UTF-8
	// bytes; zero does not bound it.
	MaxRunes int
	MaxBytes int
	// OneLine refuses line breaks and tabs (for titles).
	OneLine bool
	// Required asks for at least one non-empty text.
	Required bool
	// UnknownLanguage is the code for a text keyed by a language not in
	// Languages; "text_language_invalid" when empty.
	UnknownLanguage string
}

// Clean trims the texts of one field (line breaks as "\n"), drops empty
// ones and checks their languages, characters and lengths. It returns nil
// for no texts, or the first Problem it finds.
func Clean(in map[string]string, r Rules) (map[string]string, *Problem) {
	var out map[string]string
	for lang, v := range in {
		if !Valid(lang) {
			code := r.UnknownLanguage
			if code == "" {
				code = "text_language_invalid"
			}
			return nil, &Problem{Field: r.Field, Code: code}
		}
		v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
		if !OK(v) || r.OneLine && !OneLine(v) {
			return nil, &Problem{Field: r.Field + "_" + lang, Code: r.Field + "_invalid"}
		}
		if r.MaxRunes > 0 && utf8.RuneCountInString(v) > r.MaxRunes || r.MaxBytes > 0 && len(v) > r.MaxBytes {
			return nil, &Problem{Field: r.Field + "_" + lang, Code: r.Field + "_too_long"}
		}
		if v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[lang] = v
		}
	}
	if r.Required && len(out) == 0 {
		return nil, &Problem{Field: r.Field, Code: r.Field + "_required"}
	}
	return out, nil
}
