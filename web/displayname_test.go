package web

import (
	"bytes"
	"encoding/json"
	stdhtml "html"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"portalo/web/i18n"
)

func TestRandomDisplayNameInEveryLanguage(t *testing.T) {
	for _, lang := range i18n.Languages {
		w, ok := displayNameWords[lang.Code]
		if !ok {
			t.Fatalf("%s: no word list", lang.Code)
		}
		if len(w.adjectives) < 20 || len(w.nouns) < 20 {
			t.Errorf("%s: %d adjectives × %d nouns, want at least 20 × 20", lang.Code, len(w.adjectives), len(w.nouns))
		}
		for _, list := range [][]string{w.adjectives, w.nouns} {
			seen := map[string]bool{}
			for _, word := range list {
				if seen[word] {
					t.Errorf("%s: %q twice", lang.Code, word)
				}
				seen[word] = true
				if word == "" || strings.TrimSpace(word) != word {
					t.Errorf("%s: bad word %q", lang.Code, word)
				}
			}
		}
		// Every combination fits the protocol's 1–40 characters.
		for _, a := range w.adjectives {
			for _, n := range w.nouns {
				if l := utf8.RuneCountInString(a + " " + n); l > 40 {
					t.Errorf("%s: %q %q is %d runes", lang.Code, a, n, l)
				}
			}
		}
		names := map[string]bool{}
		for range 200 {
			name := randomDisplayName(lang.Code)
			if l := utf8.RuneCountInString(name); l < 3 || l > 40 || !utf8.ValidString(name) {
				t.Fatalf("%s: %q has %d runes", lang.Code, name, l)
			}
			if strings.Count(name, " ") < 1 {
				t.Fatalf("%s: %q is not two words", lang.Code, name)
			}
			names[name] = true
		}
		// 200 draws from at least 400 names: a working random source
		// repeats little (the expected count of distinct names is > 130).
		if len(names) < 100 {
			t.Errorf("%s: only %d different names in 200 draws", lang.Code, len(names))
		}
	}
}

func TestRandomDisplayNameWordOrder(t *testing.T) {
	for range 50 {
		if name := randomDisplayName("ar"); !startsWithOneOf(name, displayNameWords["ar"].nouns) {
			t.Fatalf("ar: %q does not start with a noun", name)
		}
		if name := randomDisplayName("de"); !startsWithOneOf(name, displayNameWords["de"].adjectives) {
			t.Fatalf("de: %q does not start with an adjective", name)
		}
	}
	if name := randomDisplayName("xx"); !startsWithOneOf(name, displayNameWords["de"].adjectives) {
		t.Errorf("unknown language: %q is not German", name)
	}
}

func startsWithOneOf(name string, words []string) bool {
	for _, w := range words {
		if strings.HasPrefix(name, w+" ") {
			return true
		}
	}
	return false
}

// TestRoomStringsInEveryLanguage: every message room.js asks for exists
// (an unknown ID would come back as itself), placeholders arrive as {name}
// and {count}, and plural messages carry the forms of their language.
func TestRoomStringsInEveryLanguage(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	wantForms := map[string]string{"de": "one other", "en": "one other", "tr": "one other", "ru": "few many one", "ar": "few many one other two zero"}
	for _, lang := range i18n.Languages {
		s, err := roomStrings(cat.For(lang.Code))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(s), &got); err != nil {
			t.Fatalf("%s: %v", lang.Code, err)
		}
		for _, id := range roomJSMessages {
			var text string
			if err := json.Unmarshal(got[id], &text); err != nil || text == "" || text == id {
				t.Errorf("%s: %s = %q", lang.Code, id, text)
			}
			if strings.Contains(text, "{{") {
				t.Errorf("%s: %s keeps a template: %q", lang.Code, id, text)
			}
		}
		var joined string
		_ = json.Unmarshal(got["RoomJoinedBy"], &joined)
		if !strings.Contains(joined, "{name}") {
			t.Errorf("%s: RoomJoinedBy = %q, want a {name} placeholder", lang.Code, joined)
		}
		for _, id := range roomJSPlurals {
			var forms map[string]string
			if err := json.Unmarshal(got[id], &forms); err != nil {
				t.Fatalf("%s: %s: %v", lang.Code, id, err)
			}
			var keys []string
			for k, v := range forms {
				keys = append(keys, k)
				if v == "" || strings.Contains(v, "{{") {
					t.Errorf("%s: %s.%s = %q", lang.Code, id, k, v)
				}
			}
			if got := strings.Join(slices.Sorted(slices.Values(keys)), " "); got != wantForms[lang.Code] {
				t.Errorf("%s: %s forms %q, want %q", lang.Code, id, got, wantForms[lang.Code])
			}
			if lang.Code != "ar" && !strings.Contains(forms["other"]+forms["many"], "{count}") {
				t.Errorf("%s: %s lacks {count}: %v", lang.Code, id, forms)
			}
		}
	}
}

