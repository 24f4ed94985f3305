package catalog

import "portalo/internal/slug"

// MaxSlugLen is the longest slug, in bytes.
const MaxSlugLen = 80

// ValidSlug reports whether s is a slug: lowercase ASCII letters and
// digits in words joined by single hyphens, at most MaxSlugLen bytes.
func ValidSlug(s string) bool { return slug.Valid(s, MaxSlugLen) }

// slugs makes items' slugs from titles; Arabic-Indic digits become ASCII
// digits ("يوغا ٢" → "2").
var slugs = slug.Maker{Max: MaxSlugLen, ArabicDigits: true}

// deriveSlug makes a slug from the first title that yields one, or from the
// kind and ID when none does.
func deriveSlug(title map[string]string, kind Kind, id string) string {
	if s := slugs.FromTitles(title); s != "" {
		return s
	}
	return slugs.Make(string(kind)+" "+id, "en")
}
