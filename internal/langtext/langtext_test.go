package langtext

import (
	"maps"
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	title := Rules{Field: "title", MaxRunes: 5, OneLine: true, Required: true}
	desc := Rules{Field: "description", MaxRunes: 10}
	bytes := Rules{Field: "description", MaxBytes: 4}
	for _, tt := range []struct {
		name      string
		rules     Rules
		in        map[string]string
		want      map[string]string
		wantField string
		wantCode  string
	}{
		{"trimmed, empty dropped", desc, map[string]string{"de": "  Yoga\r\nheute ", "en": " \t "}, map[string]string{"de": "Yoga\nheute"}, "", ""},
		{"none is nil", desc, map[string]string{"de": "", "tr": "  "}, nil, "", ""},
		{"nil is nil", desc, nil, nil, "", ""},
		{"all five languages", title, map[string]string{"de": "a", "en": "b", "tr": "c", "ru": "д", "ar": "ه"}, map[string]string{"de": "a", "en": "b", "tr": "c", "ru": "д", "ar": "ه"}, "", ""},
		{"unknown language", desc, map[string]string{"fr": "Yoga"}, nil, "description", "text_language_invalid"},
		{"unknown language, own code", Rules{Field: "title", UnknownLanguage: "language_invalid"}, map[string]string{"": "x"}, nil, "title", "language_invalid"},
		{"control character", desc, map[string]string{"ru": "a\x07b"}, nil, "description_ru", "description_invalid"},
		{"lone carriage return", desc, map[string]string{"ru": "a\rb"}, nil, "description_ru", "description_invalid"},
		{"invalid UTF-8", desc, map[string]string{"tr": "a\xffb"}, nil, "description_tr", "description_invalid"},
		{"line break in a description", desc, map[string]string{"de": "a\n\tb"}, map[string]string{"de": "a\n\tb"}, "", ""},
		{"line break in a title", title, map[string]string{"de": "a\nb"}, nil, "title_de", "title_invalid"},
		{"tab in a title", title, map[string]string{"en": "a\tb"}, nil, "title_en", "title_invalid"},
		{"line break and too long", title, map[string]string{"en": "abc\ndefgh"}, nil, "title_en", "title_invalid"},
		{"at most MaxRunes runes", title, map[string]string{"ru": "жжжжж"}, map[string]string{"ru": "жжжжж"}, "", ""},
		{"more than MaxRunes runes", title, map[string]string{"ru": "жжжжжж"}, nil, "title_ru", "title_too_long"},
		{"at most MaxBytes bytes", bytes, map[string]string{"ar": "هه"}, map[string]string{"ar": "هه"}, "", ""},
		{"more than MaxBytes bytes", bytes, map[string]string{"ar": "ههه"}, nil, "description_ar", "description_too_long"},
		{"required and none", title, map[string]string{"de": " "}, nil, "title", "title_required"},
		{"required and nil", title, nil, nil, "title", "title_required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, p := Clean(tt.in, tt.rules)
			if tt.wantCode != "" {
				if p == nil || p.Field != tt.wantField || p.Code != tt.wantCode {
					t.Fatalf("Clean(%q) = %q, %+v; want problem %s/%s", tt.in, got, p, tt.wantField, tt.wantCode)
				}
				return
			}
			if p != nil {
				t.Fatalf("Clean(%q): %+v", tt.in, p)
			}
			if !maps.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Clean(%q) = %#v; want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOK(t *testing.T) {
	for _, tt := range []struct {
		s           string
		ok, oneLine bool
	}{
		{"Atemübungen", true, true},
		{"Здоровый сон", true, true},
		{"a\nb", true, false},
		{"a\tb", true, false},
		{"a\rb", false, false},
		{"a\x00b", false, false},
		{"a\u0085b", false, false}, // NEL is a control character
		{"a\xffb", false, false},
		{"", true, true},
	} {
		if got := OK(tt.s); got != tt.ok {
			t.Errorf("OK(%q) = %v; want %v", tt.s, got, tt.ok)
		}
		if got := OneLine(tt.s); got != tt.oneLine {
			t.Errorf("OneLine(%q) = %v; want %v", tt.s, got, tt.oneLine)
		}
	}
}

func TestPick(t *testing.T) {
	m := map[string]string{"en": "Sleep", "ru": "Сон", "ar": "النوم", "tr": ""}
	for _, tt := range []struct {
		langs          []string
		text, language string
	}{
		{[]string{"ru"}, "Сон", "ru"},
		{[]string{"tr", "ar"}, "النوم", "ar"}, // an empty text is skipped
		{[]string{"de"}, "Sleep", "en"},       // then the order of Languages
		{[]string{"fr", "", "de", "tr"}, "Sleep", "en"},
		{nil, "Sleep", "en"},
	} {
		text, lang := Pick(m, tt.langs...)
		if text != tt.text || lang != tt.language {
			t.Errorf("Pick(%v) = %q, %q; want %q, %q", tt.langs, text, lang, tt.text, tt.language)
		}
	}
	if text, lang := Pick(map[string]string{"fr": "Sommeil"}, "fr"); text != "Sommeil" || lang != "fr" {
		t.Errorf("Pick of a language asked for = %q, %q", text, lang)
	}
	if text, lang := Pick(map[string]string{"fr": "Sommeil"}); text != "" || lang != "" {
		t.Errorf("Pick of no known language = %q, %q", text, lang)
	}
}

func TestValid(t *testing.T) {
	for _, code := range []string{"de", "en", "tr", "ru", "ar"} {
		if !Valid(code) {
			t.Errorf("Valid(%q) = false", code)
		}
	}
	for _, code := range []string{"", "fr", "DE", "de-DE", strings.Repeat("de", 2)} {
		if Valid(code) {
			t.Errorf("Valid(%q) = true", code)
		}
	}
}
