package catalog

import (
	"mime"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portalo/internal/langtext"
	"portalo/store/blob"
)

// Limits on an item.
const (
	MaxTitleLen        = 200  // runes
	MaxDescriptionLen  = 5000 // runes
	MaxStatusDetailLen = 1000 // runes
	MaxDuration        = 24 * time.Hour
	MaxSeason          = 9999
	MaxEpisodeNumber   = 99999
	MaxDocVersionLen   = 32 // runes
	maxIDLen           = 64
	maxRoleLen         = 32
	maxFilesPerVersion = 100
)

// validID reports whether id can name an item: lowercase ASCII letters,
// digits and inner hyphens, at most 64 bytes. New items get random IDs;
// others (demo content placed in the bucket) may use readable ones.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLen || id[0] == '-' || id[len(id)-1] == '-' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeMeta checks what an editor wrote and returns it cleaned up.
// An empty slug stays empty (the caller derives or keeps one).
func normalizeMeta(m Meta) (Meta, error) {
	switch {
	case m.Kind == "":
		return Meta{}, inputErr("kind", "kind_required")
	case !ValidKind(m.Kind):
		return Meta{}, inputErr("kind", "kind_invalid")
	}
	var p *langtext.Problem
	if m.Title, p = langtext.Clean(m.Title, langtext.Rules{Field: "title", MaxRunes: MaxTitleLen, OneLine: true, Required: true, UnknownLanguage: "language_invalid"}); p != nil {
		return Meta{}, inputErr(p.Field, p.Code)
	}
	if m.Description, p = langtext.Clean(m.Description, langtext.Rules{Field: "description", MaxRunes: MaxDescriptionLen, UnknownLanguage: "language_invalid"}); p != nil {
		return Meta{}, inputErr(p.Field, p.Code)
	}
	m.Slug = strings.ToLower(strings.TrimSpace(m.Slug))
	switch {
	case len(m.Slug) > MaxSlugLen:
		return Meta{}, inputErr("slug", "slug_too_long")
	case m.Slug != "" && !ValidSlug(m.Slug):
		return Meta{}, inputErr("slug", "slug_invalid")
	case m.Topic == "":
		return Meta{}, inputErr("topic", "topic_required")
	case !ValidTopic(m.Topic):
		return Meta{}, inputErr("topic", "topic_invalid")
	case m.Audience == "":
		return Meta{}, inputErr("audience", "audience_required")
	case !ValidAudience(m.Audience):
		return Meta{}, inputErr("audience", "audience_invalid")
	}
	if m.Kind != KindEpisode {
		m.Series, m.Season, m.Number, m.Explicit = "", 0, 0, false
	}
	if m.Kind != KindDocument {
		m.Category, m.DocVersion = "", ""
	}
	m.Series = strings.TrimSpace(m.Series)
	m.DocVersion = strings.TrimSpace(m.DocVersion)
	switch {
	case m.Series != "" && !ValidSeriesID(m.Series):
		return Meta{}, inputErr("series", "series_invalid")
	case m.Season < 0 || m.Season > MaxSeason:
		return Meta{}, inputErr("season", "season_invalid")
	case m.Number < 0 || m.Number > MaxEpisodeNumber:
		return Meta{}, inputErr("number", "number_invalid")
	case m.Category != "" && !ValidDocumentCategory(m.Category):
		return Meta{}, inputErr("category", "category_invalid")
	case !utf8.ValidString(m.DocVersion) || strings.ContainsFunc(m.DocVersion, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }):
		return Meta{}, inputErr("doc_version", "doc_version_invalid")
	case utf8.RuneCountInString(m.DocVersion) > MaxDocVersionLen:
		return Meta{}, inputErr("doc_version", "doc_version_too_long")
	}
	return m, nil
}

// validFileKey reports whether key may be one of the files of the item
// with id: a valid object key under its prefix, neither the manifest nor
// the deletion marker.
func validFileKey(id, key string) bool {
	return blob.ValidKey(key) && strings.HasPrefix(key, Prefix(id)) && key != ManifestKey(id) && key != deletingKey(id)
}

// validRole reports whether role is a lowercase word: a letter, then
// letters, digits or hyphens, at most 32 bytes.
func validRole(role string) bool {
	if role == "" || len(role) > maxRoleLen || role[0] < 'a' || role[0] > 'z' {
		return false
	}
	for i := 0; i < len(role); i++ {
		c := role[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// normalizeMedia checks what the processing step reports for the item with
// id and returns it cleaned up: versions without files and empty subtitle
// keys are dropped.
func normalizeMedia(id string, m Media) (Media, error) {
	if m.Duration < 0 || m.Duration > MaxDuration {
		return Media{}, inputErr("duration", "duration_invalid")
	}
	m.Duration = m.Duration.Truncate(time.Millisecond) // the manifest's precision
	if m.Poster != "" && !validFileKey(id, m.Poster) {
		return Media{}, inputErr("poster", "key_invalid")
	}
	if m.Chapters != "" && !validFileKey(id, m.Chapters) {
		return Media{}, inputErr("chapters", "key_invalid")
	}
	var versions map[string]Version
	for lang, v := range m.Versions {
		if !ValidLanguage(lang) {
			return Media{}, inputErr("versions", "language_invalid")
		}
		if len(v.Files) == 0 {
			continue
		}
		field := "versions_" + lang
		if len(v.Files) > maxFilesPerVersion {
			return Media{}, inputErr(field, "too_many_files")
		}
		seen := make(map[string]bool, len(v.Files))
		for _, f := range v.Files {
			switch {
			case !validFileKey(id, f.Key):
				return Media{}, inputErr(field, "key_invalid")
			case seen[f.Key]:
				return Media{}, inputErr(field, "key_duplicate")
			case !validRole(f.Role):
				return Media{}, inputErr(field, "role_invalid")
			case f.Size < 0:
				return Media{}, inputErr(field, "size_invalid")
			}
			if f.ContentType != "" {
				if _, _, err := mime.ParseMediaType(f.ContentType); err != nil {
					return Media{}, inputErr(field, "content_type_invalid")
				}
			}
			seen[f.Key] = true
		}
		if versions == nil {
			versions = map[string]Version{}
		}
		versions[lang] = v
	}
	m.Versions = versions
	var subs map[string]string
	for lang, key := range m.Subtitles {
		if !ValidLanguage(lang) {
			return Media{}, inputErr("subtitles", "language_invalid")
		}
		if key == "" {
			continue
		}
		if !validFileKey(id, key) {
			return Media{}, inputErr("subtitles_"+lang, "key_invalid")
		}
		if subs == nil {
			subs = map[string]string{}
		}
		subs[lang] = key
	}
	m.Subtitles = subs
	return m, nil
}
