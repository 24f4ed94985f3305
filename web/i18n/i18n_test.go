package i18n

import (
	"strings"
	"testing"
)

func TestEveryMessageInEveryLanguage(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IDs()) < 50 {
		t.Fatalf("only %d messages loaded; the message files were not read", len(c.IDs()))
	}
	for _, p := range c.Problems() {
		t.Error(p)
	}
}

func TestProblemsFindsGaps(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	// Remove one message and one plural form: Problems must notice both.
	delete(c.messages["tr"], "NavHome")
	c.messages["ar"]["AdminAccountsCount"].Few = ""
	got := strings.Join(c.Problems(), "\n")
	for _, want := range []string{"tr: missing NavHome", `ar: AdminAccountsCount lacks plural form "few"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Problems() = %q, want it to contain %q", got, want)
		}
	}
}

func TestPluralForms(t *testing.T) {
	for _, tc := range []struct{ lang, want string }{
		{"de", "one other"},
		{"en", "one other"},
		{"tr", "one other"},
		{"ru", "one few many other"},
		{"ar", "zero one two few many other"},
	} {
		if got := strings.Join(pluralForms(tc.lang), " "); got != tc.want {
			t.Errorf("pluralForms(%s) = %q, want %q", tc.lang, got, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ header, want string }{
		{"", "de"},
		{"en-US,en;q=0.9", "en"},
		{"tr-TR", "tr"},
		{"ru", "ru"},
		{"ar-EG,ar;q=0.9,en;q=0.5", "ar"},
		{"fr-FR,fr;q=0.9", "de"},
		{"fr-FR,en;q=0.5", "en"},
		{"de-AT", "de"},
		{"garbage;;q=x", "de"},
	} {
		if got := c.Match(tc.header).Code; got != tc.want {
			t.Errorf("Match(%q) = %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestLocalize(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lang  string
		count int
		want  string
	}{
		{"en", 1, "1 account"},
		{"en", 5, "5 accounts"},
		{"de", 1, "1 Konto"},
		{"de", 2, "2 Konten"},
	} {
		if got := c.For(tc.lang).N("AdminAccountsCount", tc.count); got != tc.want {
			t.Errorf("%s N(%d) = %q, want %q", tc.lang, tc.count, got, tc.want)
		}
	}
	// Russian: 1 and 21 share a form, 2 and 3 another, 5 and 11 a third.
	ru := c.For("ru")
	if a, b := ru.N("AdminAccountsCount", 1), ru.N("AdminAccountsCount", 21); strings.TrimPrefix(a, "1") != strings.TrimPrefix(b, "21") {
		t.Errorf("ru: %q and %q should share the form 'one'", a, b)
	}
	if a, b := ru.N("AdminAccountsCount", 2), ru.N("AdminAccountsCount", 5); strings.TrimPrefix(a, "2") == strings.TrimPrefix(b, "5") {
		t.Errorf("ru: %q and %q should differ (few, many)", a, b)
	}
	if got := c.For("en").T("HomeWelcomeBack", "Name", "Ada"); got != "Good to see you again, Ada." {
		t.Errorf("T with data = %q", got)
	}
	if got := c.For("xx").Lang.Code; got != "de" {
		t.Errorf("unsupported language falls back to %s", got)
	}
	if got := c.For("en").T("NoSuchMessage"); got != "NoSuchMessage" {
		t.Errorf("unknown id = %q", got)
	}
	if c.For("ar").Lang.Dir != "rtl" || c.For("ru").Lang.Dir != "ltr" {
		t.Error("text direction wrong")
	}
}
