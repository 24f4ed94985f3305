package catalog

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file holds the search form of text: fold makes two spellings that a
// reader takes for the same word equal, and the tokenisers split texts and
// queries into folded words.
//
// fold applies compatibility decomposition (NFKD), drops every combining
// mark (accents, umlaut dots, Arabic harakat and the hamza of أ إ آ ؤ ئ)
// and lowercases, plus:
//
//   - Turkish: İ, I, ı and i all become i.
//   - German: ß and ẞ become ss (ä becomes a with the marks; index tokens
//     also get an ae/oe/ue variant, so "aerzte" finds "Ärzte").
//   - Cyrillic: ё becomes е; й stays й.
//   - Arabic: tatweel is dropped, ٱ becomes ا, ى becomes ي, ة becomes ه,
//     Arabic-Indic digits become 0-9. Index tokens also get a variant
//     without the article (ال, وال, بال, كال, فال, لل), and a query token
//     with the article also matches without it (search.go).

const (
	combiningBreve = '\u0306'
	tatweel        = '\u0640'
)

// fold returns the search form of s.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	b := make([]byte, 0, len(s))
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r == 'ı':
			r = 'i'
		case r == 'ß' || r == 'ẞ':
			b = append(b, "ss"...)
			continue
		case r == combiningBreve && lastRune(b) == 'и':
			b = utf8.AppendRune(b[:len(b)-utf8.RuneLen('и')], 'й') // й decomposes to и + breve
			continue
		case r == tatweel:
			continue
		case r == 'ٱ':
			r = 'ا'
		case r == 'ى':
			r = 'ي'
		case r == 'ة':
			r = 'ه'
		case r >= '٠' && r <= '٩':
			r = '0' + (r - '٠')
		case r >= '۰' && r <= '۹':
			r = '0' + (r - '۰')
		case unicode.Is(unicode.Mn, r):
			continue
		}
		b = utf8.AppendRune(b, unicode.ToLower(r))
	}
	return string(b)
}

func lastRune(b []byte) rune {
	r, _ := utf8.DecodeLastRune(b)
	return r
}

// isWordRune reports whether r belongs to a word (of folded text).
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// isRawWordRune reports whether r belongs to a word of text before folding,
// where combining marks are still part of their letters.
func isRawWordRune(r rune) bool { return isWordRune(r) || unicode.Is(unicode.M, r) }

// appendWords appends the words of folded text to dst.
func appendWords(dst []string, folded string) []string {
	return append(dst, strings.FieldsFunc(folded, func(r rune) bool { return !isWordRune(r) })...)
}

// queryTokens returns the distinct folded words of a search query.
func queryTokens(q string) []string {
	toks := appendWords(nil, fold(q))
	slices.Sort(toks)
	return slices.Compact(toks)
}

// indexTokens returns the distinct folded words of text, sorted, with the
// variants described above, appended to dst (which it sorts as a whole).
func indexTokens(dst []string, text string) []string {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !isRawWordRune(r) }) {
		dst = appendWords(dst, fold(w))
		if alt, ok := expandUmlauts(w); ok {
			dst = appendWords(dst, fold(alt))
		}
	}
	n := len(dst)
	for _, t := range dst[:n] {
		if bare, ok := stripArabicArticle(t); ok {
			dst = append(dst, bare)
		}
	}
	slices.Sort(dst)
	return slices.Compact(dst)
}

var umlauts = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue")

// expandUmlauts spells ä, ö, ü as ae, oe, ue, and reports whether w had
// any.
func expandUmlauts(w string) (string, bool) {
	w = norm.NFC.String(w)
	if !strings.ContainsAny(w, "äöüÄÖÜ") {
		return "", false
	}
	return umlauts.Replace(w), true
}

// arabicArticles are the article and its common clitic combinations, longest
// first (folded forms).
var arabicArticles = []string{"وال", "بال", "كال", "فال", "لل", "ال"}

// stripArabicArticle returns the folded token t without a leading article,
// if what remains has at least two letters.
func stripArabicArticle(t string) (string, bool) {
	for _, a := range arabicArticles {
		if rest, ok := strings.CutPrefix(t, a); ok && utf8.RuneCountInString(rest) >= 2 {
			return rest, true
		}
	}
	return "", false
}
