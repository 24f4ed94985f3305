// Package slug owns the slugs that name things in portalo's URLs:
// lowercase ASCII letters and digits in words joined by single hyphens,
// made from titles in the languages portalo speaks (German umlauts and ß
// spelt out, Turkish and Cyrillic letters transliterated, accents
// dropped; Arabic script gives nothing).
package slug

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Valid reports whether s is a slug of at most max bytes.
func Valid(s string, max int) bool {
	if s == "" || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Trim shortens a slug to at most max bytes, at a hyphen where it can.
func Trim(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if i := strings.LastIndexByte(s[:max+1], '-'); i > 0 {
		return s[:i]
	}
	return strings.TrimRight(s[:max], "-")
}

// Order is the order in which titles are tried for a slug: Latin scripts
// first, Cyrillic is transliterated, Arabic titles give no slug.
var Order = []string{"en", "de", "tr", "ru", "ar"}

// Maker makes slugs from titles.
type Maker struct {
	// Max is the longest slug, in bytes.
	Max int
	// ArabicDigits writes Arabic-Indic digits (٠–٩ and ۰–۹) as ASCII
	// digits; without it they part words like punctuation.
	ArabicDigits bool
}

var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh",
	'з': "z", 'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o",
	'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu",
	'я': "ya",
}

var umlauts = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue")

// Make turns a title in lang into a slug, or "" when nothing of it can be
// written in ASCII.
func (m Maker) Make(title, lang string) string {
	title = norm.NFC.String(title)
	if lang == "de" {
		title = umlauts.Replace(title)
	}
	var b strings.Builder
	hyphen := false // a hyphen is pending before the next letter
	emit := func(s string) {
		if s == "" {
			return
		}
		if hyphen && b.Len() > 0 {
			b.WriteByte('-')
		}
		hyphen = false
		b.WriteString(s)
	}
	for _, r := range title {
		r = unicode.ToLower(r)
		if t, ok := cyrillic[r]; ok {
			emit(t)
			continue
		}
		switch {
		case r == 'ı':
			r = 'i'
		case m.ArabicDigits && r >= '٠' && r <= '٩':
			r = '0' + r - '٠'
		case m.ArabicDigits && r >= '۰' && r <= '۹':
			r = '0' + r - '۰'
		case r == 'ß':
			emit("ss")
			continue
		case r == '\'' || r == '’': // "don't" → "dont"
			continue
		}
		for _, d := range norm.NFKD.String(string(r)) {
			switch {
			case d >= 'a' && d <= 'z' || d >= '0' && d <= '9':
				emit(string(d))
			case d >= 'A' && d <= 'Z':
				emit(string(d + 'a' - 'A'))
			case unicode.Is(unicode.Mn, d):
			default:
				hyphen = true
			}
		}
	}
	return Trim(b.String(), m.Max)
}

// FromTitles makes a slug from the first title, in Order, that gives one;
// "" when none does.
func (m Maker) FromTitles(titles map[string]string) string {
	for _, l := range Order {
		if s := m.Make(titles[l], l); s != "" {
			return s
		}
	}
	return ""
}
