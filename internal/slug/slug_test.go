package slug

import (
	"strings"
	"testing"
)

func TestMake(t *testing.T) {
	catalog := Maker{Max: 80, ArabicDigits: true}
	podcasts := Maker{Max: 80}
	for _, tt := range []struct {
		name        string
		m           Maker
		lang, title string
		want        string
	}{
		{"German umlauts spelt out", catalog, "de", "Atemübungen gegen Stress", "atemuebungen-gegen-stress"},
		{"German capital umlaut", catalog, "de", "Ärger im Büro", "aerger-im-buero"},
		{"umlauts only spelt out in German", catalog, "en", "Atemübungen", "atemubungen"},
		{"ß and dash", catalog, "de", "Große Straße – 5 Minuten!", "grosse-strasse-5-minuten"},
		{"Turkish dotless and dotted i", catalog, "tr", "Işık ve İyi Uyku", "isik-ve-iyi-uyku"},
		{"Turkish cedilla, breve, apostrophe", catalog, "tr", "Çağrı'nın Öğünü", "cagrinin-ogunu"},
		{"Russian", catalog, "ru", "Здоровый сон: йога и чай", "zdorovyy-son-yoga-i-chay"},
		{"Russian hard and soft signs", podcasts, "ru", "Объявление: Мать и дочь", "obyavlenie-mat-i-doch"},
		{"Russian ё, щ, ю", podcasts, "ru", "Ёлка, щука, юла", "elka-shchuka-yula"},
		{"Arabic only", catalog, "ar", "الصحة النفسية", ""},
		{"Arabic only, podcasts", podcasts, "ar", "الصحة النفسية", ""},
		{"Arabic-Indic digits written", catalog, "ar", "يوغا Yoga ٢", "yoga-2"},
		{"Eastern Arabic-Indic digits written", catalog, "ar", "درس ۱۲ Lesson", "12-lesson"},
		{"Arabic-Indic digits part words", podcasts, "ar", "Yoga ٢ Pilates", "yoga-pilates"},
		{"Arabic-Indic digits dropped", podcasts, "ar", "يوغا Yoga ٢", "yoga"},
		{"apostrophes and repeated separators", catalog, "en", "  Don't panic --- it's OK  ", "dont-panic-its-ok"},
		{"accents dropped", podcasts, "en", "Café Crème", "cafe-creme"},
		{"decomposed accents", podcasts, "en", "Cafe\u0301", "cafe"},
		{"empty", catalog, "de", "", ""},
		{"punctuation only", catalog, "en", "!!! --- ???", ""},
		{"long title cut at a word", catalog, "en", strings.Repeat("abcdefghi ", 20), strings.TrimSuffix(strings.Repeat("abcdefghi-", 8), "-")},
		{"long word cut hard", podcasts, "en", strings.Repeat("a", 100), strings.Repeat("a", 80)},
		{"short maximum", Maker{Max: 10}, "de", "Gesundheit für alle", "gesundheit"},
		{"short maximum at a hyphen", Maker{Max: 12}, "de", "Gesundheit für alle", "gesundheit"},
		{"short maximum inside the first word", Maker{Max: 4}, "de", "Gesundheit für alle", "gesu"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.Make(tt.title, tt.lang)
			if got != tt.want {
				t.Errorf("Make(%q, %s) = %q; want %q", tt.title, tt.lang, got, tt.want)
			}
			if got != "" && !Valid(got, tt.m.Max) {
				t.Errorf("Make(%q, %s) = %q is not a valid slug", tt.title, tt.lang, got)
			}
		})
	}
}

func TestFromTitles(t *testing.T) {
	m := Maker{Max: 80}
	for _, tt := range []struct {
		titles map[string]string
		want   string
	}{
		{map[string]string{"de": "Schlaf", "en": "Sleep", "ru": "Сон"}, "sleep"},
		{map[string]string{"de": "Schlaf", "tr": "Uyku"}, "schlaf"},
		{map[string]string{"en": "!!!", "tr": "Uyku", "ru": "Сон"}, "uyku"},
		{map[string]string{"ar": "النوم", "ru": "Сон"}, "son"},
		{map[string]string{"ar": "النوم"}, ""},
		{map[string]string{"fr": "Sommeil"}, ""},
		{nil, ""},
	} {
		if got := m.FromTitles(tt.titles); got != tt.want {
			t.Errorf("FromTitles(%v) = %q; want %q", tt.titles, got, tt.want)
		}
	}
}

func TestTrim(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly-ten", 11, "exactly-ten"},
		{"one-two-three", 7, "one-two"},
		{"one-two-three", 8, "one-two"},
		{"one-two-three", 6, "one"},
		{"onetwothree", 5, "onetw"},
		{"abcd-efgh", 5, "abcd"},
		{"abcd-efgh", 4, "abcd"},
		{"-abcdef", 3, "-ab"}, // no hyphen after the first byte: cut hard
	} {
		if got := Trim(tt.s, tt.max); got != tt.want {
			t.Errorf("Trim(%q, %d) = %q; want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "yoga-2": true, "a-b-c": true, "": false, "-a": false, "a-": false,
		"a--b": false, "A": false, "ä": false, "a_b": false, "a/b": false, "a b": false,
		strings.Repeat("a", 80): true, strings.Repeat("a", 81): false,
	} {
		if Valid(s, 80) != want {
			t.Errorf("Valid(%q, 80) = %v; want %v", s, !want, want)
		}
	}
}