// TestRoomPageInEveryLanguage renders templates/room.html in every
// language, for a participant and a moderator: translated, the ids room.js
// and the browser tests rely on present, nothing inline that the CSP blocks.
func TestRoomPageInEveryLanguage(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/room.html")
	if err != nil {
		t.Fatal(err)
	}
	untranslatedRoom := regexp.MustCompile(`>Room[A-Z][A-Za-z]+<|"Room[A-Z][A-Za-z]+"`)
	inline := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|\son[a-z]+=|\sstyle=|javascript:`)
	ids := []string{"room", "lobby", "preview", "test-devices", "display-name", "audio-only", "join-button", "join-form",
		"room-main", "room-heading", "remote-video", "remote-audio", "room-status", "tap-to-hear", "poor-link",
		"poor-link-audio-only", "participants", "hand-button", "mic-button", "camera-button", "audio-only-button",
		"leave-button", "chat-log", "chat-form", "chat-input", "chat-send", "room-over"}
	for _, lang := range i18n.Languages {
		for _, mod := range []bool{false, true} {
			l := cat.For(lang.Code)
			strs, err := roomStrings(l)
			if err != nil {
				t.Fatal(err)
			}
			p := &page{L: l, Title: l.T("RoomPageTitle"), Path: "/workshops/x/room", Langs: i18n.Languages, AssetVersion: "test",
				FieldError: map[string]*problem{}, Form: map[string]string{},
				Data: roomView{RoomID: "r1", Title: `Yoga "am" <Morgen>`, WSPath: "/api/v1/rooms/r1/ws", DisplayName: randomDisplayName(lang.Code), Moderator: mod, StringsJSON: strs}}
			var buf bytes.Buffer
			if err := tpl.ExecuteTemplate(&buf, "layout", p); err != nil {
				t.Fatalf("%s: %v", lang.Code, err)
			}
			html := buf.String()
			if u := untranslatedRoom.FindString(html); u != "" {
				t.Errorf("%s: untranslated %s", lang.Code, u)
			}
			if m := inline.FindString(html); m != "" {
				t.Errorf("%s: inline script or style: %q", lang.Code, m)
			}
			for _, id := range ids {
				if !strings.Contains(html, `id="`+id+`"`) {
					t.Errorf("%s: no element #%s", lang.Code, id)
				}
			}
			if mod != strings.Contains(html, `id="end-button"`) {
				t.Errorf("%s moderator=%v: end button shown wrongly", lang.Code, mod)
			}
			if strings.Contains(html, "<Morgen>") {
				t.Errorf("%s: title not escaped", lang.Code)
			}
			if !strings.Contains(html, `dir="`+lang.Dir+`"`) || !strings.Contains(html, `src="/static/room.js?v=test" defer`) {
				t.Errorf("%s: layout or script tag wrong", lang.Code)
			}
			// The strings survive the attribute: unescaping gives the JSON back.
			m := regexp.MustCompile(`data-strings="([^"]*)"`).FindStringSubmatch(html)
			if m == nil || !json.Valid([]byte(stdhtml.UnescapeString(m[1]))) {
				t.Errorf("%s: data-strings is not JSON", lang.Code)
			}
		}
	}
}
