package catalog

import (
	"slices"
	"strings"
	"testing"
)

func TestFold(t *testing.T) {
	for _, tt := range []struct {
		lang, in, want string
	}{
		// German: case, umlauts, ß.
		{"de", "Ärzte", "arzte"},
		{"de", "ÖL und Übung", "ol und ubung"},
		{"de", "Straße", "strasse"},
		{"de", "STRASSE", "strasse"},
		{"de", "GROẞ", "gross"},
		{"de", "A\u0308rzte", "arzte"}, // decomposed ä
		// Turkish: İ, I, ı and i are one letter; ç, ğ, ş lose their marks.
		{"tr", "İSTANBUL", "istanbul"},
		{"tr", "ISTANBUL", "istanbul"},
		{"tr", "ıstanbul", "istanbul"},
		{"tr", "Işık", "isik"},
		{"tr", "IŞIK", "isik"},
		{"tr", "Çağrı Şeker Öğün", "cagri seker ogun"},
		// Russian: case, ё = е, й stays й.
		{"ru", "Ёлка", "елка"},
		{"ru", "ЁЖИК", "ежик"},
		{"ru", "ЙОГА и чай", "йога и чай"},
		{"ru", "Здоровый СОН", "здоровый сон"},
		// Arabic: harakat, tatweel, alef forms, alef maksura, teh marbuta, digits.
		{"ar", "الصِّحَّةُ", "الصحه"},
		{"ar", "صـــحة", "صحه"},
		{"ar", "أحمد", "احمد"},
		{"ar", "إسترخاء", "استرخاء"},
		{"ar", "آمن", "امن"},
		{"ar", "ٱلرحمن", "الرحمن"},
		{"ar", "مستشفى", "مستشفي"},
		{"ar", "مدرسة", "مدرسه"},
		{"ar", "مُدَرِّبَة", "مدربه"},
		{"ar", "٢٠٢٦ ۳", "2026 3"},
		{"ar", "ﻻ", "لا"}, // presentation form of lam-alef
		// English and other Latin text: case and accents.
		{"en", "Sleep WELL", "sleep well"},
		{"en", "Café naïve", "cafe naive"},
		{"en", "", ""},
	} {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("%s: fold(%q) = %q; want %q", tt.lang, tt.in, got, tt.want)
		}
	}
}

// Spellings a reader takes for the same word fold to the same form.
func TestFoldEquivalent(t *testing.T) {
	for _, set := range [][]string{
		{"İstanbul", "ISTANBUL", "ıstanbul", "istanbul", "Istanbul"},
		{"Straße", "STRASSE", "strasse", "STRAẞE"},
		{"Ёжик", "ежик", "ЕЖИК", "ёжик"},
		{"أمن", "إمن", "آمن", "امن", "ٱمن"},
		{"مستشفى", "مستشفي"},
		{"صحة", "صحه", "صِحَّة", "صـحـة"},
		{"Übung", "ubung", "UBUNG", "U\u0308bung"},
	} {
		for _, s := range set[1:] {
			if fold(s) != fold(set[0]) {
				t.Errorf("fold(%q) = %q, fold(%q) = %q; want equal", s, fold(s), set[0], fold(set[0]))
			}
		}
	}
	// ... and different words stay different.
	for _, pair := range [][2]string{{"йога", "иога"}, {"sağ", "sak"}, {"اب", "ب"}} {
		if fold(pair[0]) == fold(pair[1]) {
			t.Errorf("fold(%q) = fold(%q) = %q; want different", pair[0], pair[1], fold(pair[0]))
		}
	}
}

