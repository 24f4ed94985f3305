package catalog

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// MaxSlugLen is the longest slug, in bytes.
const MaxSlugLen = 80

// ValidSlug reports whether s is a slug: lowercase ASCII letters and
// digits in words joined by single hyphens, at most MaxSlugLen bytes.
func ValidSlug(s string) bool {
	if s == "" || len(s) > MaxSlugLen || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
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

// slugOrder is the order in which titles are tried for a slug: Latin
// scripts first, Cyrillic is transliterated, Arabic titles give no slug.
var slugOrder = []string{"en", "de", "tr", "ru", "ar"}

// deriveSlug makes a slug from the first title that yields one, or from the
// kind and ID when none does.
func deriveSlug(title map[string]string, kind Kind, id string) string {
	for _, l := range slugOrder {
		if s := slugify(title[l], l); s != "" {
			return s
		}
	}
	return slugify(string(kind)+" "+id, "en")
}

var cyrillic = map[rune]string{
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e", 'ж': "zh",
	'з': "z", 'и': "i", 'й': "y", 'к': "k", 'л': "l", 'м': "m", 'н': "n", 'о': "o",
	'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u", 'ф': "f", 'х': "kh", 'ц': "ts",
	'ч': "ch", 'ш': "sh", 'щ': "shch", 'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "yu",
	'я': "ya",
}

// slugify turns a title in lang into a slug, or "" when nothing of it can
// be written in ASCII.
func slugify(title, lang string) string {
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
		switch r {
		case 'ı':
			r = 'i'
		case '٠', '١', '٢', '٣', '٤', '٥', '٦', '٧', '٨', '٩':
			r = '0' + r - '٠'
		case '۰', '۱', '۲', '۳', '۴', '۵', '۶', '۷', '۸', '۹':
			r = '0' + r - '۰'
		case 'ß':
			emit("ss")
			continue
		case '\'', '’': // "don't" → "dont"
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
	s := b.String()
	for len(s) > MaxSlugLen {
		i := strings.LastIndexByte(s[:MaxSlugLen+1], '-')
		if i <= 0 {
			s = strings.TrimRight(s[:MaxSlugLen], "-")
			break
		}
		s = s[:i]
	}
	return s
}
