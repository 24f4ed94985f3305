// Package i18n owns portalo's user-facing languages: which languages exist
// (German by default, English, Turkish, Russian and Arabic), which one a
// request gets, and the translated messages with their plural rules.
//
// Messages live in locales/FEATURE/LANG.toml (go-i18n format; one folder
// per feature, so features add their texts without touching each other's
// files) and are embedded in the binary. Problems lists every message that lacks a translation or a
// plural form in any language; a test keeps that list empty.
package i18n

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

//go:embed locales/*/*.toml
var localeFiles embed.FS

// Lang is a supported language.
type Lang struct {
	Code string // BCP 47 tag, e.g. "de"
	Name string // the language's own name, e.g. "Türkçe"
	Dir  string // "ltr" or "rtl"
}

// Languages are the supported languages, the default first.
var Languages = []Lang{
	{Code: "de", Name: "Deutsch", Dir: "ltr"},
	{Code: "en", Name: "English", Dir: "ltr"},
	{Code: "tr", Name: "Türkçe", Dir: "ltr"},
	{Code: "ru", Name: "Русский", Dir: "ltr"},
	{Code: "ar", Name: "العربية", Dir: "rtl"},
}

// Default is the language of anyone whose browser asks for none we have.
const Default = "de"

// Catalog holds the translated messages of every supported language.
type Catalog struct {
	bundle   *goi18n.Bundle
	matcher  language.Matcher
	messages map[string]map[string]*goi18n.Message // lang → id → message
}

// Load reads the embedded message files.
func Load() (*Catalog, error) {
	c := &Catalog{
		bundle:   goi18n.NewBundle(language.German),
		messages: map[string]map[string]*goi18n.Message{},
	}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	tags := make([]language.Tag, len(Languages))
	for i, l := range Languages {
		tags[i] = language.MustParse(l.Code)
		names, err := fs.Glob(localeFiles, "locales/*/"+l.Code+".toml")
		if err != nil || len(names) == 0 {
			return nil, fmt.Errorf("i18n: no message files for %s", l.Code)
		}
		byID := map[string]*goi18n.Message{}
		for _, name := range names {
			b, err := localeFiles.ReadFile(name)
			if err != nil {
				return nil, fmt.Errorf("i18n: reading %s: %w", name, err)
			}
			f, err := c.bundle.ParseMessageFileBytes(b, name)
			if err != nil {
				return nil, fmt.Errorf("i18n: parsing %s: %w", name, err)
			}
			for _, m := range f.Messages {
				if _, dup := byID[m.ID]; dup {
					return nil, fmt.Errorf("i18n: message %s is defined twice for %s (%s)", m.ID, l.Code, name)
				}
				byID[m.ID] = m
			}
		}
		c.messages[l.Code] = byID
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Lookup returns the supported language with code, if any.
func Lookup(code string) (Lang, bool) {
	for _, l := range Languages {
		if l.Code == code {
			return l, true
		}
	}
	return Lang{}, false
}

// Match picks the best supported language for an Accept-Language header.
func (c *Catalog) Match(acceptLanguage string) Lang {
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Languages[0]
	}
	_, idx, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Languages[0]
	}
	return Languages[idx]
}

// For returns a Localizer for the language with code (the default when code
// is not supported).
func (c *Catalog) For(code string) *Localizer {
	l, ok := Lookup(code)
	if !ok {
		l = Languages[0]
	}
	return &Localizer{Lang: l, loc: goi18n.NewLocalizer(c.bundle, l.Code, Default)}
}

// Problems lists, for every language, the messages of the default language
// it lacks, the plural forms its plural rules need but it lacks, and the
// messages it has that the default language does not. An empty list means
// every message is complete in every language.
func (c *Catalog) Problems() []string {
	var out []string
	base := c.messages[Default]
	for _, l := range Languages {
		msgs := c.messages[l.Code]
		for id, bm := range base {
			m, ok := msgs[id]
			if !ok {
				out = append(out, fmt.Sprintf("%s: missing %s", l.Code, id))
				continue
			}
			if !isPlural(bm) {
				if m.Other == "" {
					out = append(out, fmt.Sprintf("%s: %s is empty", l.Code, id))
				}
				continue
			}
			for _, form := range pluralForms(l.Code) {
				if formText(m, form) == "" {
					out = append(out, fmt.Sprintf("%s: %s lacks plural form %q", l.Code, id, form))
				}
			}
		}
		for id := range msgs {
			if _, ok := base[id]; !ok {
				out = append(out, fmt.Sprintf("%s: %s is not in the default language", l.Code, id))
			}
		}
	}
	sort.Strings(out)
	return out
}

// IDs returns the message IDs of the default language, sorted.
func (c *Catalog) IDs() []string {
	ids := make([]string, 0, len(c.messages[Default]))
	for id := range c.messages[Default] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func isPlural(m *goi18n.Message) bool {
	return m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != ""
}

func formText(m *goi18n.Message, form string) string {
	switch form {
	case "zero":
		return m.Zero
	case "one":
		return m.One
	case "two":
		return m.Two
	case "few":
		return m.Few
	case "many":
		return m.Many
	}
	return m.Other
}

// pluralForms returns the CLDR cardinal plural forms a language uses for
// whole numbers, found by asking CLDR's rules about 0 to 1000, plus "other",
// which go-i18n always needs (Russian uses it only for fractions).
func pluralForms(code string) []string {
	tag := language.MustParse(code)
	names := map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two", plural.Few: "few", plural.Many: "many", plural.Other: "other"}
	seen := map[string]bool{"other": true}
	for n := 0; n <= 1000; n++ {
		// i = n, and no visible fraction digits (v = w = f = t = 0).
		seen[names[plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)]] = true
	}
	var out []string
	for _, f := range []string{"zero", "one", "two", "few", "many", "other"} {
		if seen[f] {
			out = append(out, f)
		}
	}
	return out
}

// Localizer translates messages into one language.
type Localizer struct {
	Lang Lang
	loc  *goi18n.Localizer
}

// T returns the message id, with template data given as name/value pairs:
// T("Welcome", "Name", pseudonym). A message missing in the language falls
// back to German; an unknown id comes back as itself.
func (l *Localizer) T(id string, pairs ...any) string {
	return l.localize(id, nil, pairs)
}

// N returns the plural message id for count; {{.Count}} in the message is
// the count.
func (l *Localizer) N(id string, count int, pairs ...any) string {
	return l.localize(id, count, pairs)
}

func (l *Localizer) localize(id string, count any, pairs []any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(pairs); i += 2 {
		data[fmt.Sprint(pairs[i])] = pairs[i+1]
	}
	if count != nil {
		data["Count"] = count
	}
	s, err := l.loc.Localize(&goi18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil && s == "" {
		return id
	}
	return strings.TrimSpace(s)
}