func TestIndexTokens(t *testing.T) {
	for _, tt := range []struct {
		lang, in string
		want     []string // must all be among the tokens
		not      []string
	}{
		{"de", "Ärzte-Tipps für Straßen", []string{"arzte", "aerzte", "tipps", "fur", "fuer", "strassen"}, []string{"ärzte"}},
		{"tr", "İstanbul'da sağlık", []string{"istanbul", "da", "saglik"}, []string{"istanbul'da"}},
		{"ru", "Ёжик, сон и чай!", []string{"ежик", "сон", "и", "чай"}, []string{"ёжик"}},
		{"ar", "الصِّحَّةُ والنوم للجميع", []string{"الصحه", "صحه", "والنوم", "نوم", "للجميع", "جميع"}, []string{"ال"}},
		{"en", "Sleep, well: 5 tips", []string{"sleep", "well", "5", "tips"}, nil},
	} {
		got := indexTokens(nil, tt.in)
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("%s: tokens %q are not sorted and distinct", tt.lang, got)
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("%s: tokens of %q = %q; missing %q", tt.lang, tt.in, got, w)
			}
		}
		for _, w := range tt.not {
			if slices.Contains(got, w) {
				t.Errorf("%s: tokens of %q = %q; should not hold %q", tt.lang, tt.in, got, w)
			}
		}
	}
}

func TestQueryTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"  Stress  STRESS stress ", []string{"stress"}},
		{"İstanbul'da", []string{"da", "istanbul"}},
		{"!!! ...", nil},
		{"سُكَّر ، نوم", []string{"سكر", "نوم"}},
	} {
		if got := queryTokens(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("queryTokens(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestMatchesPrefix(t *testing.T) {
	toks := []string{"atem", "ubung", "uebung", "zeit"}
	for _, tt := range []struct {
		q    string
		want bool
	}{
		{"a", true}, {"atem", true}, {"atemx", false}, {"ub", true}, {"ue", true},
		{"z", true}, {"zeiten", false}, {"b", false}, {"", true},
	} {
		if got := matchesPrefix(toks, tt.q); got != tt.want {
			t.Errorf("matchesPrefix(%q) = %v; want %v", tt.q, got, tt.want)
		}
	}
	if matchesPrefix(nil, "a") {
		t.Error("matchesPrefix on no tokens matched")
	}
}

func TestSlugify(t *testing.T) {
	for _, tt := range []struct {
		lang, title, want string
	}{
		{"de", "Atemübungen gegen Stress", "atemuebungen-gegen-stress"},
		{"de", "Große Straße – 5 Minuten!", "grosse-strasse-5-minuten"},
		{"tr", "Işık ve İyi Uyku", "isik-ve-iyi-uyku"},
		{"tr", "Çağrı'nın Öğünü", "cagrinin-ogunu"},
		{"ru", "Здоровый сон: йога и чай", "zdorovyy-son-yoga-i-chay"},
		{"en", "  Don't panic --- it's OK  ", "dont-panic-its-ok"},
		{"ar", "الصحة النفسية", ""},
		{"ar", "يوغا Yoga ٢", "yoga-2"},
		{"en", "Café", "cafe"},
	} {
		got := slugs.Make(tt.title, tt.lang)
		if got != tt.want {
			t.Errorf("slugify(%q, %s) = %q; want %q", tt.title, tt.lang, got, tt.want)
		}
		if got != "" && !ValidSlug(got) {
			t.Errorf("slugify(%q) = %q is not a valid slug", tt.title, got)
		}
	}
	long := slugs.Make(strings.Repeat("abcdefghi ", 20), "en")
	if len(long) > MaxSlugLen || !ValidSlug(long) {
		t.Errorf("long title gave %q (%d bytes)", long, len(long))
	}
	if got := deriveSlug(map[string]string{"de": "Schlaf", "en": "Sleep"}, KindVideo, "abc"); got != "sleep" {
		t.Errorf("deriveSlug preferred %q over the English title", got)
	}
	if got := deriveSlug(map[string]string{"ar": "النوم"}, KindEpisode, "k2j4"); got != "episode-k2j4" {
		t.Errorf("deriveSlug of an Arabic title = %q; want episode-k2j4", got)
	}
}

func TestValidSlug(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "yoga-2": true, "a-b-c": true, "": false, "-a": false, "a-": false,
		"a--b": false, "A": false, "ä": false, "a_b": false, "a/b": false,
		strings.Repeat("a", MaxSlugLen): true, strings.Repeat("a", MaxSlugLen+1): false,
	} {
		if ValidSlug(s) != want {
			t.Errorf("ValidSlug(%q) = %v; want %v", s, !want, want)
		}
	}
}
